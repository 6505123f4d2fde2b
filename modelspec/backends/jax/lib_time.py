"""Runtime helpers for time models and the dynamics ops (copied into emitted modules).

Delayed values live in ring buffers ``[D, ...]`` (D the largest delay a source
is read with, from the time plan), read at the start of a step and written at
its end: step t writes slot ``t % D`` and reads slot ``(t - d) % D``, so a step
moves one slot of state, never the whole buffer.  A ring holds zeros until
written, which is what a read before t >= d must give.  (A source of depth 1 is
carried as its value alone; ``apply`` needs no helper for it.)  Interpolation reproduces PyTorch's index arithmetic (float32, the
same source-index formulas), so nearest resizing picks the same pixels.
"""

from __future__ import annotations

import math  # noqa: F401

import jax  # noqa: F401
import jax.numpy as jnp
import numpy as np
from jax import lax

from .lib_core import _conv


def _ring_read(buf, t, delay):
    """The value written ``delay`` steps before step t (zeros before anything was)."""
    return lax.dynamic_index_in_dim(buf, (t - delay) % buf.shape[0], 0, keepdims=False)


def _ring_write(buf, t, value):
    return lax.dynamic_update_index_in_dim(buf, value.astype(buf.dtype), t % buf.shape[0], 0)


def _ring_put(buf, t, value):
    """(the ring with ``value`` written at step t, ``value`` read back from it).

    Later uses take the value read back: given ``value`` itself, XLA recomputes a cheap
    one (an elementwise chain) inside each use, reading the old ring after the write, and
    then copies the whole ring every step to keep it.
    """
    buf = _ring_write(buf, t, value)
    if buf.dtype != value.dtype:
        return buf, value
    return buf, lax.dynamic_index_in_dim(buf, t % buf.shape[0], 0, keepdims=False)


def _euler(x, h, rate):
    """Leaky integrator h + (dt/tau) (x - h); ``rate`` is dt/tau."""
    return h + rate * (x - h)


# ---- interpolation -----------------------------------------------------------

def _resize_scale(n_in, n_out, scale, align_corners):
    """torch's area_pixel_compute_scale, in float32."""
    if align_corners:
        return np.float32((n_in - 1) / (n_out - 1)) if n_out > 1 else np.float32(0.0)
    if scale is not None and scale > 0:
        return np.float32(1.0 / scale)
    return np.float32(n_in) / np.float32(n_out)


def _nearest_index(n_in, n_out, scale):
    """torch's nearest: floor(out_index * in/out) in float32 (1/scale with a scale factor)."""
    if n_in == n_out:
        return np.arange(n_out)
    s = _resize_scale(n_in, n_out, scale, False)
    idx = np.floor(np.arange(n_out, dtype=np.float32) * s).astype(np.int64)
    return np.minimum(idx, n_in - 1)


def _resize_matrix(n_in, n_out, scale, mode, align_corners):
    """[n_out, n_in] weights of torch's linear or cubic (A = -0.75) resampling along one axis."""
    s = _resize_scale(n_in, n_out, scale, align_corners)
    dst = np.arange(n_out, dtype=np.float32)
    src = s * dst if align_corners else s * (dst + np.float32(0.5)) - np.float32(0.5)
    m = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    if mode == "linear":
        src = np.maximum(src, np.float32(0.0))
        i0 = src.astype(np.int64)
        lam = np.minimum(src - i0.astype(np.float32), np.float32(1.0))
        i1 = np.where(i0 < n_in - 1, i0 + 1, i0)
        np.add.at(m, (rows, i0), np.float32(1.0) - lam)
        np.add.at(m, (rows, i1), lam)
        return m
    a = np.float32(-0.75)
    i0 = np.floor(src).astype(np.int64)
    t = (src - np.floor(src)).astype(np.float32)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    coeffs = (far(t + 1), near(t), near(1 - t), far(2 - t))
    for k, c in enumerate(coeffs):
        np.add.at(m, (rows, np.clip(i0 - 1 + k, 0, n_in - 1)), c)
    return m


def _interpolate(x, size, scale=None, mode="nearest", align_corners=None, channels_last=False):
    """torch.nn.functional.interpolate over the spatial axes of [B, C, *spatial]
    ([B, *spatial, C] with ``channels_last``).

    ``size`` is the output size per axis; ``scale`` the scale factor per axis when
    the spec gave one (torch then maps indices with 1/scale, not in/out).
    """
    for i, n_out in enumerate(size):
        axis = (1 if channels_last else 2) + i
        n_in = x.shape[axis]
        s = None if scale is None else scale[i]
        if mode == "nearest":
            idx = _nearest_index(n_in, n_out, s)
            if n_in == n_out:
                continue
            if n_in % n_out == 0 and np.array_equal(idx, np.arange(n_out) * (n_in // n_out)):
                x = lax.slice_in_dim(x, 0, n_in, n_in // n_out, axis)  # every k-th: a strided slice
            elif n_out % n_in == 0 and np.array_equal(idx, np.arange(n_out) // (n_out // n_in)):
                x = jnp.repeat(x, n_out // n_in, axis=axis)
            else:
                x = jnp.take(x, jnp.asarray(idx), axis=axis)
            continue
        kind = "linear" if mode in ("linear", "bilinear") else "cubic"
        m = jnp.asarray(_resize_matrix(n_in, n_out, s, kind, bool(align_corners)), x.dtype)
        x = jnp.moveaxis(jnp.tensordot(x, m, axes=[[axis], [1]]), -1, axis)
    return x


# ---- DynVision's local recurrence --------------------------------------------

def _flip_odd_tiles(t):
    """Mirror tiles t[B, i, j, y, x]: along j where x is odd, along i where y is odd."""
    height, width = t.shape[-2:]
    odd_x = (np.arange(width) % 2 == 1).reshape(1, 1, 1, 1, width)
    odd_y = (np.arange(height) % 2 == 1).reshape(1, 1, 1, height, 1)
    t = jnp.where(odd_x, t[:, :, ::-1], t)
    return jnp.where(odd_y, t[:, ::-1], t)


def _local_recurrence(h, w, b):
    """One 1->1 conv (reflect padding) over the channel-tile sheet, gathered back.

    With s = ceil(sqrt(C)), channel c of pixel (y, x) sits at tile cell (c // s, c % s),
    tiles mirrored on odd columns and rows; a C short of s*s is padded with the
    channels C-1, C-2, ... and those are dropped again afterwards.
    """
    bsz, c, height, width = h.shape
    s = math.isqrt(c - 1) + 1 if c > 1 else 1
    extra = s * s - c
    if extra:
        h = jnp.concatenate([h, h[:, c - extra:][:, ::-1]], axis=1)
    t = _flip_odd_tiles(h.reshape(bsz, s, s, height, width))
    sheet = t.transpose(0, 3, 1, 4, 2).reshape(bsz, 1, height * s, width * s)
    k = w.shape[-1]
    sheet = _conv(sheet, w, b, padding=[(k // 2, k // 2)] * 2, padding_mode="reflect")
    t = sheet.reshape(bsz, height, s, width, s).transpose(0, 2, 4, 1, 3)
    return _flip_odd_tiles(t).reshape(bsz, s * s, height, width)[:, :c]

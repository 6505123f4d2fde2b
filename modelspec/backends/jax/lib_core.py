"""Runtime helpers copied verbatim into emitted JAX modules: init, dense, conv, pool, norm.

Every top-level function here whose name starts with ``_`` is a *helper*: the
emitter copies the source of each helper an emitted module calls (and of the
helpers those call) into that module, so a generated file imports only jax,
numpy and math.  Helpers therefore use only the names ``jax``, ``jnp``,
``lax``, ``np``, ``math`` and other helpers.  Semantics follow PyTorch exactly
(layouts NCHW / OIHW, torch's padding and pooling rules).
"""

from __future__ import annotations

import math  # noqa: F401 - helpers may use it; the emitted module imports it

import jax
import jax.numpy as jnp
import numpy as np  # noqa: F401 - helpers may use it; the emitted module imports it
from jax import lax


# ---- dense -------------------------------------------------------------------

def _linear(x, w, b=None):
    """x W^T + b over the last axis; W is torch's [out, in].

    One dot_general contracting x's last axis with W's axis 1: XLA:CPU copies the
    transposed weight on every call when written ``x @ w.T`` (a fifth of a small MLP).
    When the batch is small beside the weight, XLA:CPU's matmul is slow in that form
    and fast as W x^T, so that is computed and its small [out, B] result transposed;
    the optimisation barrier keeps XLA from rewriting it back (`bench/bench_linear.py`, one
    core: forward 0.5x-0.7x of the time for batch 8-32 at 784->256, forward+backward
    0.8x-1.0x).
    """
    n = x.shape[0] if x.ndim == 2 else None
    if isinstance(n, int) and 8 <= n and 4 * n <= min(w.shape):
        y = lax.optimization_barrier(lax.dot_general(w, x, (((1,), (1,)), ((), ())))).T
    else:
        y = lax.dot_general(x, w, (((x.ndim - 1,), (1,)), ((), ())))
    return y if b is None else y + b


def _embedding(idx, w):
    return jnp.take(w, idx.astype(jnp.int32), axis=0)


# ---- convolution -------------------------------------------------------------

def _channels_last(w, lanes=None):
    """A conv weight OI* -> *IO (OIHW -> HWIO); ``lanes``: zero filters appended up to that
    many outputs (XLA:CPU is slow at output channel counts that are not a multiple of 8;
    `_conv`'s ``out`` cuts them off again)."""
    w = jnp.transpose(w, (*range(2, w.ndim), 1, 0))
    if lanes is None or lanes == w.shape[-1]:
        return w
    return jnp.pad(w, [(0, 0)] * (w.ndim - 1) + [(0, lanes - w.shape[-1])])


def _conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros", hwio=False,
          channels_last=False, out=None):
    """torch.nn.functional.conv{1,2,3}d on NC* inputs (N*C with ``channels_last``) and
    OI* weights (*IO with ``hwio``).

    ``padding`` is an int or a (low, high) pair per spatial axis.  The convolution
    itself runs channels-last (explicit transposes around it on NC* inputs): XLA:CPU
    runs an NCHW convolution inside a loop body (our time scan) over ten times slower
    than outside one (jax-ml/jax#12868), while channels-last is fast in both places and
    XLA folds the transposes away in straight-line code.  The emitted code passes
    weights already laid out (``_channels_last``, hoisted out of the time loop).
    ``out``: the first that many output channels are kept (the weight has zero filters
    after them, `_channels_last`'s ``lanes``); the cut fuses into the bias add.
    """
    n = x.ndim - 2
    if isinstance(padding, int):
        padding = [(padding, padding)] * n
    stride = (stride,) * n if isinstance(stride, int) else tuple(stride)
    dilation = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
    if padding_mode != "zeros":
        mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[padding_mode]
        pads = [(0, 0), *padding, (0, 0)] if channels_last else [(0, 0), (0, 0), *padding]
        x = jnp.pad(x, pads, mode=mode)
        padding = [(0, 0)] * n
    dims = {1: ("NWC", "WIO", "NWC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NDHWC", "DHWIO", "NDHWC")}[n]
    if not channels_last:
        x = jnp.transpose(x, (0, *range(2, n + 2), 1))
    y = lax.conv_general_dilated(x, w if hwio else _channels_last(w), stride, padding,
                                 rhs_dilation=dilation, dimension_numbers=dims, feature_group_count=groups)
    if out is not None and out != y.shape[-1]:
        y = y[..., :out]
    if channels_last:
        return y if b is None else y + b
    y = jnp.transpose(y, (0, n + 1, *range(1, n + 1)))
    return y if b is None else y + b.reshape((1, -1) + (1,) * n)


def _conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), output_padding=(0, 0),
                      dilation=(1, 1), groups=1):
    """torch.nn.functional.conv_transpose2d: a dilated-input convolution with the flipped kernel
    (channels-last inside, as in `_conv`).  torch's weight is [in, out/groups, kh, kw]."""
    c_in, c_out_g, kh, kw = w.shape
    w = w.reshape(groups, c_in // groups, c_out_g, kh, kw).transpose(0, 2, 1, 3, 4)
    w = w.reshape(groups * c_out_g, c_in // groups, kh, kw)[:, :, ::-1, ::-1]
    pads = []
    for k, p, op, d in zip((kh, kw), padding, output_padding, dilation):
        lo = d * (k - 1) - p
        pads.append((lo, lo + op))
    y = lax.conv_general_dilated(jnp.transpose(x, (0, 2, 3, 1)), jnp.transpose(w, (2, 3, 1, 0)), (1, 1), pads,
                                 lhs_dilation=stride, rhs_dilation=dilation,
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups)
    y = jnp.transpose(y, (0, 3, 1, 2))
    return y if b is None else y + b.reshape(1, -1, 1, 1)


# ---- pooling -----------------------------------------------------------------

def _pool_pads(size, kernel, stride, padding, dilation, ceil_mode):
    """(low, high) padding per spatial axis, plus the extra right padding ceil_mode needs."""
    pads, extra = [], []
    for n, k, s, p, d in zip(size, kernel, stride, padding, dilation):
        span = d * (k - 1) + 1
        out = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:
            out -= 1
        need = (out - 1) * s + span - (n + 2 * p)
        pads.append((p, p + max(need, 0)))
        extra.append(max(need, 0))
    return pads, extra


def _window(spatial, other, channels_last):
    """A per-axis window argument: ``other`` on the batch and channel axes, ``spatial`` between."""
    return (other, *spatial, other) if channels_last else (other, other, *spatial)


def _max_pool2d(x, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False, channels_last=False):
    """torch's max_pool2d over [B, C, H, W] ([B, H, W, C] with ``channels_last``):
    padding counts as -inf, so it never wins.

    A running maximum over the kernel's strided slices, which XLA:CPU fuses into one
    loop (under half the time of ``lax.reduce_window``); a tie keeps the earlier
    element and a NaN wins, as in torch, so gradients go where torch sends them.
    """
    axes = (1, 2) if channels_last else (2, 3)
    size = [x.shape[a] for a in axes]
    pads, _ = _pool_pads(size, kernel, stride, padding, dilation, ceil_mode)
    widths = [(0, 0)] * x.ndim
    for a, p in zip(axes, pads):
        widths[a] = p
    x = jnp.pad(x, widths, constant_values=-jnp.inf)
    out = [(n + lo + hi - d * (k - 1) - 1) // s + 1
           for n, (lo, hi), k, s, d in zip(size, pads, kernel, stride, dilation)]
    y = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            start, limit, strides = [0] * x.ndim, list(x.shape), [1] * x.ndim
            for a, first, n, s in zip(axes, (i * dilation[0], j * dilation[1]), out, stride):
                start[a], limit[a], strides[a] = first, first + (n - 1) * s + 1, s
            v = lax.slice(x, start, limit, strides)
            y = v if y is None else jnp.where((v > y) | jnp.isnan(v), v, y)
    return y


def _avg_pool2d(x, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True, channels_last=False):
    """torch's avg_pool2d over [B, C, H, W] ([B, H, W, C] with ``channels_last``): the
    divisor counts the zero padding (count_include_pad) but never the extra cells
    ceil_mode adds past it."""
    h, w = x.shape[1:3] if channels_last else x.shape[2:]
    pads, extra = _pool_pads((h, w), kernel, stride, padding, (1, 1), ceil_mode)
    window, strides = _window(kernel, 1, channels_last), _window(stride, 1, channels_last)
    full = _window(pads, (0, 0), channels_last)
    total = lax.reduce_window(x, 0.0, lax.add, window, strides, full)
    if count_include_pad:
        ones = jnp.ones(_window((h + 2 * padding[0], w + 2 * padding[1]), 1, channels_last), x.dtype)
        cpads = _window(((0, extra[0]), (0, extra[1])), (0, 0), channels_last)
    else:
        ones = jnp.ones(_window((h, w), 1, channels_last), x.dtype)
        cpads = full
    count = lax.reduce_window(ones, 0.0, lax.add, window, strides, cpads)
    return total / count


def _adaptive_avg_pool2d(x, size):
    """torch's adaptive_avg_pool2d: bin i spans [floor(i*n/out), ceil((i+1)*n/out))."""
    for axis, out in zip((2, 3), size):
        n = x.shape[axis]
        if out is None or out == n:
            continue
        if n % out == 0:
            shape = x.shape[:axis] + (out, n // out) + x.shape[axis + 1:]
            x = x.reshape(shape).mean(axis=axis + 1)
            continue
        bins = [lax.slice_in_dim(x, (i * n) // out, -((-(i + 1) * n) // out), axis=axis).mean(axis=axis, keepdims=True)
                for i in range(out)]
        x = jnp.concatenate(bins, axis=axis)
    return x


# ---- normalisation -----------------------------------------------------------

def _batch_norm(x, weight, bias, mean, var, count, train, momentum=0.1, eps=1e-5):
    """torch's batch_norm over axis 1; returns (y, (running_mean, running_var, num_batches_tracked)).

    Training normalises with the batch statistics (biased variance) and updates the
    running ones with the unbiased variance; momentum None is a cumulative average.
    Without running statistics (mean is None) the batch statistics are always used.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if train or mean is None:
        m = x.mean(axis=axes)
        v = jnp.mean(jnp.square(x - m.reshape(shape)), axis=axes)
        if train and mean is not None:
            n = x.size // x.shape[1]
            count = count + 1
            f = 1.0 / count if momentum is None else momentum
            mean = (1 - f) * mean + f * lax.stop_gradient(m)
            var = (1 - f) * var + f * lax.stop_gradient(v) * (n / max(n - 1, 1))
    else:
        m, v = mean, var
    y = (x - m.reshape(shape)) * lax.rsqrt(v.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape) + bias.reshape(shape)
    return y, (mean, var, count)


def _layer_norm(x, weight, bias, dims=1, eps=1e-5):
    axes = tuple(range(x.ndim - dims, x.ndim))
    m = x.mean(axis=axes, keepdims=True)
    v = jnp.mean(jnp.square(x - m), axis=axes, keepdims=True)
    y = (x - m) * lax.rsqrt(v + eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def _group_norm(x, weight, bias, groups, eps=1e-5):
    b, c = x.shape[:2]
    g = x.reshape(b, groups, -1)
    m = g.mean(axis=2, keepdims=True)
    v = jnp.mean(jnp.square(g - m), axis=2, keepdims=True)
    y = ((g - m) * lax.rsqrt(v + eps)).reshape(x.shape)
    if weight is None:
        return y
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * weight.reshape(shape) + bias.reshape(shape)


# ---- activations and regularisers --------------------------------------------

def _supra_linear(x, n):
    return jnp.power(jax.nn.relu(x), n)


def _hardswish(x):
    """torch's hardswish: x * relu6(x + 3) / 6."""
    return x * jnp.clip(x + 3.0, 0.0, 6.0) / 6.0


def _hardsigmoid(x):
    """torch's hardsigmoid: relu6(x + 3) / 6."""
    return jnp.clip(x + 3.0, 0.0, 6.0) / 6.0


def _softplus(x, beta, threshold):
    """torch's softplus: log1p(exp(beta x)) / beta, and x itself where beta x > threshold."""
    bx = x * beta
    return jnp.where(bx > threshold, x, jnp.log1p(jnp.exp(jnp.minimum(bx, threshold))) / beta)


def _mish(x):
    """torch's mish: x * tanh(softplus(x)), softplus with torch's threshold 20."""
    return x * jnp.tanh(_softplus(x, 1.0, 20.0))


def _dropout(x, p, key):
    """Inverted dropout as torch: keep with probability 1-p and scale by 1/(1-p)."""
    if p == 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - p, x.shape)
    return jnp.where(keep, x / (1.0 - p), 0.0).astype(x.dtype)


def _gaussian_noise(x, std, key):
    return x + std * jax.random.normal(key, x.shape, x.dtype)

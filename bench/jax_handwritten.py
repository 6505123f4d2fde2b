"""Hand-written JAX versions of the MLP and DyRCNNx4, the baselines of bench_jax.py.

Written the way a JAX user would write them from the equations in `tests/reference/dynvision.py`,
without looking at the emitter: plain functions over a parameter dict that uses
the spec's names (so the emitted model's parameters drop in), ``lax.scan`` over
time, a shift register of the last ``delay`` outputs per area, channels-last
(NHWC/HWIO) convolutions as JAX and flax use them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

Params = dict[str, Any]


def mlp(p: Params, x: jax.Array) -> jax.Array:
    """784 -> 256 -> 128 -> 64 -> 10 with ReLU (dropout is the identity in inference)."""
    for name in ("linear_0", "linear_1", "linear_2"):
        x = jax.nn.relu(x @ p[f"{name}.weight"].T + p[f"{name}.bias"])
    return x @ p["head.weight"].T + p["head.bias"]


def conv(x: jax.Array, w: jax.Array, b: jax.Array, stride: int = 1, pad: int = 0) -> jax.Array:
    """NHWC input, HWIO weight: JAX's (and flax's) natural layout."""
    y = lax.conv_general_dilated(x, w, (stride, stride), [(pad, pad), (pad, pad)],
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return y + b


def pool(x: jax.Array) -> jax.Array:
    """MaxPool2d(3, stride 2, padding 1) over NHWC."""
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1),
                             [(0, 0), (1, 1), (1, 1), (0, 0)])


def resize(x: jax.Array, size: int) -> jax.Array:
    """Nearest resize of NHWC to size x size, PyTorch's rule: source index floor(i * in / out)."""
    idx = (jnp.arange(size) * x.shape[1]) // size
    return x[:, idx][:, :, idx]


AREAS = ("V1", "V2", "V4", "IT")
STRIDES = {"V1": 1, "V2": 1, "V4": 1, "IT": 2}


def dyrcnn(p: Params, x: jax.Array, dt: float = 2.0, tau: float = 5.0, delay: int = 3) -> jax.Array:
    """DyRCNNx4 with full recurrence; x [B, T, 3, H, W] -> logits [B, T, classes].

    Works channels-last inside: the input and the conv weights are transposed once.
    """
    rate = dt / tau
    b, _, _, h, _ = x.shape
    hwio = {k: jnp.transpose(v, (2, 3, 1, 0)) for k, v in p.items() if v.ndim == 4}
    sizes = {"V1": h, "V2": h // 2, "V4": h // 4, "IT": h // 8}
    chans = {a: p[f"{a}.conv.weight"].shape[0] for a in AREAS}
    # carry: per area, its last `delay` outputs r (index 0 = the newest)
    hist0 = {a: jnp.zeros((delay, b, sizes[a], sizes[a], chans[a]), x.dtype) for a in AREAS}

    def area(name: str, inp: jax.Array, hist: jax.Array, t: jax.Array, extra: jax.Array | None) -> jax.Array:
        u = conv(inp, hwio[f"{name}.conv.weight"], p[f"{name}.conv.bias"], STRIDES[name], 1)
        rec = conv(hist[delay - 1], hwio[f"{name}.edges.recurrence.via.conv.weight"],
                   p[f"{name}.edges.recurrence.via.conv.bias"], 1, 1)
        u = u + jnp.where(t >= delay, rec, 0.0)
        if extra is not None:
            u = u + extra
        prev = hist[0]
        return jax.nn.relu(prev + rate * (u - prev))

    def skip(name: str, r: jax.Array, size: int) -> jax.Array:
        return resize(conv(r, hwio[f"edges.{name}.adapt.weight"], p[f"edges.{name}.adapt.bias"]), size)

    def step(hist: dict[str, jax.Array], inp: tuple[jax.Array, jax.Array]) -> tuple[Any, jax.Array]:
        t, xt = inp
        r1 = area("V1", xt, hist["V1"], t, None)
        r2 = area("V2", pool(r1), hist["V2"], t, None)
        r4 = area("V4", pool(r2), hist["V4"], t, skip("skip_V1_V4", r1, sizes["V4"]))
        rit = area("IT", r4, hist["IT"], t, skip("skip_V2_IT", r2, sizes["IT"]))
        new = {a: jnp.concatenate([r[None], hist[a][:-1]]) for a, r in zip(AREAS, (r1, r2, r4, rit))}
        logits = rit.mean(axis=(1, 2)) @ p["classifier.weight"].T + p["classifier.bias"]
        return new, logits

    steps = x.shape[1]
    xs = jnp.transpose(x, (1, 0, 3, 4, 2))  # [T, B, H, W, C]
    _, ys = lax.scan(step, hist0, (jnp.arange(steps), xs))
    return jnp.moveaxis(ys, 0, 1)

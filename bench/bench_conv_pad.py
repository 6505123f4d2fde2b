"""JAX's 2-d convolution with the output channels padded to 16 (`lane_channels`) against plain, per shape.

Run:  python bench/bench_conv_pad.py [--reps N] [--json]

XLA:CPU's convolution (YNNPACK) is slow when the output channel count is not a
multiple of 8.  The JAX rules of Conv2d and of the full Recurrence then append
zero filters up to the next multiple of 16 (`_channels_last(w, lanes)`) and cut
the result back (`_conv(..., out=c)`), when that adds at most a tenth more work
(`modelspec.ops.kit.lane_channels`).  For each shape (batch 16, spatial size,
in -> out channels, 3x3, stride 1, padding 1) both forms are jitted with one XLA
thread and timed interleaved, forward and forward+backward (the gradient of a
sum of squares w.r.t. x, W and b); each row gives min and median over ``--reps``
(>= 5) of the ratio padded / plain: below 1, padding is faster.  The rule's
choice is in the measure's name; the shapes it leaves alone show what it would
cost.
"""

from __future__ import annotations

import statistics
import sys

import timing  # its own table: not one of `make bench`'s rows
from bench_speed import one_thread
from timing import ROOT, Row, interleaved, reps_arg

sys.path.insert(0, str(ROOT))

#: (spatial, in, out): DyRCNNx4's V4 (121) and others around a multiple of 16
SHAPES = [(8, 64, 121), (8, 121, 121), (16, 64, 60), (8, 64, 90), (8, 64, 250), (32, 32, 110),
          (16, 64, 100), (32, 36, 36), (8, 64, 200)]


def main() -> None:
    one_thread()
    import jax
    import jax.numpy as jnp
    import numpy as np

    from modelspec.backends.jax.lib_core import _channels_last, _conv
    from modelspec.ops.kit import lane_channels, next_lane

    reps = reps_arg(9)
    rows = []
    rng = np.random.default_rng(0)
    for hw, cin, cout in SHAPES:
        lanes = next_lane(cout)
        x = jnp.asarray(rng.standard_normal((16, hw, hw, cin), dtype=np.float32))
        w = jnp.asarray(rng.standard_normal((cout, cin, 3, 3), dtype=np.float32) / np.sqrt(9 * cin))
        b = jnp.asarray(rng.standard_normal((cout,), dtype=np.float32))

        def plain(x, w, b):
            return _conv(x, _channels_last(w), b, padding=1, hwio=True, channels_last=True)

        def padded(x, w, b, lanes=lanes, cout=cout):
            return _conv(x, _channels_last(w, lanes), b, padding=1, hwio=True, channels_last=True, out=cout)

        np.testing.assert_allclose(padded(x, w, b), plain(x, w, b), rtol=1e-5, atol=1e-5)
        chosen = "padded" if lane_channels(cout) != cout else "left alone"
        for what, wrap in (("forward", lambda f: f),
                           ("forward+backward", lambda f: jax.grad(lambda x, w, b: (f(x, w, b) ** 2).sum(),
                                                                   argnums=(0, 1, 2)))):
            fa, fb = jax.jit(wrap(padded)), jax.jit(wrap(plain))
            t = interleaved({"padded": lambda: jax.block_until_ready(fa(x, w, b)),
                             "plain": lambda: jax.block_until_ready(fb(x, w, b))}, reps, warm=2)
            rows.append(Row(f"Conv2d {hw}x{hw}, {cin}->{cout} (->{lanes}, rule: {chosen}), {what}: padded / plain",
                            "-", "≤ 1 where padded", min(t["padded"]) / min(t["plain"]),
                            statistics.median(t["padded"]) / statistics.median(t["plain"])))
    timing.emit(rows)


if __name__ == "__main__":
    main()

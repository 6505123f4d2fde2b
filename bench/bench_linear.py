"""JAX's Linear (`_linear`, emitted into every JAX module) against the plain x W^T it replaced, per shape.

Run:  python bench/bench_linear.py [--reps N] [--json]

`_linear` computes W x^T and transposes the small result when the batch is
small beside the weight (at least 8 rows and at most a quarter of the smaller
side of W), because XLA:CPU's matmul is slow for x W^T there; otherwise it is
the same dot_general as before.  For each shape (batch, in -> out) the two are
jitted, pinned to one CPU with one XLA thread, and timed interleaved, forward
and forward+backward (the gradient of a sum of squares w.r.t. W, b and x);
each row gives min and median over ``--reps`` (>= 5) of the ratio
`_linear` / plain: below 1, the helper is faster.  Shapes the rule leaves
alone read 1.00 up to noise.
"""

from __future__ import annotations

import statistics
import sys

import timing  # its own table: not one of `make bench`'s rows
from bench_speed import one_thread
from timing import ROOT, Row, interleaved, reps_arg

sys.path.insert(0, str(ROOT))

SHAPES = [(1, 784, 256), (8, 784, 256), (32, 784, 256), (128, 784, 256), (32, 256, 128), (32, 64, 10),
          (256, 512, 512), (32, 4096, 1000)]


def main() -> None:
    one_thread(one_core=True)  # as `bench_speed.py --one-core`: one CPU, one XLA thread, synchronous dispatch
    import jax
    import numpy as np
    from jax import lax

    from modelspec.backends.jax.lib_core import _linear

    reps = reps_arg(9)

    def plain(x, w, b):
        return lax.dot_general(x, w, (((1,), (1,)), ((), ()))) + b

    rows = []
    rng = np.random.default_rng(0)
    for n, i, o in SHAPES:
        w, b, x = (jax.numpy.asarray(rng.standard_normal(s, dtype=np.float32)) for s in ((o, i), (o,), (n, i)))
        np.testing.assert_allclose(_linear(x, w, b), plain(x, w, b), rtol=1e-4, atol=1e-3)
        for what, wrap in (("forward", lambda f: f),
                           ("forward+backward", lambda f: jax.grad(lambda x, w, b: (f(x, w, b) ** 2).sum(),
                                                                   argnums=(0, 1, 2)))):
            fa, fb = jax.jit(wrap(_linear)), jax.jit(wrap(plain))
            inner = max(1, 20000 // (n * i * o // 1000 + 1))  # calls per timing: a few ms each
            t = interleaved({"helper": lambda: [jax.block_until_ready(fa(x, w, b)) for _ in range(inner)],
                             "plain": lambda: [jax.block_until_ready(fb(x, w, b)) for _ in range(inner)]},
                            reps, warm=2)
            rows.append(Row(f"JAX Linear batch {n}, {i}->{o}, {what}: `_linear` / plain x W^T", "-", "≤ 1",
                            min(t["helper"]) / min(t["plain"]),
                            statistics.median(t["helper"]) / statistics.median(t["plain"])))
    timing.emit(rows)


if __name__ == "__main__":
    main()

"""Where a time model's forward time goes: each 2-d convolution alone, JAX against Torch.

Run:  .venv/bin/python bench/bench_conv_layers.py [--spec dyrcnn_x4.yaml] [--batch 16] [--reps N]

`bench/bench_speed.py` times whole forwards.  This script explains them: it takes
every 2-d convolution of the spec's checked graph (layers and the convolutions
inside edges: recurrences, adapters), with its shapes, and times it alone for the
steps it runs in the model (a recurrent edge only from its delay on, as the time
plan says), one thread each, interleaved:

- JAX: the emitted code's own pieces, `_conv` on channels-last values with the
  weight laid out and lane-padded as the Conv2d / Recurrence rules do
  (`lane_channels`), inside one `lax.scan` over the steps, as in the emitted loop;
- Torch: `F.conv2d` on NCHW values in a Python loop over the steps, as the
  emitted Torch `forward` runs it, under `no_grad`.

Each row gives the milliseconds (min, median), the throughput of the min in
GFLOP/s (2 x multiply-adds), and JAX/Torch.  The last rows give the sum over the
convolutions and the whole forward of both backends (`bench_speed.pair`), so the
share of the convolutions in a forward, and which of them keep the JAX/Torch ratio
where it is, can be read off one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from typing import Any, Callable

from bench_speed import one_thread, pair
from timing import ROOT, cpu_model, interleaved

sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Conv:
    """One 2-d convolution of the graph, with everything needed to run it alone."""

    path: str
    cin: int
    cout: int
    kernel: int
    stride: int
    padding: int
    size_in: int
    size_out: int
    steps: int

    def flops(self, batch: int) -> float:
        return 2.0 * batch * self.steps * self.size_out ** 2 * self.cout * self.cin * self.kernel ** 2


def convs(spec: str) -> list[Conv]:
    """The square 2-d convolutions of the spec's graph, in evaluation order, each with the
    number of steps it runs (edge nodes from their edge's first active step)."""
    from modelspec.ir.timeplan import lower_time
    from modelspec.pipeline import load

    g = load(ROOT / "specs" / spec)
    plan = lower_time(g)
    start = {node: a.start for _, adds in plan.additions for a in adds for node in a.chain}
    out = []
    for path in g.order:
        n = g.nodes[path]
        weights = [s for k, s in n.params.items() if k.endswith("weight") and len(s) == 4]
        if len(weights) != 1 or len(n.shape) != 4 or len(n.in_shapes) != 1:
            continue
        (cout, cin_g, k, k2), size_in, size_out = weights[0], n.in_shapes[0][-1], n.shape[-1]
        groups = getattr(n.attrs, "groups", 1) or 1
        if k != k2 or groups != 1 or n.in_shapes[0][-2] != size_in:
            continue  # only dense square convolutions: what DyRCNN's areas and adapters are
        stride = max(1, round(size_in / size_out))
        padding = getattr(n.attrs, "padding", k // 2)
        padding = padding if isinstance(padding, int) else k // 2
        out.append(Conv(path, cin_g, cout, k, stride, padding, size_in, size_out, plan.steps - start.get(path, 0)))
    return out


def runners(c: Conv, batch: int) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(jax, torch) callables running ``c`` for its steps on the same data, outputs checked equal."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch
    import torch.nn.functional as F

    from modelspec.backends.jax.lib_core import _channels_last, _conv
    from modelspec.ops.kit import lane_channels

    rng = np.random.default_rng(0)
    x = rng.standard_normal((c.steps, batch, c.cin, c.size_in, c.size_in), dtype=np.float32)
    w = (rng.standard_normal((c.cout, c.cin, c.kernel, c.kernel)) / np.sqrt(c.cin * c.kernel ** 2)).astype(np.float32)
    b = rng.standard_normal((c.cout,), dtype=np.float32)
    xj = jnp.asarray(np.transpose(x, (0, 1, 3, 4, 2)))
    # as the emitted loop has them: arguments of the jitted call, laid out (and lane-padded) once
    wj, bj = _channels_last(jnp.asarray(w), lane_channels(c.cout)), jnp.asarray(b)

    @jax.jit
    def run(xs: Any, w: Any, b: Any) -> Any:
        def step(carry: Any, xt: Any) -> tuple[Any, Any]:
            y = _conv(xt, w, b, stride=c.stride, padding=c.padding, hwio=True, channels_last=True, out=c.cout)
            return carry, y
        return jax.lax.scan(step, 0, xs)[1]

    xt, wt, bt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b)

    def run_torch() -> Any:
        with torch.no_grad():
            return [F.conv2d(xt[i], wt, bt, stride=c.stride, padding=c.padding) for i in range(c.steps)]

    got = np.transpose(np.asarray(run(xj, wj, bj)), (0, 1, 4, 2, 3))
    np.testing.assert_allclose(got, torch.stack(run_torch()).numpy(), rtol=1e-4, atol=1e-4)
    return (lambda: jax.block_until_ready(run(xj, wj, bj))), run_torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="dyrcnn_x4.yaml", help="a time model in specs/")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--reps", type=int, default=9, help="timed repetitions (at least 5)")
    args = ap.parse_args()
    reps = max(args.reps, 5)
    one_thread()
    import jax
    import torch

    print("| convolution | shape | steps | JAX min / median ms | Torch min / median ms "
          "| JAX GFLOP/s | Torch GFLOP/s | JAX/Torch (min) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    total = {"jax": [0.0, 0.0], "torch": [0.0, 0.0]}
    for c in convs(args.spec):
        run_jax, run_torch = runners(c, args.batch)
        t = interleaved({"jax": run_jax, "torch": run_torch}, reps, warm=2)
        lo = {k: min(v) for k, v in t.items()}
        med = {k: statistics.median(v) for k, v in t.items()}
        for k in total:
            total[k][0] += lo[k]
            total[k][1] += med[k]
        fl = c.flops(args.batch)
        shape = (f"{c.cin}->{c.cout}, {c.kernel}x{c.kernel}/{c.stride}, "
                 f"{c.size_in}x{c.size_in}->{c.size_out}x{c.size_out}")
        print(f"| {c.path} | {shape} | {c.steps} | {lo['jax'] * 1e3:.1f} / {med['jax'] * 1e3:.1f} "
              f"| {lo['torch'] * 1e3:.1f} / {med['torch'] * 1e3:.1f} | {fl / lo['jax'] / 1e9:.0f} "
              f"| {fl / lo['torch'] / 1e9:.0f} | {lo['jax'] / lo['torch']:.2f} |")
    (jl, jm), (tl, tm) = total["jax"], total["torch"]
    print(f"| **sum of the convolutions** | | | {jl * 1e3:.1f} / {jm * 1e3:.1f} | {tl * 1e3:.1f} / {tm * 1e3:.1f} "
          f"| | | {jl / tl:.2f} |")
    run_jax, run_torch = pair(args.spec, args.batch)
    t = interleaved({"jax": run_jax, "torch": run_torch}, reps, warm=2)
    fj, ft = min(t["jax"]), min(t["torch"])
    print(f"| **whole forward** (bench_speed) | batch {args.batch} | | {fj * 1e3:.1f} / "
          f"{statistics.median(t['jax']) * 1e3:.1f} | {ft * 1e3:.1f} / {statistics.median(t['torch']) * 1e3:.1f} "
          f"| | | {fj / ft:.2f} |")
    print()
    print(f"Machine: {cpu_model()}; one thread each (PJRT_NPROC=1).  jax {jax.__version__}, "
          f"torch {torch.__version__}.  {reps} repetitions, interleaved.")


if __name__ == "__main__":
    main()

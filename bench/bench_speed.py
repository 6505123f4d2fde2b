"""Emitted JAX against emitted Torch, side by side, in one interleaved run.

Run:  .venv/bin/python bench/bench_speed.py [--reps N] [--quick] [--one-core]

Both backends hold the same weights (the JAX ``init`` draw, copied into Torch) and
get the same input; outputs are checked equal (1e-4) before timing.  The two
forwards alternate (jax, torch, torch, jax, ...) in one process, one thread each,
so drifting load on a shared machine hits both alike; the table gives min and
median over the repetitions and the ratio **JAX time / Torch time** (below 1: JAX
is faster).  JAX is jitted inference (``train=False``), Torch eval mode under
``no_grad``; JAX dispatches synchronously on the CPU (``jax_cpu_enable_async_dispatch``
off: every call waits for its result anyway).  Then jit compile time (lower + XLA compile) of DyRCNNx4 for 5, 20
and 80 steps, which stays flat when the time loop is a fixed number of scans.

"One thread each" means one thread for XLA too: ``PJRT_NPROC=1`` sizes XLA:CPU's
pool, which otherwise has a thread per core the process may use and runs
independent operations and the convolutions (YNNPACK) on all of them, while the
``XLA_FLAGS`` thread settings reach only its Eigen kernels.  ``--xla-pool`` leaves
that pool at every core (Torch still one thread); ``--one-core`` pins the whole
process to one CPU as well.

Prints a markdown table and the machine (CPU model, cores, load, versions).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import cpu_model, interleaved  # noqa: E402


def one_thread(one_core: bool = False, xla_pool: bool = False) -> None:
    """One thread per framework: on a shared machine, thread-pool barriers waiting on
    descheduled threads make multi-threaded figures swing tenfold.  ``one_core``: the
    process on one CPU too; ``xla_pool``: XLA's pool left at every core.  Both must
    come before jax starts its thread pool (sized by ``PJRT_NPROC``, else by the CPUs
    allowed)."""
    if one_core:
        if not hasattr(os, "sched_setaffinity"):
            raise SystemExit("--one-core needs os.sched_setaffinity (Linux)")
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if not xla_pool:
        os.environ["PJRT_NPROC"] = "1"
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()
    import jax
    import torch

    torch.set_num_threads(1)
    # Each call here blocks on its result, so JAX's asynchronous CPU dispatch only adds a hand-off
    # to a runtime thread and back (a third of a small MLP's call, and most of its spread).
    jax.config.update("jax_cpu_enable_async_dispatch", False)


def pair(spec: str, batch: int, overrides: dict[str, Any] | None = None) -> tuple[Callable, Callable]:
    """(jax forward, torch forward) of one spec, same weights and input, outputs checked equal."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import torch

    from modelspec import weights as pio
    from modelspec.build import build_graph
    from modelspec.pipeline import load

    g = load(ROOT / "specs" / spec, overrides)
    jmod = build_graph(g, "jax")
    params, state = jmod.init(jax.random.PRNGKey(0)), jmod.init_state()
    tmod = build_graph(load(ROOT / "specs" / spec, overrides), "torch").eval()
    pio.to_torch(tmod, {k: np.asarray(v) for k, v in {**params, **state}.items()})
    (name, term), = g.inputs.items()
    shape = [batch if d == "B" else d for d in term.shape]
    if g.time is not None and not term.static:
        shape.insert(1, g.time.steps)
    xn = np.random.RandomState(0).randn(*shape).astype(np.float32)
    xj, xt = jnp.asarray(xn), torch.from_numpy(xn)
    fn = jax.jit(lambda p, s, x: jmod.apply(p, s, x)[0])

    def run_jax() -> Any:
        return jax.block_until_ready(fn(params, state, xj))

    def run_torch() -> Any:
        with torch.no_grad():
            return tmod(xt)

    np.testing.assert_allclose(np.asarray(run_jax()), run_torch().numpy(), atol=1e-4, rtol=1e-4)
    return run_jax, run_torch


def compile_seconds(steps: int, batch: int) -> float:
    import jax
    import jax.numpy as jnp

    from modelspec.build import build_graph
    from modelspec.pipeline import load

    mod = build_graph(load(ROOT / "specs" / "dyrcnn_x4.yaml", {"steps": steps}), "jax")
    p = mod.init(jax.random.PRNGKey(0))
    x = jax.ShapeDtypeStruct((batch, steps, 3, 32, 32), jnp.float32)
    t0 = time.perf_counter()
    jax.jit(lambda p, x: mod.apply(p, {}, x)[0]).lower(p, x).compile()
    return time.perf_counter() - t0


def ms(s: float) -> str:
    return f"{s * 1e3:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=9, help="timed repetitions per model (at least 5)")
    ap.add_argument("--quick", action="store_true", help="batch 4 for DyRCNNx4, steps 5 and 20 only")
    ap.add_argument("--one-core", action="store_true", help="pin the process to one CPU as well")
    ap.add_argument("--xla-pool", action="store_true",
                    help="leave XLA:CPU's thread pool at every core (Torch stays at one thread)")
    args = ap.parse_args()
    reps = max(args.reps, 5)
    one_thread(args.one_core, args.xla_pool)
    import jax
    import torch

    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    batch = 4 if args.quick else 16
    cases = [("MLP, batch 32", "mlp.yaml", 32, reps * 50),
             (f"DyRCNNx4, batch {batch}, 20 steps, 32x32", "dyrcnn_x4.yaml", batch, reps)]
    print("| model | JAX min ms | JAX median ms | Torch min ms | Torch median ms "
          "| JAX/Torch (min) | JAX/Torch (median) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, spec, b, n in cases:
        run_jax, run_torch = pair(spec, b)
        t = interleaved({"jax": run_jax, "torch": run_torch}, n, warm=2)  # warm-up: compile, allocate
        jmin, jmed = min(t["jax"]), statistics.median(t["jax"])
        tmin, tmed = min(t["torch"]), statistics.median(t["torch"])
        print(f"| {label} | {ms(jmin)} | {ms(jmed)} | {ms(tmin)} | {ms(tmed)} "
              f"| {jmin / tmin:.2f} | {jmed / tmed:.2f} |")
    print()
    print("| DyRCNNx4 steps | JAX jit compile s |")
    print("|---:|---:|")
    compile_seconds(3, batch)  # untimed: the first compile of a process also sets up XLA's pipeline
    for steps in ([5, 20] if args.quick else [5, 20, 80]):
        print(f"| {steps} | {compile_seconds(steps, batch):.2f} |")
    load2 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print()
    where = ("pinned to one core" if args.one_core else
             "Torch one thread, XLA's pool every core" if args.xla_pool else "one thread each (PJRT_NPROC=1)")
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; {where}; load average "
          f"{load1:.2f} at start, {load2:.2f} at end.  Python {platform.python_version()}, "
          f"jax {jax.__version__} ({jax.devices()[0].platform}), torch {torch.__version__}.  "
          f"{reps} repetitions (MLP {reps * 50}), interleaved.")


if __name__ == "__main__":
    main()

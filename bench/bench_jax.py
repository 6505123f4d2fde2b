"""Emitted JAX models against hand-written JAX, compile time against steps, JAX against Torch.

Run:  .venv/bin/python bench/bench_jax.py [--reps N] [--quick]

1. Jitted forward (inference) of the emitted module and of the hand-written JAX in
   bench/jax_handwritten.py, same parameters: MLP at batch 32, DyRCNNx4 at batch 16,
   20 steps, 32 x 32.  The outputs are checked equal first.
2. jit compile time (lower + XLA compile) of the emitted DyRCNNx4 for 5, 20 and 80
   steps: the time loop is a lax.scan, so it should stay flat.
3. The emitted JAX and the emitted Torch model side by side (Torch: eval, no_grad, in a
   separate process so that neither framework's thread pool competes with the other).

Timings are medians over interleaved repetitions after a warm-up, on one thread per
framework by default (--threads): with several threads on a shared machine, OpenMP
and Eigen barriers wait on descheduled threads and the figures swing tenfold.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import jax_handwritten as hand  # noqa: E402

from modelspec.build import build_graph  # noqa: E402
from modelspec.pipeline import load  # noqa: E402


def timeit(fns: dict[str, Callable[[], Any]], reps: int) -> dict[str, float]:
    """Median seconds per call, the functions interleaved so drifting load hits all alike."""
    for fn in fns.values():  # warm-up (compiles)
        jax.block_until_ready(fn())
    times: dict[str, list[float]] = {k: [] for k in fns}
    for i in range(reps):
        for k in (list(fns) if i % 2 == 0 else list(fns)[::-1]):
            t0 = time.perf_counter()
            jax.block_until_ready(fns[k]())
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def emitted(spec: str, overrides: dict[str, Any] | None = None) -> tuple[Any, Any, Any]:
    g = load(ROOT / "specs" / spec, overrides)
    mod = build_graph(g, "jax")
    return g, mod, mod.init(jax.random.PRNGKey(0))


def forward_vs_hand(reps: int, quick: bool) -> list[tuple[str, float, float]]:
    rows = []
    g, mod, p = emitted("mlp.yaml")
    x = jnp.asarray(np.random.RandomState(0).randn(32, 784).astype(np.float32))
    gen = jax.jit(lambda p, x: mod.apply(p, {}, x)[0])
    ref = jax.jit(hand.mlp)
    np.testing.assert_allclose(gen(p, x), ref(p, x), atol=1e-5)
    t = timeit({"gen": lambda: gen(p, x), "hand": lambda: ref(p, x)}, reps * 10)
    rows.append(("MLP  batch 32", t["gen"], t["hand"]))

    batch = 4 if quick else 16
    g, mod, p = emitted("dyrcnn_x4.yaml")
    x = jnp.asarray(np.random.RandomState(0).randn(batch, 20, 3, 32, 32).astype(np.float32))
    gen = jax.jit(lambda p, x: mod.apply(p, {}, x)[0])
    ref = jax.jit(hand.dyrcnn)
    np.testing.assert_allclose(gen(p, x), ref(p, x), atol=1e-4, rtol=1e-4)
    t = timeit({"gen": lambda: gen(p, x), "hand": lambda: ref(p, x)}, reps)
    rows.append((f"DyRCNNx4  batch {batch}, 20 steps, 32x32", t["gen"], t["hand"]))
    return rows


def compile_times(steps_list: list[int]) -> list[tuple[int, float, float]]:
    """Seconds to lower + compile the jitted forward, emitted and hand-written."""
    rows = []
    for steps in steps_list:
        g, mod, p = emitted("dyrcnn_x4.yaml", {"steps": steps})
        x = jax.ShapeDtypeStruct((16, steps, 3, 32, 32), jnp.float32)
        out = []
        # fresh lambdas: nothing comes from jit's cache of an earlier section
        for fn in (lambda p, x: mod.apply(p, {}, x)[0], lambda p, x: hand.dyrcnn(p, x)):
            t0 = time.perf_counter()
            jax.jit(fn).lower(p, x).compile()
            out.append(time.perf_counter() - t0)
        rows.append((steps, out[0], out[1]))
    return rows


def torch_forward(spec: str, batch: int, reps: int, weights: str, xfile: str,
                  threads: int) -> tuple[float, np.ndarray]:
    """Median forward time of the emitted Torch model, run in a fresh process (no JAX thread
    pool competing for the cores) on the weights and input the JAX side uses."""
    import torch

    from modelspec import weights as pio

    torch.set_num_threads(threads)
    model = build_graph(load(ROOT / "specs" / spec), "torch").eval()
    pio.to_torch(model, pio.load(weights))
    x = torch.from_numpy(np.load(xfile))

    def run() -> Any:
        with torch.no_grad():
            return model(x)

    for _ in range(2):
        run()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), run().numpy()


def jax_vs_torch(reps: int, quick: bool, threads: int) -> list[tuple[str, float, float]]:
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor

    from modelspec import weights as pio

    rows = []
    cases = [("mlp.yaml", 32, "MLP  batch 32"), ("dyrcnn_x4.yaml", 4 if quick else 16, "DyRCNNx4  20 steps, 32x32, batch {b}")]
    if not quick:
        cases.append(("resnet18.yaml", 8, "ResNet-18  224x224, batch {b}"))
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(1, mp_context=ctx) as pool:
        for spec, batch, label in cases:
            g, mod, params = emitted(spec)
            state = mod.init_state()
            shape = [batch if d == "B" else d for d in g.inputs["x"].shape]
            if g.time is not None:
                shape.insert(1, g.time.steps)
            xn = np.random.RandomState(0).randn(*shape).astype(np.float32)
            weights, xfile = os.path.join(tmp, "w.safetensors"), os.path.join(tmp, "x.npy")
            pio.save(weights, {**params, **state})
            np.save(xfile, xn)
            n = reps * 10 if spec == "mlp.yaml" else reps
            t_torch, y_torch = pool.submit(torch_forward, spec, batch, n, weights, xfile, threads).result()
            fn = jax.jit(lambda p, s, x: mod.apply(p, s, x)[0])
            xj = jnp.asarray(xn)
            np.testing.assert_allclose(np.asarray(fn(params, state, xj)), y_torch, atol=1e-4, rtol=1e-4)
            t = timeit({"jax": lambda: fn(params, state, xj)}, n)
            rows.append((label.format(b=batch), t["jax"], t_torch))
    return rows


def ms(s: float) -> str:
    return f"{s * 1e3:9.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="smaller batches, fewer models (a smoke run)")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads for XLA and torch alike (default 1: robust on a shared machine)")
    args = ap.parse_args()
    # read when the CPU client starts, i.e. at the first computation below: PJRT_NPROC sizes XLA:CPU's
    # thread pool (its convolutions run there), the flags its Eigen kernels
    os.environ["PJRT_NPROC"] = str(args.threads)
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                   " intra_op_parallelism_threads=1").strip()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {args.threads} thread(s) "
          f"of {os.cpu_count()} cpus\n")

    print("1. Jitted forward: emitted JAX vs hand-written JAX")
    print(f"   {'model':<38} {'emitted':>12} {'hand':>12} {'ratio':>7}")
    for name, a, b in forward_vs_hand(args.reps, args.quick):
        print(f"   {name:<38} {ms(a):>12} {ms(b):>12} {a / b:7.2f}")

    steps = [5, 20] if args.quick else [5, 20, 80]
    print("\n2. jit compile time of DyRCNNx4 (batch 16, 32x32), lower + compile")
    print(f"   {'steps':<8} {'emitted':>10} {'hand':>10}")
    for n, a, b in compile_times(steps):
        print(f"   {n:<8} {a:9.2f}s {b:9.2f}s")

    print("\n3. Emitted JAX (jit) vs emitted Torch (eval, no_grad), forward")
    print(f"   {'model':<38} {'jax':>12} {'torch':>12} {'jax/torch':>9}")
    for name, a, b in jax_vs_torch(args.reps, args.quick, args.threads):
        print(f"   {name:<38} {ms(a):>12} {ms(b):>12} {a / b:9.2f}")


if __name__ == "__main__":
    main()

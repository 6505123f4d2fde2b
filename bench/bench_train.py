"""Training loop speed (issue 11): `modelspec train` against a hand-written PyTorch loop.

Run:  python bench/bench_train.py [--reps N] [--samples N] [--epochs N] [--threads N] [--jax] [--json]

1. Samples per second of the batch loop, in process: `modelspec train`
   (specs/mlp.yaml: 784 -> 256 -> 128 -> 64 -> 10, dropout 0.1; Adam 1e-3,
   batch 128, no validation, progress bars off) against a plain `for` loop
   over the same emitted module, optimiser and data (`index_select` batches,
   `loss.item()` every step).  Each run trains ``--epochs`` epochs; its figure
   is its fastest epoch after the first (metrics.jsonl's `wall_time_s` for the
   library).  The row is hand-written time over library time: samples/s of
   the library as a fraction of the loop's.
2. Whole-process wall time, `python -m modelspec train ... --data DATA.npz
   --no-progress` against bench/train_handwritten.py with the same
   validation (10% held out, after every epoch) and checkpoint cadence (`best`
   when it improves, `last` every epoch, the weights at the end).

The two contenders alternate order every repetition (min and median of
``--reps`` >= 5).  ``--threads`` (default 1) pins torch's intra-op threads
(OMP_NUM_THREADS for the processes): on a shared 2-core machine one thread
gives the steadiest figures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from timing import ROOT, Row, emit

sys.path.insert(0, str(ROOT))

from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train import data as data_mod  # noqa: E402
from modelspec.train.runner import Request, train  # noqa: E402
from modelspec.train.terminals import model_io  # noqa: E402

SPEC = str(ROOT / "specs" / "mlp.yaml")
BATCH, LR, SEED = 128, 1e-3, 0


def dataset(n: int) -> tuple[np.ndarray, np.ndarray]:
    io_ = model_io(load_graph(SPEC), None)
    ds = data_mod.load(f"synthetic:{n}", io_, loss="cross_entropy", split_name="train", seed=SEED)
    return ds.x["x"], ds.y


def library(backend: str, n: int, epochs: int) -> float:
    """Seconds of the fastest epoch after the first, as the run's metrics.jsonl records it."""
    graph = load_graph(SPEC)
    graph.train = {"val_split": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        flags = dict(epochs=epochs, batch_size=BATCH, lr=LR, optimizer="adam", seed=SEED, run_dir=tmp)
        req = Request(SPEC, graph, {}, f"synthetic:{n}", backend=backend, progress=False, flags=flags)
        with contextlib.redirect_stdout(io.StringIO()):  # the run's own tables
            code = train(req)
        assert code == 0, code
        rows = [json.loads(line) for line in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    return min(r["wall_time_s"] for r in rows[1:])


def hand_torch(x: np.ndarray, y: np.ndarray, epochs: int) -> float:
    import torch
    import torch.nn.functional as F

    import modelspec

    torch.manual_seed(SEED)
    model = modelspec.build(SPEC, backend="torch")
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(X))
        total = 0.0
        for i in range(0, len(X), BATCH):
            idx = perm[i: i + BATCH]
            loss = F.cross_entropy(model(X.index_select(0, idx)), Y.index_select(0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        times.append(time.perf_counter() - t0)
    return min(times[1:])


def hand_jax(x: np.ndarray, y: np.ndarray, epochs: int) -> float:
    import jax
    import jax.numpy as jnp
    import optax

    import modelspec

    mod = modelspec.build(SPEC, backend="jax")
    params, state = mod.init(jax.random.PRNGKey(SEED)), mod.init_state()
    opt = optax.adam(LR)
    opt_state = opt.init(params)

    @jax.jit
    def step(params: Any, opt_state: Any, xb: Any, yb: Any, key: Any) -> Any:
        def loss_fn(p: Any) -> Any:
            out, _ = mod.apply(p, state, xb, train=True, key=key)
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(out), yb[:, None], axis=1))

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    key = jax.random.PRNGKey(1)
    rng = np.random.default_rng(SEED)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = rng.permutation(len(x))
        total = 0.0
        for k, i in enumerate(range(0, len(x), BATCH)):
            idx = perm[i: i + BATCH]
            params, opt_state, loss = step(params, opt_state, x[idx], y[idx], jax.random.fold_in(key, k))
            total += float(loss)
        times.append(time.perf_counter() - t0)
    return min(times[1:])


def alternate(fns: dict[str, Callable[[], float]], reps: int) -> dict[str, list[float]]:
    """Each function's own figure (seconds), the order alternating every repetition."""
    keys = list(fns)
    out: dict[str, list[float]] = {k: [] for k in keys}
    for i in range(reps):
        for k in (keys if i % 2 == 0 else keys[::-1]):
            out[k].append(fns[k]())
    return out


def process(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def whole_process(x: np.ndarray, y: np.ndarray, epochs: int, reps: int, threads: int) -> dict[str, list[float]]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.npz")
        np.savez(data, x=x, y=y)
        count = iter(range(10**6))

        def lib() -> float:
            run = os.path.join(tmp, f"lib{next(count)}")
            return process([sys.executable, "-m", "modelspec", "train", SPEC, "--data", data, "--epochs",
                            str(epochs), "--batch-size", str(BATCH), "--no-progress", "--run-dir", run], env)

        def hand() -> float:
            run = os.path.join(tmp, f"hand{next(count)}")
            return process([sys.executable, str(ROOT / "bench" / "train_handwritten.py"), data, run, str(epochs)],
                           env)

        hand()  # warm the file cache and bytecode
        lib()
        return alternate({"lib": lib, "hand": hand}, reps)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=16384)
    ap.add_argument("--process-samples", type=int, default=60000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--jax", action="store_true", help="also the JAX loop against a jitted hand-written step")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    reps = max(5, args.reps)
    import torch

    torch.set_num_threads(args.threads)
    x, y = dataset(args.samples)
    rows = []
    loops = alternate({"hand": lambda: hand_torch(x, y, args.epochs),
                       "lib": lambda: library("torch", args.samples, args.epochs)}, reps)
    rows.append(Row("`modelspec train` torch, MLP, Adam, batch 128, samples/s vs a hand-written loop", "0.92",
                    "≥ 0.98", min(loops["hand"]) / min(loops["lib"]),
                    statistics.median(loops["hand"]) / statistics.median(loops["lib"])))
    if args.jax:
        jl = alternate({"hand": lambda: hand_jax(x, y, args.epochs),
                        "lib": lambda: library("jax", args.samples, args.epochs)}, reps)
        rows.append(Row("`modelspec train` jax, same, samples/s vs a jitted hand-written step", "-", "-",
                        min(jl["hand"]) / min(jl["lib"]), statistics.median(jl["hand"]) / statistics.median(jl["lib"])))
    px, py = dataset(args.process_samples)
    proc = whole_process(px, py, args.epochs, reps, args.threads)
    rows.append(Row(f"same, whole process wall time ({args.process_samples:,} samples, {args.epochs} epochs, "
                    "validation and checkpoints every epoch)", "1.35x", "≤ 1.1x",
                    min(proc["lib"]) / min(proc["hand"]),
                    statistics.median(proc["lib"]) / statistics.median(proc["hand"])))
    if not args.json:
        print(f"seconds: loop hand {min(loops['hand']):.3f}/{statistics.median(loops['hand']):.3f}, "
              f"library {min(loops['lib']):.3f}/{statistics.median(loops['lib']):.3f} per epoch of "
              f"{args.samples}; process hand {min(proc['hand']):.2f}/{statistics.median(proc['hand']):.2f}, "
              f"library {min(proc['lib']):.2f}/{statistics.median(proc['lib']):.2f} (min/median)\n")
    emit(rows)


if __name__ == "__main__":
    main()

"""Training throughput: `python bench/bench_train.py [--epochs 4] [--samples 8192] [--repeat 2]`.

Samples per second of `modelspec train`'s loop (progress bars off and on)
against a hand-written loop over the same model, data, batch size and
optimiser: PyTorch (a plain `for` loop with `torch.optim.Adam`) and JAX (a
jitted value_and_grad + optax step).  The model is the catalog MLP
(784 -> 256 -> 128 -> 64 -> 10, dropout 0.1), batch 128, Adam 1e-3.

Each figure comes from the fastest epoch among epochs 2.. (the first pays for
start-up and JIT compilation) over ``--repeat`` runs: on a shared machine the
slow epochs measure the neighbours, not the loop.  The library's figure is the
batch loop its metrics.jsonl reports; the rest of its wall time (set-up, JIT,
validation, checkpoints, metrics, plot), per epoch, is listed apart.  ``--threads N`` pins
torch's intra-op threads (1 gives the steadiest figures on a busy machine).
Target: the library loop at >= 0.95 of the hand-written one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train import data as data_mod  # noqa: E402
from modelspec.train.runner import Request, train  # noqa: E402
from modelspec.train.terminals import model_io  # noqa: E402

SPEC = str(ROOT / "specs" / "mlp.yaml")
BATCH, LR, SEED = 128, 1e-3, 0


def dataset(n: int) -> tuple[np.ndarray, np.ndarray]:
    io = model_io(load_graph(SPEC), None)
    ds = data_mod.load(f"synthetic:{n}", io, loss="cross_entropy", split_name="train", seed=SEED)
    return ds.x["x"], ds.y


def library(backend: str, n: int, epochs: int, progress: bool) -> tuple[float, float]:
    """(samples/s of the batch loop, seconds of the run outside it, per epoch)."""
    graph = load_graph(SPEC)
    graph.train = {"val_split": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        flags = dict(epochs=epochs, batch_size=BATCH, lr=LR, optimizer="adam", seed=SEED, run_dir=tmp,
                     log_every=None)
        req = Request(SPEC, graph, {}, f"synthetic:{n}", backend=backend, progress=progress, flags=flags)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the run's own tables and bars
            code = train(req)
        wall = time.perf_counter() - t0
        assert code == 0, code
        rows = [json.loads(line) for line in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    times = [r["time"] for r in rows]
    per_epoch = min(times[1:])
    return n / per_epoch, (wall - sum(times)) / epochs


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
            idx = perm[i: i + BATCH]  # index_select: the fastest gather (X[idx] is ~4x slower on CPU)
            loss = F.cross_entropy(model(X.index_select(0, idx)), Y.index_select(0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
        times.append(time.perf_counter() - t0)
    return len(X) / min(times[1:])


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
    return len(x) / min(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--samples", type=int, default=8192)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--backends", default="torch,jax")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    x, y = dataset(args.samples)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"training throughput: MLP 784-256-128-64-10, batch {BATCH}, Adam, "
                        f"{args.samples} samples, CPU")
    for col in ("backend", "loop", "samples/s", "vs hand-written", "other time / epoch"):
        table.add_column(col, justify="left" if col in ("backend", "loop") else "right")
    for backend in args.backends.split(","):
        hand = hand_torch if backend == "torch" else hand_jax
        runs: dict[str, list[Any]] = {"ref": [], "quiet": [], "bars": []}
        for _ in range(args.repeat):  # interleaved, so a busy spell hits all three alike
            runs["ref"].append(hand(x, y, args.epochs))
            runs["quiet"].append(library(backend, args.samples, args.epochs, False))
            runs["bars"].append(library(backend, args.samples, args.epochs, True))
        ref = max(runs["ref"])
        quiet = max(runs["quiet"], key=lambda r: r[0])
        bars = max(runs["bars"], key=lambda r: r[0])
        table.add_row(backend, "hand-written", f"{ref:,.0f}", "1.00", "-")
        table.add_row(backend, "modelspec train --no-progress", f"{quiet[0]:,.0f}", f"{quiet[0] / ref:.2f}",
                      f"{quiet[1]:.2f} s")
        table.add_row(backend, "modelspec train (progress bars)", f"{bars[0]:,.0f}", f"{bars[0] / ref:.2f}",
                      f"{bars[1]:.2f} s")
    Console().print(table)


if __name__ == "__main__":
    main()

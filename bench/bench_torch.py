"""Emitted Torch models against hand-written PyTorch (tests/reference), on CPU.

Run:  .venv/bin/python bench/bench_torch.py [--reps N] [--quick]

For each model both versions hold the same weights.  Timings are interleaved
(emitted, hand-written, hand-written, emitted, ...) after a warm-up, repeated, and
the median is reported: "forward" is inference (eval mode, no_grad), "fwd+bwd" a
training step's forward and backward (train mode).  Two threads, so that the
figures are comparable across machines and other load on the machine matters less.
The target is emitted / hand-written <= 1.05.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from modelspec.build import build_graph  # noqa: E402
from modelspec.pipeline import load  # noqa: E402
from tests.reference import dynvision, mithril, resnet  # noqa: E402


def copy(model: nn.Module, ref: nn.Module, to_ref: Callable[[str], str]) -> nn.Module:
    sd = ref.state_dict()
    model.load_state_dict({k: sd[to_ref(k)] for k in model.state_dict()}, strict=True)
    return model


def mlp() -> tuple[nn.Module, nn.Module, torch.Tensor]:
    ref = mithril.MLP(784, (256, 128, 64), 10, dropout=0.1)
    model = build_graph(load(ROOT / "specs/mlp.yaml"))
    copy(model, ref, lambda k: re.sub(r"^linear_(\d)", r"hidden.\1", k).replace("head.", "output."))
    return model, ref, torch.randn(32, 784)


def resnet18() -> tuple[nn.Module, nn.Module, torch.Tensor]:
    ref = resnet.resnet18()
    model = copy(build_graph(load(ROOT / "specs/resnet18.yaml")), ref, lambda k: k)
    return model, ref, torch.randn(8, 3, 224, 224)


def dyrcnn() -> tuple[nn.Module, nn.Module, torch.Tensor]:
    ref = dynvision.DyRCNNx4()

    def to_ref(k: str) -> str:
        k = re.sub(r"^(V1|V2|V4|IT)\.edges\.recurrence\.via\.", r"\1.recurrence.", k)
        return re.sub(r"^edges\.(\w+)\.adapt\.", r"\1.", k)

    model = copy(build_graph(load(ROOT / "specs/dyrcnn_x4.yaml")), ref, to_ref)
    return model, ref, torch.rand(16, 20, 3, 32, 32)


CASES = {
    "MLP (batch 32)": (mlp, 50),
    "ResNet-18 (batch 8, 224x224)": (resnet18, 1),
    "DyRCNNx4 (batch 16, 20 steps, 32x32)": (dyrcnn, 1),
}


def forward(model: nn.Module, x: torch.Tensor, inner: int) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            for _ in range(inner):
                model(x)
    return run


def train_step(model: nn.Module, x: torch.Tensor, inner: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(inner):
            model.zero_grad(set_to_none=True)
            model(x).sum().backward()
    return run


def timed(fn: Callable[[], None]) -> tuple[float, float]:
    """(wall-clock, process CPU) seconds of one call."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def compare(a: Callable[[], None], b: Callable[[], None], reps: int,
            warmup: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """(wall, cpu) seconds per repetition of ``a`` and ``b``, interleaved (ABBA) after a warm-up."""
    for _ in range(warmup):
        a()
        b()
    ta: list[tuple[float, float]] = []
    tb: list[tuple[float, float]] = []
    for i in range(reps):
        if i % 2:
            tb.append(timed(b))
            ta.append(timed(a))
        else:
            ta.append(timed(a))
            tb.append(timed(b))
    return ta, tb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="timed repetitions per case")
    parser.add_argument("--quick", action="store_true", help="3 repetitions (a smoke run)")
    args = parser.parse_args()
    reps = 3 if args.quick else args.reps
    torch.set_num_threads(2)
    torch.manual_seed(0)
    load_before = os.getloadavg()[0]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {reps} "
          f"(load average {load_before:.1f})")
    header = (f"{'model':38} {'pass':8} {'emitted ms':>11} {'hand ms':>9} {'ratio':>6} "
              f"{'cpu ratio':>9} {'min ratio':>9}")
    print(header)
    print("-" * len(header))
    for name, (make, inner) in CASES.items():
        model, ref, x = make()
        for mode, wrap, train in (("forward", forward, False), ("fwd+bwd", train_step, True)):
            model.train(train)
            ref.train(train)
            ta, tb = compare(wrap(model, x, inner), wrap(ref, x, inner), reps, warmup=2)
            wall_a, wall_b = [w for w, _ in ta], [w for w, _ in tb]
            te, th = statistics.median(wall_a) / inner * 1e3, statistics.median(wall_b) / inner * 1e3
            cpu = statistics.median(c for _, c in ta) / statistics.median(c for _, c in tb)
            best = min(wall_a) / min(wall_b)
            print(f"{name:38} {mode:8} {te:11.3f} {th:9.3f} {te / th:6.3f} {cpu:9.3f} {best:9.3f}",
                  flush=True)
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after. ratio: of the "
          "median wall-clock times; cpu ratio: of the median process CPU times; min ratio: of the "
          "fastest runs (the last two are less sensitive to other load on the machine)")

if __name__ == "__main__":
    main()

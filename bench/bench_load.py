"""`modelspec.load()` of a long generated MLP against a plain `yaml.load(..., CSafeLoader)` of the same file.

Run:  python bench/bench_load.py [--reps N] [--json]

The spec lists every layer (Linear and ReLU alternating, no `foreach`), so
every layer is parsed, validated, expanded and shape-checked.  Both contenders
read the file; they alternate in one process.  The per-layer row divides the
time per layer at 10,000 layers by the time per layer at 100 (1.0: linear).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from timing import ROOT, Row, emit, interleaved, ratio, reps_arg

sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import modelspec  # noqa: E402


def mlp_spec(layers: int) -> str:
    """`layers` entries in `layers:`: Linear(64) and ReLU alternating, the last a Linear(10) head."""
    lines = ["modelspec: 1", "name: Deep", "inputs:", "  x: [B, 64]", "layers:"]
    for k in range(layers - 1):
        lines.append(f"  - {{name: fc{k}, op: Linear, features: 64}}" if k % 2 == 0
                     else f"  - {{name: act{k}, op: ReLU}}")
    lines.append("  - {name: head, op: Linear, features: 10}")
    return "\n".join(lines) + "\n"


def plain_yaml(path: Path):
    def run() -> None:
        with open(path, encoding="utf-8") as fh:
            yaml.load(fh.read(), Loader=yaml.CSafeLoader)
    return run


def load(path: Path):
    def run() -> None:
        modelspec.load(path)
    return run


def main() -> None:
    reps = reps_arg(7)
    rows = []
    per_layer: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for n in (100, 1_001, 10_000):
            paths[n] = Path(d, f"mlp_{n}.yaml")
            paths[n].write_text(mlp_spec(n))
        modelspec.load(paths[100])  # imports
        for n, now in ((1_001, "4.51x"), (10_000, "6.60x")):
            t = interleaved({"modelspec": load(paths[n]), "yaml": plain_yaml(paths[n])}, reps)
            lo, med = ratio(t, "modelspec", "yaml")
            rows.append(Row(f"`modelspec.load()`, MLP of {n:,} layers, over `yaml.load(CSafeLoader)`",
                            now, "≤ 2.0x", lo, med))
            per_layer[n] = [x / n for x in t["modelspec"]]
        small = interleaved({"load": load(paths[100])}, reps * 10)["load"]
        per_layer[100] = [x / 100 for x in small]
    big = per_layer[10_000]
    rows.append(Row("`modelspec.load()` time per layer, 10,000 layers over 100", "1.87x", "≤ 1.2x",
                    min(big) / min(per_layer[100]), statistics.median(big) / statistics.median(per_layer[100])))
    emit(rows)


if __name__ == "__main__":
    main()

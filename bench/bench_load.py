"""`modelspec.load()` of a long generated MLP against a plain `yaml.load(..., CSafeLoader)` of the same file.

Run:  python bench/bench_load.py [--reps N] [--json]

The spec lists every layer (Linear and ReLU alternating, no `foreach`), so
every layer is parsed, validated, expanded and shape-checked.  Both contenders
read the file; they alternate in one process.  `modelspec.load()` pauses the
cyclic garbage collector while it compiles, so the plain load runs with it
paused too (with it running, `yaml.load` itself is super-linear and the ratio
flatters us).  The per-layer row divides the time per layer at 10,000 layers
by the time per layer at 100 (1.0: linear), both taken in the same interleaved
run (the 100-layer contender loads its file 10 times per call).  Two rows give
the share of reading the file (YAML to data and positions); the rest is
validation, expansion and the IR passes.
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
from pathlib import Path

from timing import ROOT, Row, emit, interleaved, ratio, reps_arg

sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

import modelspec  # noqa: E402
from modelspec.diagnostics import Diagnostics  # noqa: E402
from modelspec.load import load_document  # noqa: E402


#: "now": before issue 11 (main at 21996fd), min / median, on the machine of the README's table
NOW_1001, NOW_10000, NOW_PER_LAYER = "34.6x / 3.40x", "4.03x / 3.98x", "1.11x / 1.06x"


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
        was = gc.isenabled()
        gc.disable()
        try:
            with open(path, encoding="utf-8") as fh:
                yaml.load(fh.read(), Loader=yaml.CSafeLoader)
        finally:
            if was:
                gc.enable()
    return run


def read(path: Path):
    """`load_document` alone: the YAML read into data with a position for every key and value."""
    def run() -> None:
        was = gc.isenabled()
        gc.disable()
        try:
            load_document(path, Diagnostics())
        finally:
            if was:
                gc.enable()
    return run


def load(path: Path, times: int = 1):
    def run() -> None:
        for _ in range(times):
            modelspec.load(path)
    return run


def main() -> None:
    reps = reps_arg(7)
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for n in (100, 1_001, 10_000):
            paths[n] = Path(d, f"mlp_{n}.yaml")
            paths[n].write_text(mlp_spec(n))
        modelspec.load(paths[100])  # imports
        t = interleaved({"load 100": load(paths[100], 10),
                         "load 1001": load(paths[1_001]), "yaml 1001": plain_yaml(paths[1_001]),
                         "load 10000": load(paths[10_000]), "yaml 10000": plain_yaml(paths[10_000]),
                         "read 1001": read(paths[1_001]), "read 10000": read(paths[10_000])}, reps)
    rows = []
    for n, now in ((1_001, NOW_1001), (10_000, NOW_10000)):
        lo, med = ratio(t, f"load {n}", f"yaml {n}")
        rows.append(Row(f"`modelspec.load()`, MLP of {n:,} layers, over `yaml.load(CSafeLoader)`",
                        now, "≤ 2.0x", lo, med))
    for n in (1_001, 10_000):
        lo, med = ratio(t, f"read {n}", f"yaml {n}")
        rows.append(Row(f"of which reading the file (`load_document`), {n:,} layers, over `yaml.load(CSafeLoader)`",
                        "", "", lo, med))
    small, big = [x / 1_000 for x in t["load 100"]], [x / 10_000 for x in t["load 10000"]]
    rows.append(Row("`modelspec.load()` time per layer, 10,000 layers over 100", NOW_PER_LAYER, "≤ 1.2x",
                    min(big) / min(small), statistics.median(big) / statistics.median(small)))
    emit(rows)


if __name__ == "__main__":
    main()

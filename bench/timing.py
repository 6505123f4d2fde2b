"""Shared by the issue-11 benches: interleaved timing, result rows, the machine line.

Every measure is a ratio (or a time) taken side by side in one interleaved run:
the contenders alternate order every repetition, so drifting load on a shared
machine hits both alike.  A bench script prints its rows as a markdown table,
or as JSON lines with ``--json`` for `bench/issue11.py`, which joins them: any
bench/bench_*.py that imports this module and reports through `emit` is part of
`make bench`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

#: the checkout measured: this one, or $MODELSPEC_BENCH_TREE (bench/issue11.py --tree DIR)
ROOT = Path(os.environ.get("MODELSPEC_BENCH_TREE") or Path(__file__).resolve().parent.parent).resolve()
HEADER = "| measure | now | target | min | median |\n|---|---|---|---:|---:|"


@dataclass
class Row:
    """One line of the table: ``now`` is the figure before issue 11, on the same machine."""

    measure: str
    now: str
    target: str
    min: float
    median: float
    unit: str = "x"

    def markdown(self) -> str:
        fmt = (lambda v: f"{v:.2f} s") if self.unit == "s" else (lambda v: f"{v:.2f}x")
        return f"| {self.measure} | {self.now} | {self.target} | {fmt(self.min)} | {fmt(self.median)} |"


def interleaved(fns: dict[str, Callable[[], Any]], reps: int, warm: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each function, alternating the order every repetition."""
    keys = list(fns)
    for _ in range(warm):
        for k in keys:
            fns[k]()
    times: dict[str, list[float]] = {k: [] for k in keys}
    for i in range(reps):
        for k in (keys if i % 2 == 0 else keys[::-1]):
            t0 = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t0)
    return times


def ratio(times: dict[str, list[float]], num: str, den: str) -> tuple[float, float]:
    """(min ratio, median ratio) of two contenders: min over min, median over median."""
    a, b = times[num], times[den]
    return min(a) / min(b), statistics.median(a) / statistics.median(b)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Machine: {cpu_model()}, {os.cpu_count()} cores, load average {load:.2f}; "
            f"Python {platform.python_version()}, torch {version('torch')}, jax {version('jax')}, "
            f"pyyaml {version('pyyaml')}, pydantic {version('pydantic')}, typer {version('typer')}, "
            f"rich {version('rich')}.")


def emit(rows: list[Row]) -> None:
    """JSON lines with ``--json`` (for bench/issue11.py), else a markdown table and the machine."""
    if "--json" in sys.argv:
        for r in rows:
            print(json.dumps(asdict(r)))
        return
    print(HEADER)
    for r in rows:
        print(r.markdown())
    print()
    print(machine())


def reps_arg(default: int) -> int:
    """``--reps N`` (at least 5)."""
    if "--reps" in sys.argv:
        return max(5, int(sys.argv[sys.argv.index("--reps") + 1]))
    return default

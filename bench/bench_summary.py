"""`modelspec summary` of a 2,000-node spec: seconds from file to printed table.

Run:  python bench/bench_summary.py [--reps N] [--json]

In one process (start-up is bench_startup's measure): compile the spec and
print the table, as the command does when its output is not a terminal, to
/dev/null; the table alone (from the checked graph); and `modelspec.load()`
alone, the three interleaved.  The last row is what the table costs on top
of the front end.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

from timing import ROOT, Row, emit, interleaved, ratio, reps_arg

sys.path.insert(0, str(ROOT))

import modelspec  # noqa: E402
from modelspec.commands.summary import render_summary  # noqa: E402

from bench_load import mlp_spec  # noqa: E402

NOW_TABLE = "5.52 s / 8.98 s"


def summary(path: Path):
    def run() -> None:
        render(modelspec.load(path))()
    return run


def render(g: object):
    def run() -> None:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            render_summary(g, "table", None)
    return run


def main() -> None:
    reps = reps_arg(7)
    os.environ.pop("COLUMNS", None)
    os.environ.pop("FORCE_COLOR", None)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "mlp_2000.yaml")
        path.write_text(mlp_spec(2_000))
        t = interleaved({"summary": summary(path), "load": lambda: modelspec.load(path),
                         "table": render(modelspec.load(path))}, reps)
    lo, med = ratio(t, "summary", "load")
    # "now": before issue 11 (main at 21996fd), min / median, on the machine of the README's table
    emit([Row("`summary` of a 2,000-node spec (compile + table), seconds", "7.35 s / 9.26 s", "≤ 0.3 s",
              min(t["summary"]), statistics.median(t["summary"]), "s"),
          Row("its table alone (checked graph to printed table), seconds", NOW_TABLE, "",
              min(t["table"]), statistics.median(t["table"]), "s"),
          Row("`summary` over `modelspec.load()` of the same spec", "6.02x / 4.77x", "", lo, med)])


if __name__ == "__main__":
    main()

"""`modelspec summary` of a 2,000-node spec: seconds from file to printed table.

Run:  python bench/bench_summary.py [--reps N] [--json]

In one process (start-up is bench_startup's measure): compile the spec and
print the table, as the command does when its output is not a terminal, to
/dev/null.  A second row gives the same time over `modelspec.load()` alone,
taken interleaved: what the table itself costs on top of the front end.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from timing import ROOT, Row, emit, interleaved, ratio, reps_arg

sys.path.insert(0, str(ROOT))

import modelspec  # noqa: E402
from modelspec.commands.summary import render_summary  # noqa: E402

from bench_load import mlp_spec  # noqa: E402


def summary(path: Path):
    def run() -> None:
        g = modelspec.load(path)
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            render_summary(g, "table", None)
    return run


def main() -> None:
    reps = reps_arg(7)
    os.environ.pop("COLUMNS", None)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d, "mlp_2000.yaml")
        path.write_text(mlp_spec(2_000))
        t = interleaved({"summary": summary(path), "load": lambda: modelspec.load(path)}, reps)
    s = sorted(t["summary"])
    lo, med = ratio(t, "summary", "load")
    emit([Row("`summary` of a 2,000-node spec (compile + table)", "2.06 s", "≤ 0.3 s", s[0], s[len(s) // 2], "s"),
          Row("same, over `modelspec.load()` alone", "12.1x", "", lo, med)])


if __name__ == "__main__":
    main()

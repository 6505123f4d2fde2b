"""Every speed target of issue 11 in one markdown table: `make bench`.

Run:  python bench/issue11.py [--reps N] [--tree DIR]

Runs each bench script that reports through `timing.emit` (start-up, the front
end, summary, and any other script here that does, such as a training-loop
bench) with ``--json``, one after the other, and prints their rows as ONE table
(measure, now, target, min, median) and the machine it ran on.  ``now`` is the
figure before the work on issue 11, measured with these same scripts on the
same machine.  ``--tree DIR`` measures another checkout of modelspec (its
package, these scripts), for a before/after pair.
"""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

from timing import HEADER, ROOT, Row, machine

HERE = Path(__file__).resolve().parent
FIRST = ["bench_startup.py", "bench_load.py", "bench_summary.py"]


def scripts() -> list[Path]:
    """The issue-11 scripts first, then any other bench script that reports through `timing.emit`
    (one that only borrows its timing helpers, as bench_speed does, prints its own table)."""
    others = sorted(p for p in HERE.glob("bench_*.py") if p.name not in FIRST
                    and re.search(r"^from timing import .*\bemit\b", p.read_text(encoding="utf-8"), re.M))
    return [HERE / name for name in FIRST] + others


def main() -> None:
    args = sys.argv[1:]
    tree = ROOT
    if "--tree" in args:
        k = args.index("--tree")
        tree = Path(args[k + 1]).resolve()
        del args[k:k + 2]
    env = {**os.environ, "MODELSPEC_BENCH_TREE": str(tree)}
    rows: list[Row] = []
    for script in scripts():
        print(f"running {script.name} ...", file=sys.stderr, flush=True)
        out = subprocess.run([sys.executable, str(script), "--json", *args], env=env, cwd=tree,
                             capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stdout + out.stderr, file=sys.stderr)
            raise SystemExit(f"{script.name} failed (exit {out.returncode})")
        rows += [Row(**json.loads(line)) for line in out.stdout.splitlines() if line.startswith("{")]
    print(HEADER)
    for r in rows:
        print(r.markdown())
    print()
    print(machine() + ("" if tree == ROOT else f"  Tree measured: {tree}."))


if __name__ == "__main__":
    main()

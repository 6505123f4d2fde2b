"""Whole-process start-up of the commands users type most, against Python importing yaml and pydantic.

Run:  python bench/bench_startup.py [--reps N] [--json]

The tree's bytecode is compiled first, as an installed package's is.  Each command runs as a fresh process (this tree first on PYTHONPATH), the
processes alternating order every repetition; the ratio is command time over
``python -c "import yaml, pydantic"`` time (min over min, median over median).
"""

from __future__ import annotations

import os
import subprocess
import sys

from timing import ROOT, Row, emit, interleaved, ratio, reps_arg

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}


def console_script() -> list[str]:
    """The tree's `modelspec` console script: import the module pyproject.toml names, call its function."""
    import tomllib

    target = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["modelspec"]
    module, func = target.split(":")
    return [sys.executable, "-c", f"import sys; from {module} import {func}; sys.argv[0] = 'modelspec'; {func}()"]


MODELSPEC = console_script()
BASE = [sys.executable, "-c", "import yaml, pydantic"]
#: "now": before issue 11 (main at 21996fd), min / median, on the machine of the README's table
CASES = {
    "lint": ("`modelspec lint specs/mlp.yaml`, whole process", "3.75x / 4.10x", ["lint", "specs/mlp.yaml"]),
    "help": ("`modelspec --help`, whole process", "3.54x / 3.51x", ["--help"]),
    "version": ("`modelspec --version`, whole process", "2.57x / 3.52x (no --version yet: a usage error)",
                ["--version"]),
}
TARGET = "≤ 1.5x `python -c \"import yaml, pydantic\"`"


def runner(cmd: list[str]):
    def run() -> None:
        subprocess.run(cmd, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return run


def main() -> None:
    reps = reps_arg(11)
    # an installed package has its bytecode cached; PYTHONDONTWRITEBYTECODE must not make us time the compiler
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "modelspec")], check=True)
    fns = {"base": runner(BASE)}
    for key, (_, _, args) in CASES.items():
        fns[key] = runner(MODELSPEC + args)
    times = interleaved(fns, reps)
    rows = []
    for key, (label, now, _) in CASES.items():
        lo, med = ratio(times, key, "base")
        rows.append(Row(label, now, TARGET, lo, med))
    emit(rows)


if __name__ == "__main__":
    main()

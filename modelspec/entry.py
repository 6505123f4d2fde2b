"""The `modelspec` console script: `--version` is answered before the command line loads.

The command line (typer, every command's options) costs more to start than
the answer to `modelspec --version`; every other argument list goes to
`modelspec.cli`, which prints the same line for `--version` in any other
position (`modelspec -V lint`, ...).
"""

from __future__ import annotations

import sys
from typing import List, Optional

from .version import __version__


def main(argv: Optional[List[str]] = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        print(f"modelspec {__version__}")
        sys.exit(0)
    from .cli import main as run  # lazy: a heavy command (typer and every command's options)

    run(argv)

"""When output gets colour, and the few styles the plain-text reports use.

Colour goes to a terminal only: never into a pipe, a file or a CI log, and
never when `NO_COLOR` is set (https://no-color.org; with it no escape code at
all is written, not even bold).  `FORCE_COLOR` turns it on where no terminal
is seen, as rich and most tools do.
"""

from __future__ import annotations

import os
import sys
from typing import IO, Any

#: SGR codes of the styles the text reports use
_SGR = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35",
        "cyan": "36"}


def wants_colour(stream: IO[str] | None = None) -> bool:
    """Whether text written to ``stream`` (default stdout) should carry colour."""
    env = os.environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR"):
        return True
    if env.get("TERM") == "dumb":
        return False
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def paint(text: str, style: str, on: bool) -> str:
    """``text`` in ``style`` (``"bold red"``) when ``on``; unchanged otherwise.

    Only ever applied to text already made printable: the codes are ours, never the spec's.
    """
    if not on or not text:
        return text
    codes = ";".join(_SGR[s] for s in style.split())
    return f"\x1b[{codes}m{text}\x1b[0m"


def console(stream: IO[str] | None = None, **kwargs: Any) -> Any:
    """A rich Console for ``stream`` that colours exactly when `wants_colour` says so."""
    from rich.console import Console

    stream = sys.stdout if stream is None else stream
    if wants_colour(stream):
        return Console(file=stream, force_terminal=True, highlight=False, **kwargs)
    return Console(file=stream, color_system=None, force_terminal=False, highlight=False, **kwargs)

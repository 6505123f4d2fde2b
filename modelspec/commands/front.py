"""What every spec command does before its own job: grant trust, read `--set`, compile or exit.

Kept apart from `modelspec.cli` so that the command line can import it only
for the commands that compile a spec: `--help`, `--version` and `explain`
never load the front end.
"""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional

import typer

from ..diagnostics import Diagnostics
from ..expand.params import parse_overrides, set_label
from ..pipeline import compile_file
from ..trust import Trust
from .colour import wants_colour
from .report import printable, text


def trust_or_exit(allow_plugins: bool, plugins: Optional[List[str]], root: Optional[str],
                  project_plugins: bool = True) -> Trust:
    """The trust the command line grants; the spec never grants any."""
    if root is not None and not os.path.isdir(root):
        typer.echo(f"error: --root {root!r} is not a directory", err=True)
        raise typer.Exit(2)
    return Trust(allow_plugins, frozenset(plugins or ()), root, project_config=project_plugins)


def overrides_or_exit(items: Optional[List[str]]) -> dict[str, Any]:
    """`--set NAME=VALUE` items as overrides; exit 2 with located problems when one is malformed."""
    diags = Diagnostics()
    out = parse_overrides(items or [], diags)
    if diags.has_errors:  # located in the argument: `<--set 2>:1:9`, echoed when short
        sources = {set_label(k): item for k, item in enumerate(items or []) if len(item) <= 200}
        on = wants_colour(sys.stderr)
        typer.echo(text(diags.sorted(), sources, colour=on), err=True, color=on)
        raise typer.Exit(2)
    return out


def load_or_exit(spec: str, sets: Optional[List[str]], *, strict: bool = False, trust: Any = None) -> Any:
    """Compile a spec; print its problems and exit 1 when it has errors (2 when it does not exist)."""
    if not os.path.lexists(spec):
        typer.echo(f"error: no such file: {printable(spec)}", err=True)
        raise typer.Exit(2)
    r = compile_file(spec, overrides_or_exit(sets), trust=trust)
    sources = {r.doc.file: r.doc.text} if r.doc else {}
    sources.update({set_label(k): item for k, item in enumerate(sets or []) if len(item) <= 200})
    problems = r.diags.sorted()
    failed = r.graph is None or any(d.is_error or strict for d in problems)
    on = wants_colour(sys.stderr)
    if problems and (failed or strict):
        typer.echo(text(problems, sources, strict, colour=on), err=True, color=on)
    elif problems:
        typer.echo(text(problems, sources, colour=on), err=True, color=on)
    if failed:
        raise typer.Exit(1)
    return r.graph

"""`summary --backend NAME`: build the model and check it against the IR in one line."""

from __future__ import annotations

import typer

from ..backends.checking import free_symbols
from ..build import BuildError, get_backend, load_module
from ..ir.graph import Graph

#: sizes for free input symbols when checking (B is the batch)
DEFAULT_SIZE = {"B": 2}
OTHER_SIZE = 8


def verify_backend(g: Graph, backend: str) -> int:
    """Build ``g`` with ``backend``; compare parameter count, state_dict and output shapes.

    Prints a one-line verdict; returns 0 when everything matches, 1 on a mismatch
    (or a model that does not run), 2 for an unknown backend.
    """
    try:
        be = get_backend(backend)
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    if be.verify is None:
        typer.echo(f"error: the {backend} backend cannot be verified", err=True)
        return 2
    sizes = {s: DEFAULT_SIZE.get(s, OTHER_SIZE) for s in free_symbols(g)}
    try:
        model = be.instantiate(load_module(g, backend))
        problems = be.verify(g, model, sizes)
    except Exception as exc:  # noqa: BLE001 - report, never a traceback
        typer.echo(f"{backend}: FAILED to build or run: {type(exc).__name__}: {exc}")
        return 1
    if problems:
        typer.echo(f"{backend}: MISMATCH with the IR: {'; '.join(problems)}")
        return 1
    n_state = len(g.param_names()) + len(g.buffer_names())
    typer.echo(f"{backend}: ok: {g.n_params:,} parameters, {n_state} state_dict entries and "
               f"{len(g.outputs)} output shape(s) match the IR")
    return 0

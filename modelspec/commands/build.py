"""`modelspec build`: write a backend's source for a spec, and optionally check it runs."""

from __future__ import annotations

import typer

from ..backends.checking import DimError
from ..build import BuildError, emit, get_backend, import_source, module_name
from ..ir.graph import Graph
from .dimargs import DimsError, parse_dims


def run_build(g: Graph, backend: str, output: str | None, check: bool, dims: list[str],
              weights: str | None = None, stateful: bool = False) -> int:
    """Emit (to ``output`` or stdout), then run ``--check``; returns the exit code.

    ``--backend onnx`` is not a source backend: it exports the Torch module to a file."""
    if backend == "onnx":
        try:
            sizes = parse_dims(dims)
        except DimsError as exc:
            typer.echo(f"error: {exc}", err=True)
            return 2
        from . import onnx_export  # lazy: torch, onnx and onnxscript, only for --backend onnx

        return onnx_export.run(g, output, sizes, weights)
    if weights:
        typer.echo("error: --weights is for --backend onnx (the emitted source has no weights)", err=True)
        return 2
    try:
        be = get_backend(backend)
        sizes = parse_dims(dims)
    except (BuildError, DimsError) as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    try:
        source = emit(g, backend, stateful)
    except BuildError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except Exception as exc:
        if not type(exc).__name__.endswith("EmitError"):
            raise
        typer.echo(f"error: cannot write {backend} code for this spec: {exc}", err=True)
        return 1
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(source)
    elif not check:
        typer.echo(source, nl=False)
    if not check:
        return 0
    run_check = be.check_stateful if stateful else be.check
    if run_check is None:
        typer.echo(f"error: the {backend} backend has no --check" + (" for --stateful" if stateful else ""), err=True)
        return 2
    try:
        mod = import_source(source, module_name(source, backend), output or f"<{g.name} {backend}>")
        verdict = run_check(g, mod, sizes)
    except DimError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except Exception as exc:  # noqa: BLE001 - a failed check is a finding, not a crash
        typer.echo(f"{backend} check failed: {type(exc).__name__}: {exc}", err=True)
        return 1
    typer.echo(f"{backend}: {verdict}")
    return 0

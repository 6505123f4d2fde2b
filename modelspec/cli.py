"""The `modelspec` command line (typer).

Each command lives in `modelspec.commands`; this module only parses options.
Front-end commands never import torch or jax, so they start fast.
Exit codes: 0 clean, 1 problems found in a spec, 2 usage or internal error.
"""

from __future__ import annotations

import sys
from typing import Any, List, Optional

import typer

app = typer.Typer(
    name="modelspec",
    help="A declarative model-spec compiler: YAML/TOML in, checked IR, PyTorch and JAX source out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SetOpt = typer.Option(None, "--set", metavar="NAME=VALUE", help="Override a spec param (value read as YAML).")


def _overrides(items: Optional[List[str]]) -> dict[str, Any]:
    from .commands.report import text
    from .diagnostics import Diagnostics
    from .expand.params import parse_overrides

    diags = Diagnostics()
    out = parse_overrides(items or [], diags)
    if diags.has_errors:
        typer.echo(text(diags.sorted(), {}), err=True)
        raise typer.Exit(2)
    return out


def load_or_exit(spec: str, sets: Optional[List[str]], *, strict: bool = False) -> Any:
    """Compile a spec; print its problems and exit 1 when it has errors."""
    from .commands.report import text
    from .pipeline import compile_file

    r = compile_file(spec, _overrides(sets))
    sources = {r.doc.file: r.doc.text} if r.doc else {}
    problems = r.diags.sorted()
    failed = r.graph is None or any(d.is_error or strict for d in problems)
    if problems and (failed or strict):
        typer.echo(text(problems, sources, strict), err=True)
    elif problems:
        typer.echo(text(problems, sources), err=True)
    if failed:
        raise typer.Exit(1)
    return r.graph


@app.command()
def lint(
    paths: List[str] = typer.Argument(..., help="Spec files or directories."),
    format: str = typer.Option("text", "--format", "-f", help="text | github | sarif | json"),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the report to a file."),
    sets: Optional[List[str]] = SetOpt,
) -> None:
    """Validate and shape-check specs; exit 0 clean, 1 problems found, 2 usage error."""
    from .commands.lint import FORMATS, lint as run, render

    if format not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}, not {format!r}", err=True)
        raise typer.Exit(2)
    res = run(paths, _overrides(sets))
    out = render(res, format, strict)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(out + "\n")
    elif out:
        typer.echo(out)
    raise typer.Exit(1 if res.failed(strict) else 0)


@app.command()
def summary(
    spec: str = typer.Argument(..., help="The spec file."),
    format: str = typer.Option("table", "--format", "-f", help="table | markdown | json"),
    depth: Optional[int] = typer.Option(None, "--depth", "-d", help="Collapse scopes deeper than N."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Also build with torch and check the counts."),
    sets: Optional[List[str]] = SetOpt,
) -> None:
    """A table of the model: scopes, ops, inputs with delays, shapes, parameters, MACs."""
    from .commands.summary import FORMATS, render_summary

    if format not in FORMATS:
        typer.echo(f"error: --format must be one of {', '.join(FORMATS)}, not {format!r}", err=True)
        raise typer.Exit(2)
    g = load_or_exit(spec, sets)
    render_summary(g, format, depth)
    if backend:
        from .commands.verify import verify_backend

        raise typer.Exit(verify_backend(g, backend))


@app.command()
def graph(
    spec: str = typer.Argument(..., help="The spec file."),
    output: str = typer.Option(..., "--output", "-o", help="model.dot | model.mmd | model.svg | model.png"),
    sets: Optional[List[str]] = SetOpt,
) -> None:
    """Draw the graph: DOT and Mermaid always, SVG/PNG through Graphviz's `dot`."""
    from .commands.graph import write_graph

    g = load_or_exit(spec, sets)
    raise typer.Exit(write_graph(g, output))


@app.command()
def render(
    spec: str = typer.Argument(..., help="The spec file."),
    format: str = typer.Option("yaml", "--format", "-f", help="yaml | json"),
    sets: Optional[List[str]] = SetOpt,
) -> None:
    """The fully expanded spec, every default filled in."""
    from .commands.render import render_spec

    g = load_or_exit(spec, sets)
    typer.echo(render_spec(g, format))


@app.command()
def schema(output: Optional[str] = typer.Option(None, "--output", "-o", help="Write to a file.")) -> None:
    """Print the JSON Schema of the spec language (for editors)."""
    from .validate.schema import schema_text

    text = schema_text()
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        typer.echo(text, nl=False)


@app.command()
def explain(code: Optional[str] = typer.Argument(None, help="A code such as MS050; none lists them all.")) -> None:
    """What an error code means and how to fix it."""
    from .commands.explain import explain as run

    raise typer.Exit(run(code))


def main(argv: Optional[List[str]] = None) -> None:
    try:
        app(args=argv, prog_name="modelspec")
    except SystemExit as exc:
        code = exc.code
        if code not in (0, 1, None) and not isinstance(code, int):
            code = 2
        sys.exit(code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - no traceback reaches a user
        import os
        import traceback

        if os.environ.get("MODELSPEC_DEBUG"):
            traceback.print_exc()
        print(f"modelspec: internal error: {type(exc).__name__}: {exc}\n"
              "  this is a bug in modelspec; set MODELSPEC_DEBUG=1 for the traceback and please report it",
              file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()

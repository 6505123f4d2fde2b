"""`modelspec explain`: the catalog of codes, from `modelspec.codes`."""

from __future__ import annotations

import typer

from ..codes import CODES
from ..diagnostics import did_you_mean


def explain_text(code: str) -> str:
    c = CODES[code]
    parts = [f"{c.code}: {c.title} ({c.severity.value})", "", c.explanation]
    if c.example:
        parts += ["", "Example:", *("    " + line for line in c.example.splitlines())]
    return "\n".join(parts)


def explain(code: str | None) -> int:
    if code is None:
        for c in CODES.values():
            typer.echo(f"{c.code}  {c.severity.value:<7}  {c.title}")
        return 0
    key = code.upper()
    if key.isdigit():
        key = f"MS{int(key):03d}"
    if key not in CODES:
        hint = did_you_mean(key, CODES)
        typer.echo(f"error: unknown code {code!r}" + (f"; {hint}" if hint else "") +
                   " (run `modelspec explain` for the list)", err=True)
        return 2
    typer.echo(explain_text(key))
    return 0


def errors_markdown() -> str:
    """docs/errors.md, generated from the catalog (a test checks it is current)."""
    lines = ["# Error codes", "",
             "Every problem modelspec reports has a stable code. `modelspec explain MS###` prints the same text.",
             ""]
    for c in CODES.values():
        lines += [f"## {c.code}", "", f"**{c.title}** ({c.severity.value})", "", c.explanation, ""]
        if c.example:
            lines += ["```yaml", c.example, "```", ""]
    return "\n".join(lines)

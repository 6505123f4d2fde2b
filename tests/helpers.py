"""What many tests share: a spec's text from its body, and compiling one from text."""

from __future__ import annotations

import textwrap

from modelspec.diagnostics import Diagnostic
from modelspec.ir.graph import Graph
from modelspec.pipeline import compile_text


def spec(body: str, *, name: str = "M", inputs: str = "{x: [B, 8]}", head: str = "") -> str:
    """The text of a spec whose top lines are the usual ones: `modelspec: 1`, the name,
    ``head`` (`time:`, `params:` lines, if any), the inputs, then ``body`` (dedented).

    It starts with an empty line, as a triple-quoted spec does, so that the positions
    the tests assert read as in the text written out.
    """
    top = "".join(f"{line}\n" for line in textwrap.dedent(head).splitlines() if line)
    return f"\nmodelspec: 1\nname: {name}\n{top}inputs: {inputs}\n" + textwrap.dedent(body).lstrip("\n")


def compile_(text: str, file: str = "spec.yaml") -> tuple[Graph | None, list[Diagnostic]]:
    """The graph (None when it has errors) and every diagnostic, sorted."""
    res = compile_text(textwrap.dedent(text), file)
    return res.graph, list(res.diags.sorted())


def ir(text: str) -> Graph:
    """The graph of a spec that must compile without errors."""
    g, diags = compile_(text)
    errors = [f"{d.pos}: {d.code} {d.message}" for d in diags if d.is_error]
    assert not errors, errors
    assert g is not None
    return g

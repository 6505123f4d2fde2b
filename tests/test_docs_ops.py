"""The language reference lists every built-in op: adding an op without its line fails here."""

from __future__ import annotations

import re
from pathlib import Path

from modelspec.ops.registry import builtin_ops

DOC = Path(__file__).resolve().parent.parent / "docs" / "language.md"


def _listed() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 8. Ops"):text.index("## 9.")]
    names: set[str] = set()
    for span in re.findall(r"`([^`]*)`", section):
        head = span.split("{", 1)[0]  # `Conv1d/2d/3d{channels, ...}`: the names before the attributes
        for stem, dims in re.findall(r"([A-Z][A-Za-z]*?)((?:[123]d/)+[123]d)", head):
            names |= {stem + d for d in dims.split("/")}
        names |= set(re.findall(r"(?<![A-Za-z0-9])([A-Z][A-Za-z0-9]*)", head))  # `LSTM/GRU`, `ReLU`
    return names


def test_every_builtin_op_is_in_the_language_reference() -> None:
    missing = sorted(set(builtin_ops()) - _listed())
    assert not missing, f"docs/language.md section 8 does not list: {', '.join(missing)}"


def test_the_reference_lists_no_op_that_does_not_exist() -> None:
    listed = {n for n in _listed() if n[0].isupper() and not n.isupper()}
    unknown = sorted(n for n in listed - set(builtin_ops()) if n not in {"Attrs", "TorchRules", "JaxRules"})
    assert not unknown, f"docs/language.md section 8 lists unknown ops: {', '.join(unknown)}"

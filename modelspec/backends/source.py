"""Text helpers shared by the emitters: safe literals, docstrings, dim expressions."""

from __future__ import annotations

import re

_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def q(text: str) -> str:
    """A double-quoted Python string literal for ``text`` (repr() when it needs escapes)."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def printable(text: str) -> str:
    """``text`` with every non-printable character (line breaks included) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def docstring(lines: list[str], indent: str = "") -> list[str]:
    """A triple-quoted docstring whose text cannot end the literal or escape from it."""
    safe = [printable(line).replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    if len(safe) == 1:
        return [f'{indent}"""{safe[0]}"""']
    body = [f"{indent}{s}" if s else "" for s in safe[1:]]
    return [f'{indent}"""{safe[0]}', *body, f'{indent}"""']


def rename_symbols(expr: str, names: dict[str, str]) -> str:
    """A dim expression (``"(H+2-3)//1+1"``) with its symbols replaced by emitted locals."""
    return _NAME_TOKEN.sub(lambda m: names.get(m.group(0), m.group(0)), expr)


def symbols_in(expr: str) -> list[str]:
    """The symbols (identifiers) a dim expression mentions, in order of appearance."""
    seen: list[str] = []
    for m in _NAME_TOKEN.finditer(expr):
        if m.group(0) not in seen:
            seen.append(m.group(0))
    return seen

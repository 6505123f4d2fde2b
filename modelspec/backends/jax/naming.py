"""Names and literals in emitted JAX source: nothing a spec says can become code.

Locals are derived from node paths by keeping ``[A-Za-z0-9_]`` only, checked
against a reserved set and de-duplicated first come, first served, so the same
spec always gets the same names.  Strings reach the source only through `q`
(a quoted literal) or the comment/docstring helpers.
"""

from __future__ import annotations

import builtins
import keyword
import re
from typing import Any

#: module-level names of an emitted JAX module (imports, constants, functions).
MODULE_NAMES = frozenset({
    "annotations", "math", "np", "jax", "jnp", "lax", "NAME", "PARAMS", "STATE", "INPUTS",
    "OUTPUTS", "TIME", "init", "init_state", "apply", "split_state_dict", "state_dict",
})

#: locals ``apply`` and its step function use for themselves.
APPLY_NAMES = frozenset({
    "params", "state", "inputs", "train", "key", "keys", "key_t", "t", "carry", "bufs", "step",
    "xs", "ys", "dtype", "steps", "outputs",
})

_NON_IDENT = re.compile(r"[^0-9A-Za-z_]")
_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class JaxEmitError(Exception):
    """The graph cannot be written as JAX source (an op without JAX code, ...)."""


def reserved_locals() -> set[str]:
    return set(keyword.kwlist) | set(dir(builtins)) | MODULE_NAMES | APPLY_NAMES


def sanitize(text: str) -> str:
    """An identifier from a node path; never starting with ``_`` (helpers own those)."""
    name = _NON_IDENT.sub("_", text).lstrip("_") or "v"
    return f"n_{name}" if name[0].isdigit() else name


class Namer:
    """Hands out unique, deterministic identifiers."""

    def __init__(self, reserved: set[str] | frozenset[str]) -> None:
        self.taken: set[str] = set(reserved)

    def fresh(self, hint: str) -> str:
        base = sanitize(hint)
        name, k = base, 1
        while name in self.taken or keyword.iskeyword(name):
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name


def q(text: str) -> str:
    """A double-quoted string literal for ``text``."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return repr(text)


def literal(value: Any) -> str:
    """Python source for a plain attribute value: numbers, bools, None, strings, tuples."""
    if isinstance(value, (list, tuple)):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, str):
        return q(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"float({q(repr(value))})"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise JaxEmitError(f"cannot write {type(value).__name__} {value!r} as a literal")


def printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def docstring(lines: list[str], indent: str = "") -> list[str]:
    """A triple-quoted docstring whose text cannot end the literal or escape from it."""
    safe = [printable(line).replace("\\", "\\\\").replace('"', '\\"') for line in lines]
    if len(safe) == 1:
        return [f'{indent}"""{safe[0]}"""']
    return [f'{indent}"""{safe[0]}', *(f"{indent}{s}" if s else "" for s in safe[1:]), f'{indent}"""']


def rename_symbols(expr: str, names: dict[str, str]) -> str:
    """A dim expression (``"(H+2-3)//1+1"``) with its symbols replaced by emitted locals."""
    return _NAME_TOKEN.sub(lambda m: names.get(m.group(0), m.group(0)), expr)


def symbols_in(expr: str) -> list[str]:
    seen: list[str] = []
    for m in _NAME_TOKEN.finditer(expr):
        if m.group(0) not in seen:
            seen.append(m.group(0))
    return seen

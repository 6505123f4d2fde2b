"""Symbolic dimensions.

A dim is an ``int`` or a ``str`` holding a symbol (``"B"``) or an expression
of symbols (``"2*L"``, ``"(H+1)//2"``).  Strings keep shapes printable and
hashable; arithmetic folds to ints whenever both sides are concrete.
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

Dim = int | str
Shape = tuple[Dim, ...]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_symbol(d: Dim) -> bool:
    return isinstance(d, str) and bool(_IDENT.match(d))


def concrete(d: Dim) -> bool:
    return isinstance(d, int) and not isinstance(d, bool)


def _wrap(d: Dim) -> str:
    s = str(d)
    return s if concrete(d) or is_symbol(d) else f"({s})"


def mul(a: Dim, b: Dim) -> Dim:
    if concrete(a) and concrete(b):
        return a * b  # type: ignore[operator]
    if a == 1:
        return b
    if b == 1:
        return a
    return f"{_wrap(a)}*{_wrap(b)}"


def add(a: Dim, b: Dim) -> Dim:
    if concrete(a) and concrete(b):
        return a + b  # type: ignore[operator]
    if a == 0:
        return b
    if b == 0:
        return a
    if concrete(b) and b < 0:  # type: ignore[operator]
        return f"{a}-{-b}"  # type: ignore[operator]
    return f"{a}+{_wrap(b)}"


def floordiv(a: Dim, b: Dim) -> Dim:
    if concrete(a) and concrete(b):
        return a // b  # type: ignore[operator]
    if b == 1:
        return a
    return f"{_wrap(a)}//{_wrap(b)}"


def product(dims: Iterable[Dim]) -> Dim:
    out: Dim = 1
    for d in dims:
        out = mul(out, d)
    return out


def conv_out(size: Dim, kernel: int, stride: int, padding: int, dilation: int = 1) -> Dim:
    """Output length of a convolution or pooling window (PyTorch's formula)."""
    span = dilation * (kernel - 1) + 1
    if concrete(size):
        return (size + 2 * padding - span) // stride + 1  # type: ignore[operator]
    inner = add(size, 2 * padding - span)
    return add(floordiv(inner, stride), 1)


def symbols_in(expr: str) -> list[str]:
    """The symbols (identifiers) a dim expression mentions, in order of appearance."""
    seen: list[str] = []
    for m in _NAME_TOKEN.finditer(expr):
        if m.group(0) not in seen:
            seen.append(m.group(0))
    return seen


def fmt_dim(d: Dim) -> str:
    return str(d)


def fmt_shape(shape: Sequence[Dim] | None) -> str:
    if shape is None:
        return "?"
    return "[" + ", ".join(fmt_dim(d) for d in shape) + "]"

"""Text helpers shared by the emitters: safe literals, docstrings, dim expressions."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from ..ops import kit
from ..ops.kit import q
from ..shapes.dims import Dim, Shape, concrete, symbols_in

_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NON_IDENT = re.compile(r"[^0-9A-Za-z_]")

__all__ = ["ContextDims", "Namer", "SymbolicDims", "docstring", "literal", "printable", "q",
           "rename_symbols", "sanitize", "shape_expr", "symbols_in"]


def sanitize(text: str) -> str:
    """An ASCII identifier derived from ``text`` (a node path, a symbol, an output name).

    Never starting with ``_``: the emitted modules' helpers own those names.
    """
    name = _NON_IDENT.sub("_", text).lstrip("_") or "v"
    return f"n_{name}" if name[0].isdigit() else name


class Namer:
    """Hands out unique, deterministic identifiers (first come, first served), so the
    same spec always gets the same names in either backend."""

    def __init__(self, reserved: set[str] | frozenset[str]) -> None:
        self.taken: set[str] = set(reserved)

    def reserve(self, name: str) -> None:
        self.taken.add(name)

    def fresh(self, hint: str, suffix: str = "") -> str:
        base = sanitize(hint) + suffix
        name, k = base, 1
        while name in self.taken or keyword.iskeyword(name):
            name = f"{base}_{k}" if k > 1 else f"{base}_"
            k += 1
        self.taken.add(name)
        return name


def literal(value: Any, error: type[Exception] = ValueError) -> str:
    """Python source for a plain attribute value (`modelspec.ops.kit.literal`, which the
    op rules use too), raising the backend's ``error`` for anything else."""
    try:
        return kit.literal(value)
    except ValueError as exc:
        raise error(str(exc)) from None


def shape_expr(dims: list[str]) -> str:
    """A tuple expression from dim expressions (one-element tuples keep their comma)."""
    return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


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



class SymbolicDims:
    """Writes IR dims as source, binding each symbol (B, H, ...) to one emitted local.

    Users provide ``self.symbols`` (symbol -> local) and ``self.namer`` (with ``fresh``).
    """

    symbols: dict[str, str]
    namer: Any

    def dim(self, d: Dim) -> str:
        if concrete(d):
            return str(d)
        expr = str(d)
        for sym in symbols_in(expr):
            if sym not in self.symbols:
                self.symbols[sym] = self.namer.fresh(sym)
        return rename_symbols(expr, self.symbols)

    def shape(self, s: Shape) -> str:
        return shape_expr([self.dim(d) for d in s])


@dataclass
class ContextDims:
    """What an op rule asks both backends' contexts alike: dims, shapes, its value at
    t-1, statements before its assignment, fresh names and literals.

    The base of the emitters' context dataclasses; each sets ``emit_error`` (the
    backend's exception class) and adds what only its backend has.
    """

    emit_error: ClassVar[type[Exception]] = ValueError
    path: str
    ins: list[Shape]
    out: Shape
    #: time step in ms (``time.dt``), or None for a model without ``time``
    dt: float | None
    _dim: Callable[[Dim], str] = field(default=lambda d: str(d), repr=False)
    _prev: Callable[[], str] | None = field(default=None, repr=False)
    _fresh: Callable[[str], str] = field(default=lambda hint: hint, repr=False)
    pre: list[str] = field(default_factory=list)

    def stmt(self, code: str) -> None:
        """Statements run before the node's assignment, at the same indentation."""
        self.pre.extend(code.splitlines())

    def fresh(self, hint: str) -> str:
        """A new local name, unique in the emitted function."""
        return self._fresh(hint)

    def lit(self, value: Any) -> str:
        """Python source for a plain attribute value."""
        return literal(value, self.emit_error)

    def dim(self, d: Dim) -> str:
        """An expression for an IR dim (an int literal or an expression of symbols)."""
        return self._dim(d)

    def shape(self, s: Shape) -> str:
        """A tuple expression for an IR shape."""
        return shape_expr([self.dim(d) for d in s])

    def prev(self) -> str:
        """The node's own value at t-1 (zeros of its shape at t = 0); stateful ops only."""
        if self._prev is None:
            raise self.emit_error(f"node `{self.path}` reads its previous value outside a time model")
        return self._prev()

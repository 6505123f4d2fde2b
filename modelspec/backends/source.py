"""Text helpers shared by the emitters: safe literals, docstrings, dim expressions."""

from __future__ import annotations

import re
from typing import Any, Callable

from ..ops.kit import q
from ..shapes.dims import Dim, Shape, concrete, symbols_in

_NAME_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

__all__ = ["SymbolicDims", "docstring", "printable", "q", "rename_symbols", "symbols_in"]


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
        dims = [self.dim(d) for d in s]
        return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"


class ContextDims:
    """What an op rule asks both backends' contexts alike: dims, shapes, its value at t-1.

    A mixin for the emitters' context dataclasses, which provide ``path``, ``_dim``,
    ``_prev`` and ``emit_error`` (the backend's exception class).
    """

    path: str
    _dim: Callable[[Dim], str]
    _prev: Callable[[], str] | None
    emit_error: type[Exception]

    def dim(self, d: Dim) -> str:
        """An expression for an IR dim (an int literal or an expression of symbols)."""
        return self._dim(d)

    def shape(self, s: Shape) -> str:
        """A tuple expression for an IR shape."""
        dims = [self.dim(d) for d in s]
        return f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"

    def prev(self) -> str:
        """The node's own value at t-1 (zeros of its shape at t = 0); stateful ops only."""
        if self._prev is None:
            raise self.emit_error(f"node `{self.path}` reads its previous value outside a time model")
        return self._prev()

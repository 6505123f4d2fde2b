"""Shared state of one expansion: where things came from, and how to evaluate."""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from ..diagnostics import Diagnostics, Pos
from ..load.document import Document, Path
from .budget import BudgetExceeded
from .expressions import ExprError, Meter, substitute

#: expression work (items built, see `expressions.Meter`) one whole expansion may do
MAX_EXPR_WORK = 20_000_000


@dataclass(frozen=True)
class Src:
    """A place in a loaded file: the document and the path inside it."""

    doc: Document
    path: Path

    def at(self, *more: str | int) -> "Src":
        return Src(self.doc, self.path + tuple(more))

    def pos(self, *, key: bool = False) -> Pos:
        return self.doc.pos(self.path, key=key)

    def value_pos(self, offset: int = 0) -> Pos:
        """Position of a character inside a string value (skipping a quote)."""
        p = self.pos()
        line = self.doc.line_text(p.line)
        quote = 1 if 0 < p.col <= len(line) and line[p.col - 1] in "\"'" else 0
        return Pos(p.file, p.line, p.col + quote + offset)


def layered(inner: Mapping[str, Any], outer: Mapping[str, Any]) -> Mapping[str, Any]:
    """``outer`` with ``inner``'s names on top, without copying either.

    Copies, loop items and block bodies each get an env; copying the enclosing
    one each time made expansion quadratic in the number of params.
    """
    if isinstance(outer, ChainMap):
        return ChainMap(dict(inner), *outer.maps)
    return ChainMap(dict(inner), outer)  # type: ignore[arg-type]


@dataclass
class Evaluator:
    diags: Diagnostics
    used: set[str] = field(default_factory=set)
    #: work done by every expression of this expansion, bounded by MAX_EXPR_WORK
    meter: Meter = field(default_factory=lambda: Meter(MAX_EXPR_WORK))

    def value(self, raw: Any, env: Mapping[str, Any], src: Src) -> tuple[bool, Any]:
        """Substitute expressions in ``raw``; (ok, value).  Errors are reported."""
        tracked = _Tracking(env, self.used)
        ok = [True]
        out = self._walk(raw, tracked, src, ok)
        return ok[0], out

    def _walk(self, raw: Any, env: Mapping[str, Any], src: Src, ok: list[bool]) -> Any:
        if isinstance(raw, str):
            if "${" not in raw:
                return raw
            try:
                return substitute(raw, env, meter=self.meter)
            except ExprError as exc:
                if exc.code:  # no code: it read a param whose own error is reported already
                    self.diags.add(exc.code, exc.message, src.value_pos(exc.offset), suggestion=exc.suggestion)
                if exc.code == "MS004":  # the spec's expressions spent their budget: expansion ends
                    raise BudgetExceeded(exc.message) from None
                ok[0] = False
                return None
        if isinstance(raw, dict):
            return {k: self._walk(v, env, src.at(k), ok) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self._walk(v, env, src.at(i), ok) for i, v in enumerate(raw)]
        return raw


class _Tracking(Mapping[str, Any]):
    """A view of an env that remembers which names were read (for unused-param warnings).

    A view, not a copy: it is made for every value evaluated.
    """

    __slots__ = ("_env", "_used")

    def __init__(self, env: Mapping[str, Any], used: set[str]) -> None:
        self._env = env
        self._used = used

    def __getitem__(self, key: str) -> Any:
        value = self._env[key]
        self._used.add(key)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._env

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)

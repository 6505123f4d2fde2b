"""Shared state of one expansion: where things came from, and how to evaluate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..diagnostics import Diagnostics, Pos
from ..load.document import Document, Path
from .expressions import ExprError, substitute


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


@dataclass
class Evaluator:
    diags: Diagnostics
    used: set[str] = field(default_factory=set)

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
                return substitute(raw, env)
            except ExprError as exc:
                self.diags.add(exc.code, exc.message, src.value_pos(exc.offset), suggestion=exc.suggestion)
                ok[0] = False
                return None
        if isinstance(raw, dict):
            return {k: self._walk(v, env, src.at(k), ok) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self._walk(v, env, src.at(i), ok) for i, v in enumerate(raw)]
        return raw


class _Tracking(dict):  # type: ignore[type-arg]
    """An env that remembers which names were read (for unused-param warnings)."""

    def __init__(self, env: Mapping[str, Any], used: set[str]) -> None:
        super().__init__(env)
        self._used = used

    def __getitem__(self, key: str) -> Any:
        self._used.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if key in self:
            self._used.add(key)
        return super().get(key, default)

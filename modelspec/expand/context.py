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


@dataclass(frozen=True, slots=True)
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


class Bindings(dict):  # type: ignore[type-arg]
    """The names one copy of a `repeat`/`foreach` binds, and what each hides (MS039).

    ``what``: per name, what binds it ("the index of the `repeat` at line 8"); ``hides``: per
    name that the enclosing env has too, what it hides there.  A read of a hiding name warns.
    """

    def __init__(self, values: Mapping[str, Any], what: Mapping[str, str], outer: Mapping[str, Any]) -> None:
        super().__init__(values)
        self.what = dict(what)
        self.hides = {k: f"{self.what[k]}, which hides {describe(k, outer)}" for k in values if k in outer}


def describe(name: str, env: Mapping[str, Any]) -> str:
    """What binds ``name`` in ``env``: a loop of some line, or a param."""
    for m in env.maps if isinstance(env, ChainMap) else [env]:
        if name in m:
            if isinstance(m, Bindings) and name in m.what:
                return m.what[name]
            break
    return f"the param `{name}`"


def hidden(env: Mapping[str, Any], name: str) -> str | None:
    """How reading ``name`` in ``env`` reads a binding that hides another, or None."""
    if isinstance(env, ChainMap):
        for m in env.maps:
            if name in m:
                return m.hides.get(name) if isinstance(m, Bindings) else None
    return None


def layered(inner: Mapping[str, Any], outer: Mapping[str, Any]) -> Mapping[str, Any]:
    """``outer`` with ``inner``'s names on top, without copying either.

    Copies, loop items and block bodies each get an env; copying the enclosing
    one each time made expansion quadratic in the number of params.
    """
    first = inner if isinstance(inner, Bindings) else dict(inner)
    if isinstance(outer, ChainMap):
        return ChainMap(first, *outer.maps)
    return ChainMap(first, outer)  # type: ignore[arg-type]


@dataclass
class Evaluator:
    diags: Diagnostics
    used: set[str] = field(default_factory=set)
    #: work done by every expression of this expansion, bounded by MAX_EXPR_WORK
    meter: Meter = field(default_factory=lambda: Meter(MAX_EXPR_WORK))

    def value(self, raw: Any, env: Mapping[str, Any], src: Src) -> tuple[bool, Any]:
        """Substitute expressions in ``raw``; (ok, value).  Errors are reported."""
        plain = _literal_copy(raw)
        if plain is not _HAS_EXPR:  # nearly every value: nothing to substitute, no `Src` per key
            return True, plain
        hiding = isinstance(env, ChainMap) and any(isinstance(m, Bindings) and m.hides for m in env.maps)
        tracked = _Tracking(env, self.used, [] if hiding else None)
        ok = [True]
        out = self._walk(raw, tracked, src, ok)
        return ok[0], out

    def _shadows(self, env: "_Tracking", src: Src) -> None:
        """MS039 for each name just read that hides another (once per place and name)."""
        for name in env.read:
            why = hidden(env.env, name)
            if why is not None:
                self.diags.add("MS039", f"`{name}` here is {why}", src.value_pos(),
                               suggestion="name the inner loop's index (`repeat: {count: N, index: j}`, "
                               "`foreach: {VAR: LIST, index: j}`) or its variable so that each name means one thing")
        env.read.clear()

    def _walk(self, raw: Any, env: Mapping[str, Any], src: Src, ok: list[bool]) -> Any:
        if isinstance(raw, str):
            if "${" not in raw:
                return raw
            try:
                return substitute(raw, env, meter=self.meter)
            except ExprError as exc:
                ok[0] = False
                if exc.code:  # no code: it read a param whose own error is reported already
                    self.diags.add(exc.code, exc.message, src.value_pos(exc.offset), suggestion=exc.suggestion)
                if exc.code == "MS004":  # the spec's expressions spent their budget: expansion ends
                    raise BudgetExceeded(exc.message) from None
                return None
            finally:
                if isinstance(env, _Tracking) and env.read:  # None or empty: nothing to check
                    self._shadows(env, src)
        if isinstance(raw, dict):
            return {k: self._walk(v, env, src.at(k), ok) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self._walk(v, env, src.at(i), ok) for i, v in enumerate(raw)]
        return raw


_HAS_EXPR = object()


def _literal_copy(raw: Any) -> Any:
    """What `Evaluator._walk` gives for ``raw`` when nothing in it holds ``${``, else `_HAS_EXPR`.

    The same fresh dicts and lists (callers may change them) and the same leaves, made
    without the positions the walk carries for the messages a literal never gets.
    """
    if isinstance(raw, str):
        return _HAS_EXPR if "${" in raw else raw
    if isinstance(raw, dict):
        out = {}
        for k, v in raw.items():
            v = _literal_copy(v)
            if v is _HAS_EXPR:
                return _HAS_EXPR
            out[k] = v
        return out
    if isinstance(raw, list):
        items = []
        for v in raw:
            v = _literal_copy(v)
            if v is _HAS_EXPR:
                return _HAS_EXPR
            items.append(v)
        return items
    return raw


class _Tracking(Mapping[str, Any]):
    """A view of an env that remembers which names were read (for unused-param warnings).

    A view, not a copy: it is made for every value evaluated.
    """

    __slots__ = ("env", "_used", "read")

    def __init__(self, env: Mapping[str, Any], used: set[str], read: list[str] | None) -> None:
        self.env = env
        self._used = used
        #: names read, where some copy's binding hides another (checked for MS039 after each string)
        self.read = read

    def __getitem__(self, key: str) -> Any:
        value = self.env[key]
        self._used.add(key)
        if self.read is not None:
            self.read.append(key)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self.env

    def __iter__(self) -> Iterator[str]:
        return iter(self.env)

    def __len__(self) -> int:
        return len(self.env)

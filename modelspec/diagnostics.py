"""Located, coded problems: the one currency every pipeline stage reports in.

Stages never raise bare exceptions at users; they add `Diagnostic`s to a
`Diagnostics` collector and go on where they can, so that one run reports
every problem of a file.  `SpecError` carries the collected list out of a stage
that cannot continue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator, NamedTuple

from .codes import CODES
from .exceptions import ModelspecError
from .severity import Severity


class Pos(NamedTuple):
    """A 1-based line and column in a spec file.

    A named tuple: a document holds one per key and value, and the reader makes
    them with `tuple.__new__`, a third of the cost of a frozen dataclass, in
    less memory and untracked by the garbage collector.  Positions order by
    file, line, column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Diagnostic:
    code: str
    message: str
    pos: Pos | None = None
    severity: Severity = Severity.ERROR
    suggestion: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.pos is None:
            return ("", 0, 0, self.code)
        return (self.pos.file, self.pos.line, self.pos.col, self.code)


class Diagnostics:
    """An ordered, de-duplicated collection of diagnostics."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []
        self._seen: set[tuple[object, ...]] = set()

    def add(
        self,
        code: str,
        message: str,
        pos: Pos | None = None,
        *,
        severity: Severity | None = None,
        suggestion: str | None = None,
        notes: Iterable[str] = (),
    ) -> Diagnostic:
        if severity is None:
            severity = CODES[code].severity if code in CODES else Severity.ERROR
        diag = Diagnostic(code, message, pos, severity, suggestion, list(notes))
        key = (code, message, pos)
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(diag)
        return diag

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        for d in diags:
            key = (d.code, d.message, d.pos)
            if key not in self._seen:
                self._seen.add(key)
                self._items.append(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=Diagnostic.sort_key)

    def raise_if_errors(self) -> None:
        if self.has_errors:
            raise SpecError(self.sorted())


class SpecError(ModelspecError):
    """Raised when a stage cannot go on; holds every problem found so far."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        first = diagnostics[0] if diagnostics else None
        text = f"{first.pos}: {first.code} {first.message}" if first else "invalid spec"
        more = f" (and {len(diagnostics) - 1} more)" if len(diagnostics) > 1 else ""
        super().__init__(text + more)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt key, op or name, or None."""
    options = sorted(set(choices))
    lowered = {c.lower(): c for c in options}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return f"did you mean `{lowered[word.lower()]}`?"
    import difflib  # lazy: only a misspelt name needs it

    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close:
        close = [c for c in options if c.lower().startswith(word.lower()) and len(word) >= 3][:1]
    return f"did you mean `{close[0]}`?" if close else None

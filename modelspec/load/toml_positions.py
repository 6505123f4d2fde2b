"""A position index for TOML: where every key and value of a file starts.

`tomllib` keeps no positions, and error messages need them, so this small
scanner walks the text once more and records 1-based line/column for each
path, e.g. ``("layers", 2, "op")`` for `op` in the third `[[layers]]` table.
It only has to be right for text that tomllib has accepted, so it checks
little; it does refuse nesting deeper than the loader's limit (`TooDeep`),
which also lets the loader place that error when tomllib itself overflowed.
"""

from __future__ import annotations

import bisect
import re
import tomllib

from ..diagnostics import Pos
from ..exceptions import ModelspecError
from .document import Path

_WS = re.compile(r"[ \t]*")
_WS_NL = re.compile(r"(?:[ \t\r\n]|#[^\n]*)*")  # blanks, newlines and comments
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BASIC = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_LITERAL = re.compile(r"'[^'\n]*'")
# closing delimiters may be preceded by one or two quotes that belong to the text
_ML_BASIC = re.compile(r'"""(?:[^"\\]|\\[\s\S]|"{1,2}(?!"))*"{3,5}')
_ML_LITERAL = re.compile(r"'''(?:[^']|'{1,2}(?!'))*'{3,5}")
_ATOM = re.compile(r"[A-Za-z0-9_+\-.:]+")  # numbers, booleans, dates and times
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SPACE_TIME = re.compile(r" [0-9]{2}:[0-9]{2}")


class TooDeep(ModelspecError):
    """A table or array nests deeper than allowed; `index` is where it starts."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class ScanError(ModelspecError):
    """The text is not TOML this scanner understands (tomllib should have refused it)."""


class TomlPositions:
    """Scan `text` into `values` and `keys` maps (path -> Pos), as in `Document`."""

    def __init__(self, text: str, file: str, max_depth: int) -> None:
        self.s, self.i, self.file, self.max_depth = text, 0, file, max_depth
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.values: dict[Path, Pos] = {}
        self.keys: dict[Path, Pos] = {}
        self.aot: dict[Path, int] = {}  # array-of-tables path -> tables so far

    def pos(self, index: int) -> Pos:
        line = bisect.bisect_right(self.line_starts, index)
        return Pos(self.file, line, index - self.line_starts[line - 1] + 1)

    def scan(self) -> None:
        """Walk the whole file; raise `TooDeep` or `ScanError`."""
        s = self.s
        self.values[()] = Pos(self.file, 1, 1)
        table: Path = ()
        while True:
            self.i = _WS_NL.match(s, self.i).end()
            if self.i >= len(s):
                return
            if s[self.i] == "[":
                table = self._header()
            else:
                self._keyval(table)
            self.i = _WS.match(s, self.i).end()
            if self.i < len(s) and s[self.i] == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            if self.i < len(s) and s[self.i] not in "\r\n":
                raise ScanError(f"unexpected text at {self.pos(self.i)}")

    # --- tables ---------------------------------------------------------

    def _deep(self, path: Path, index: int) -> None:
        """A table or array at `path` would be nesting level len(path) + 1."""
        if len(path) >= self.max_depth:
            raise TooDeep(index)

    def _header(self) -> Path:
        s, start = self.s, self.i
        aot = s.startswith("[[", start)
        self.i += 2 if aot else 1
        parts = self._key()
        self.i = _WS.match(s, self.i).end()
        close = "]]" if aot else "]"
        if not s.startswith(close, self.i):
            raise ScanError(f"expected {close} at {self.pos(self.i)}")
        self.i += len(close)
        path: Path = ()
        for n, (name, at) in enumerate(parts):
            path += (name,)
            last = n == len(parts) - 1
            self._deep(path, at)
            if last:
                self.keys.setdefault(path, self.pos(at))
            if last and aot:
                count = self.aot.get(path, 0)
                self.aot[path] = count + 1
                self.values.setdefault(path, self.pos(start))
                path += (count,)
                self._deep(path, start)
                self.values[path] = self.keys[path] = self.pos(start)
            elif path in self.aot:
                path += (self.aot[path] - 1,)
            elif last:  # an explicit [table] may come after an implicit one
                self.keys[path], self.values[path] = self.pos(at), self.pos(start)
            else:
                self.keys.setdefault(path, self.pos(at))
                self.values.setdefault(path, self.pos(at))
        return path

    def _keyval(self, table: Path) -> None:
        """`a.b = value` relative to `table` (also inside inline tables)."""
        parts = self._key()
        path = table
        for n, (name, at) in enumerate(parts):
            path += (name,)
            if n < len(parts) - 1:  # dotted key: an implicit table
                self._deep(path, at)
                self.keys.setdefault(path, self.pos(at))
                self.values.setdefault(path, self.pos(at))
            else:
                self.keys[path] = self.pos(at)
        self.i = _WS.match(self.s, self.i).end()
        if not self.s.startswith("=", self.i):
            raise ScanError(f"expected = at {self.pos(self.i)}")
        self.i = _WS.match(self.s, self.i + 1).end()
        self._value(path)

    def _key(self) -> list[tuple[str, int]]:
        """A dotted key: its parts and where each starts."""
        s, parts = self.s, []
        while True:
            self.i = _WS.match(s, self.i).end()
            at = self.i
            m = _BARE_KEY.match(s, at) or _LITERAL.match(s, at) or _BASIC.match(s, at)
            if m is None:
                raise ScanError(f"expected a key at {self.pos(at)}")
            raw = m.group()
            if raw[0] == "'":
                name = raw[1:-1]
            elif raw[0] == '"':
                name = tomllib.loads("k = " + raw)["k"]  # exact escapes, rare
            else:
                name = raw
            parts.append((name, at))
            self.i = _WS.match(s, m.end()).end()
            if not s.startswith(".", self.i):
                return parts
            self.i += 1

    # --- values ---------------------------------------------------------

    def _value(self, path: Path) -> None:
        s, at = self.s, self.i
        self.values[path] = self.pos(at)
        c = s[at] if at < len(s) else ""
        if c == "[":
            self._deep(path, at)
            self._array(path)
        elif c == "{":
            self._deep(path, at)
            self._inline_table(path)
        elif c in "\"'":
            if s.startswith('"""', at):
                m = _ML_BASIC.match(s, at)
            elif s.startswith("'''", at):
                m = _ML_LITERAL.match(s, at)
            else:
                m = (_BASIC if c == '"' else _LITERAL).match(s, at)
            if m is None:
                raise ScanError(f"unterminated string at {self.pos(at)}")
            self.i = m.end()
        else:
            m = _ATOM.match(s, at)
            if m is None:
                raise ScanError(f"expected a value at {self.pos(at)}")
            self.i = m.end()
            if _DATE.fullmatch(m.group()) and _SPACE_TIME.match(s, self.i):
                self.i = _ATOM.match(s, self.i + 1).end()  # type: ignore[union-attr]

    def _array(self, path: Path) -> None:
        s = self.s
        self.i += 1
        n = 0
        while True:
            self.i = _WS_NL.match(s, self.i).end()
            if s.startswith("]", self.i):
                self.i += 1
                return
            self._value(path + (n,))
            n += 1
            self.i = _WS_NL.match(s, self.i).end()
            if s.startswith(",", self.i):
                self.i += 1
            elif not s.startswith("]", self.i):
                raise ScanError(f"expected , or ] at {self.pos(self.i)}")

    def _inline_table(self, path: Path) -> None:
        s = self.s
        self.i = _WS.match(s, self.i + 1).end()
        if s.startswith("}", self.i):
            self.i += 1
            return
        while True:
            self._keyval(path)
            self.i = _WS.match(s, self.i).end()
            if s.startswith("}", self.i):
                self.i += 1
                return
            if not s.startswith(",", self.i):
                raise ScanError(f"expected , or }} at {self.pos(self.i)}")
            self.i += 1


def toml_positions(text: str, file: str, max_depth: int) -> TomlPositions:
    """Scan `text`, returning the filled index (raises `TooDeep`, `ScanError`)."""
    index = TomlPositions(text, file, max_depth)
    index.scan()
    return index

"""TOML text -> `Document`: tomllib for the values, our own scanner for positions.

tomllib is the reference parser (so we accept exactly valid TOML) but keeps no
positions; `toml_positions` re-walks the accepted text to find them.  Dates and
times become ISO strings, so both formats load into the same JSON-like model.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from typing import Any

from ..diagnostics import Diagnostics, Pos
from ..exceptions import ModelspecError
from .document import Document
from .toml_positions import ScanError, TomlPositions, TooDeep
from .yaml_loader import MAX_DEPTH, check_text_size

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")


class _Deep(ModelspecError):
    """Data nests deeper than MAX_DEPTH although the scanner did not notice."""


def _error_pos(message: str, text: str, file: str) -> tuple[str, Pos]:
    """Split tomllib's "... (at line L, column C)" into message and position."""
    m = _AT.search(message)
    if m:
        return message[: m.start()], Pos(file, int(m.group(1)), int(m.group(2)))
    m = _AT_END.search(message)
    if m:
        line = text.count("\n") + 1
        col = len(text) - (text.rfind("\n") + 1) + 1
        return message[: m.start()], Pos(file, line, col)
    return message, Pos(file, 1, 1)


def _plain(value: Any, depth: int = 0) -> Any:
    """Dates and times -> ISO strings; containers copied as dict/list."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise _Deep
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise _Deep
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return value


def _too_deep(text: str, file: str, diags: Diagnostics, at: Pos | None) -> None:
    diags.add("MS004", f"nesting is deeper than {MAX_DEPTH} levels", at or Pos(file, 1, 1))


def load_toml(text: str, file: str, diags: Diagnostics) -> Document | None:
    """Load a TOML spec; None (with diagnostics) when it cannot be read."""
    if not check_text_size(text, file, diags):
        return None
    index = TomlPositions(text, file, MAX_DEPTH)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message, pos = _error_pos(str(exc), text, file)
        diags.add("MS002", message, pos)
        return None
    except RecursionError:  # tomllib recurses per nested array / inline table
        try:
            index.scan()
        except TooDeep as deep:
            _too_deep(text, file, diags, index.pos(deep.index))
        except (ScanError, IndexError, RecursionError):
            _too_deep(text, file, diags, None)
        else:
            _too_deep(text, file, diags, None)
        return None
    try:
        index.scan()
    except TooDeep as deep:
        _too_deep(text, file, diags, index.pos(deep.index))
        return None
    except ScanError:
        pass  # positions stay partial; Document.pos falls back to an ancestor
    try:
        plain = _plain(data)
    except _Deep:
        _too_deep(text, file, diags, None)
        return None
    return Document(file, plain, values=index.values, keys=index.keys, text=text)

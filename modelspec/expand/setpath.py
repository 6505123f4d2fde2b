"""`--set a.b.0.c=VALUE`: an override of any key of the spec file, by its dotted path.

A name without a dot is a param (`--set hidden=64`, `expand.params`).  A dotted
name addresses the file as written, before anything is expanded: each part is a
mapping key or a 0-based list index (`time.steps`, `train.epochs`,
`layers.2.features`, `blocks.Area.params.tau`).  The value replaces what is
there, or adds the key; missing mappings on the way are created.  The result is
checked like the rest of the file, and every problem in the value points into
the argument (`<--set 2>:1:18`).  A path that cannot exist (an index past the
end of a list, a key under a number) is MS024, at the part that fails.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from ..diagnostics import Diagnostics, Pos
from ..load.document import Document, Path

#: one part of a dotted path: a key (an identifier) or a list index
_PART = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+)$")


def is_path(name: str) -> bool:
    """A dotted path of keys and indices, such as ``layers.2.features`` (not a plain param name)."""
    parts = name.split(".")
    return len(parts) > 1 and all(_PART.match(p) for p in parts)


def _parts(name: str) -> list[str | int]:
    return [int(p) if p.isdigit() else p for p in name.split(".")]


def _shown(path: list[str | int]) -> str:
    return ".".join(str(p) for p in path)


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return f"a list of {len(v)}"
    return f"the value {v!r}" if len(repr(v)) <= 30 else f"a {type(v).__name__}"


def apply_paths(doc: Document, overrides: Mapping[str, Any], diags: Diagnostics) -> Document:
    """``doc`` with every dotted override applied (a copy; ``doc`` is left as it was)."""
    paths = [name for name in overrides if is_path(name)]
    if not paths or not isinstance(doc.data, dict):
        return doc
    out = Document(doc.file, copy.deepcopy(doc.data), dict(doc.values), dict(doc.keys), doc.text)
    docs: dict[str, Document] = getattr(overrides, "docs", {})
    names: dict[str, Pos] = getattr(overrides, "names", {})
    for name in paths:
        _apply(out, name, overrides[name], docs.get(name), names.get(name), diags)
    return out


def _part_pos(where: Pos | None, name: str, k: int) -> Pos:
    """Where part ``k`` of ``name`` is written in its argument (``<overrides>`` from the API)."""
    if where is None:
        return Pos("<overrides>", 1, 1)
    col = where.col + sum(len(p) + 1 for p in name.split(".")[:k])
    return Pos(where.file, where.line, col)


def _apply(doc: Document, name: str, value: Any, vdoc: Document | None, where: Pos | None,
           diags: Diagnostics) -> None:
    parts = _parts(name)
    node: Any = doc.data
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        here = parts[:k]
        at = _part_pos(where, name, k)
        if isinstance(node, dict):
            key = str(part)
            if last:
                node[key] = value
                break
            if key not in node:
                node[key] = {}
                doc.keys[tuple(parts[:k + 1])] = at
                doc.values[tuple(parts[:k + 1])] = at
            node = node[key]
            parts[k] = key
        elif isinstance(node, list):
            if not isinstance(part, int):
                diags.add("MS024", f"`--set {name}=...`: `{_shown(here)}` is a list, so `{part}` must be an "
                          f"index (0 .. {len(node) - 1})" if node else
                          f"`--set {name}=...`: `{_shown(here)}` is an empty list, which has nothing to set",
                          at, suggestion=f"for example `--set {_shown(here)}.0...`" if node else None)
                return
            if part >= len(node):
                diags.add("MS024", f"`--set {name}=...`: `{_shown(here)}` has {len(node)} item(s), so there is "
                          f"no index {part}" + (f" (valid: 0 .. {len(node) - 1})" if node else ""), at,
                          suggestion="list indices count from 0, as written in the file")
                return
            if last:
                node[part] = value
                break
            node = node[part]
        else:
            diags.add("MS024", f"`--set {name}=...`: `{_shown(here)}` is {_kind(node)}, not a mapping or a "
                      f"list, so it has no `{part}`", at)
            return
    path: Path = tuple(parts)
    for table in (doc.values, doc.keys):
        for p in [p for p in table if p[:len(path)] == path and len(p) > len(path)]:
            del table[p]
    doc.keys[path] = _part_pos(where, name, len(parts) - 1)
    if vdoc is not None:
        for p, pos in vdoc.values.items():
            doc.values[path + p] = pos
        for p, pos in vdoc.keys.items():
            doc.keys[path + p] = pos
    else:
        doc.values[path] = where or Pos("<overrides>", 1, 1)


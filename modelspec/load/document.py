"""The loaded spec: plain data plus a source position for every key and value.

YAML and TOML both load into this one model, so every later stage is
format-blind.  A location is a path of keys and list indices from the root,
for example ``("layers", 0, "features")``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..diagnostics import Pos

Path = tuple[str | int, ...]


@dataclass
class Document:
    """Plain data (dicts, lists, str, int, float, bool, None) with positions.

    ``values[path]`` is where the value at ``path`` starts; ``keys[path]`` is
    where the mapping key that names ``path`` starts (for unknown-key errors).
    """

    file: str
    data: Any
    values: dict[Path, Pos] = field(default_factory=dict)
    keys: dict[Path, Pos] = field(default_factory=dict)
    text: str = ""

    def pos(self, path: Sequence[str | int], *, key: bool = False) -> Pos:
        """The position of ``path``, or of its nearest located ancestor."""
        p: Path = tuple(path)
        table = self.keys if key else self.values
        while True:
            if p in table:
                return table[p]
            if key and p in self.values:
                return self.values[p]
            if not key and p in self.keys:
                return self.keys[p]
            if not p:
                return Pos(self.file, 1, 1)
            p = p[:-1]

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""

"""Which runtime helpers an emitted module needs, and their source.

Helpers are the ``_name`` functions of ``lib_core``, ``lib_seq`` and ``lib_time``
(plus any a plugin op supplies through ``jax_helpers``).  The emitter scans the
generated code for helper names, adds the helpers those call, and copies their
source in a fixed order, so output stays deterministic and self-contained.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping

from .naming import JaxEmitError

_CALL = re.compile(r"(?<![\w.])(_[A-Za-z][A-Za-z0-9_]*)\b")
_DEF = re.compile(r"^def\s+(_[A-Za-z][A-Za-z0-9_]*)\s*\(", re.M)


LIBRARY_FILES = ("lib_core.py", "lib_seq.py", "lib_time.py")


@lru_cache(maxsize=1)
def library() -> dict[str, str]:
    """name -> source of every built-in helper, in library order.

    Read from the files with ``ast`` rather than imported, so emitting JAX source
    does not need jax installed.
    """
    out: dict[str, str] = {}
    here = Path(__file__).resolve().parent
    for fname in LIBRARY_FILES:
        text = (here / fname).read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
                out[node.name] = (ast.get_source_segment(text, node) or "").rstrip() + "\n"
    return out


def helper_sources(items: Mapping[str, Callable[..., Any] | str]) -> dict[str, str]:
    """name -> source for an op's ``jax_helpers(a)`` (values: source strings or functions)."""
    out: dict[str, str] = {}
    for name, item in items.items():
        src = item if isinstance(item, str) else inspect.getsource(item)
        src = textwrap.dedent(src).rstrip() + "\n"
        m = _DEF.search(src)
        if not m or m.group(1) != name:
            raise JaxEmitError(f"JAX helper `{name}` must be the source of `def {name}(...)`")
        out[name] = src
    return out


def needed(code: str, available: dict[str, str]) -> list[str]:
    """The helpers ``code`` calls, transitively, in the order of ``available``."""
    want: set[str] = set()
    todo = [n for n in _CALL.findall(code) if n in available]
    while todo:
        name = todo.pop()
        if name in want:
            continue
        want.add(name)
        todo.extend(n for n in _CALL.findall(available[name]) if n in available and n not in want)
    return [n for n in available if n in want]

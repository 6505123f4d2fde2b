"""Statements of the emitted ``forward`` and the liveness pass that frees dead values.

A hand-written model drops each activation as soon as its last reader is done
(``x = layer(x)``); straight-line code with one local per node would keep every
activation alive until ``forward`` returns, which costs memory and, on CPU, time
(freshly mapped pages).  So after each statement the emitter deletes the node
values no later statement reads: ``del a, b``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .format import LIMIT, wrap
from .naming import comment_lines

#: a source line relative to its block: (text, trailing comment or None)
Line = tuple[str, "str | None"]


@dataclass
class Stmt:
    """One statement (or an ``if`` block) with the locals it reads and binds."""

    lines: list[Line]
    uses: set[str] = field(default_factory=set)
    defs: set[str] = field(default_factory=set)
    #: the statement keeps what it reads (a delay buffer, an output list): no ``del`` after it
    stores: bool = False


def add_dels(stmts: list[Stmt], owned: set[str], live_out: set[str], *, tail: bool) -> list[Stmt]:
    """``stmts`` with ``del`` statements after the last reader of each owned value.

    ``owned``: the locals that may be deleted (node values); ``live_out``: those read
    after this block.  With ``tail`` false no ``del`` follows the last statement (a
    loop body: the next step rebinds the names anyway).
    """
    out: list[Stmt] = []
    live = set(live_out)
    dels: list[list[str]] = []
    for s in reversed(stmts):
        dead = sorted(v for v in (s.uses | s.defs) & owned if v not in live)
        dels.append(dead)
        live -= s.defs
        live |= s.uses
    dels.reverse()
    for i, (s, dead) in enumerate(zip(stmts, dels)):
        out.append(s)
        last = i == len(stmts) - 1
        if dead and (tail or not last) and not s.stores:
            out.append(Stmt([(f"del {', '.join(dead)}", None)]))
    return out


def render(stmts: list[Stmt], indent: str) -> list[str]:
    """Source lines at ``indent``, wrapped to the line limit, comments placed to fit."""
    lines: list[str] = []
    for s in stmts:
        for text, note in s.lines:
            full = indent + text
            if note is not None:
                note = " ".join(comment_lines(note))
                if len(full) + 4 + len(note) <= LIMIT:
                    lines.append(f"{full}  # {note}")
                    continue
                pad = full[: len(full) - len(full.lstrip())]
                lines.append(f"{pad}# {note}")
            lines.extend(wrap(full))
    return lines


def indented(stmts: list[Stmt]) -> list[Line]:
    """The lines of ``stmts`` one level deeper (the body of an ``if`` or ``for``)."""
    out: list[Line] = []
    for s in stmts:
        out.extend(("    " + text, note) for text, note in s.lines)
    return out

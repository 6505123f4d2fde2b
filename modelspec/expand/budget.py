"""The total expansion budget: every copy, instance, item and node is paid for.

Each `repeat` is capped on its own, but nesting multiplies: three nested
`repeat: 1000` ask for a billion nodes, and a block of four instances of a
block of four instances ... grows as 4**depth without any repeat at all.  So
all expansion work draws on one budget, and the construct that would overspend
it gets a located MS004 and ends expansion at once (no follow-on errors).
What the spec text already says (literal counts, block names) is checked before
anything is built (see `estimate`), and a repeat of alike copies whose first copy
shows that all of them cannot fit fails before it expands the rest, so the usual bombs stop
after a few steps, not after the whole budget.
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import Diagnostics
from ..exceptions import ModelspecError

#: IR nodes one spec may expand to (the 10,000-layer MLP of bench/ has 20,001)
MAX_NODES = 50_000
#: steps of expansion work in all: items, copies, instances, nodes and edges each cost one
MAX_WORK = 100_000
#: `layers` lists inside each other (groups and block bodies): expansion recurses per level
MAX_NESTING = 100


class BudgetExceeded(ModelspecError):
    """Expansion stopped: the budget is spent and MS004 reported."""


class Budget:
    """Counts expansion work; `charge` reports MS004 and raises once it is spent.

    Places are a `Pos` or a `Src` (a `Src` is located only if it is reported).
    """

    def __init__(self, diags: Diagnostics, work: int | None = None, nodes: int | None = None) -> None:
        self.diags = diags
        self.max_work = MAX_WORK if work is None else work
        self.max_nodes = MAX_NODES if nodes is None else nodes
        self.work = 0
        self.nodes = 0

    def charge(self, pos: Any, what: str, n: int = 1) -> None:
        """Pay for `n` steps of work done at `pos` (a repeat, an instance, a node)."""
        self.work += n
        if self.work > self.max_work:
            self.stop(pos, f"{what} goes over the expansion budget of {self.max_work:,} steps "
                      "(items, copies, block instances, nodes and edges, counted together)")

    def node(self, pos: Any) -> None:
        """Pay for one IR node."""
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self.stop(pos, f"the spec expands to more than {self.max_nodes:,} nodes")
        self.charge(pos, "this node")

    def ahead(self, pos: Any, what: str, steps: int) -> None:
        """Stop now when work known to lie ahead (`estimate.Estimator`) cannot fit."""
        if self.work + steps > self.max_work:
            more = f"at least {steps:,}" if steps <= self.max_work else f"more than {self.max_work:,}"
            before = f", after {self.work:,} steps before it" if steps <= self.max_work else ""
            self.stop(pos, f"{what} expands to {more} steps (items, copies, block instances and nodes){before}; "
                      f"that is over the budget of {self.max_work:,}")

    def fits(self, pos: Any, what: str, copies: int, work: int, nodes: int) -> None:
        """Stop now when `copies` more copies, each costing what the first did, cannot fit."""
        if self.work + work * copies > self.max_work:
            self.stop(pos, f"{what} would take about {work * copies:,} more steps of expansion "
                      f"({copies:,} more copies of {work:,}), over the budget of {self.max_work:,}")
        if self.nodes + nodes * copies > self.max_nodes:
            self.stop(pos, f"{what} would make about {nodes * copies:,} more nodes ({copies:,} more copies "
                      f"of {nodes:,}), over the limit of {self.max_nodes:,} nodes")

    def stop(self, pos: Any, message: str, suggestion: str | None = None) -> None:
        where = pos.pos() if hasattr(pos, "doc") else pos  # a Src, located only now that it is needed
        self.diags.add("MS004", message, where,
                       suggestion=suggestion or "a spec this large is most likely a mistake (nested repeats "
                       "multiply); reduce the repeat counts or the nesting")
        raise BudgetExceeded(message)

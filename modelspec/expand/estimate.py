"""A lower bound on the expansion work of a construct, read from the spec text alone.

Literal repeat counts, literal foreach lists and literal block names already
say how much a construct will expand to: a block of four instances of a block
of four instances ... is 4**depth steps before any of it is built.  The bound
counts only work that expansion certainly does (an item, a copy, an instance
of a known block), so a spec that fits the budget is never refused by it; a
spec that does not is refused at once, at its outermost construct.
Values written as `${...}` count as nothing here; the budget catches them as
they are expanded.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..ops.registry import get_op
from .blocks import BlockDef
from .expressions import names_in

#: blocks followed inside each other; deeper ones count as nothing (still a lower bound),
#: so the estimate's own recursion stays far from Python's limit
MAX_DEPTH = 40


class Estimator:
    """Memoised lower bounds, saturating at `cap` so the numbers stay small."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._blocks: dict[int, int] = {}
        self._active: set[int] = set()

    def item(self, item: Any, namespace: Mapping[str, BlockDef]) -> int:
        """Steps that expanding one ``layers`` item certainly takes."""
        if isinstance(item, str):
            d = namespace.get(item) if get_op(item) is None else None
            return self._sat(1 + (1 + self.block(d) if d is not None else 0))
        if not isinstance(item, dict):
            return 1
        if "when" in item and item["when"] is not True:
            return 1
        copies = self._copies(item)
        if copies is None:
            return self._sat(1 + self.body(item, namespace))
        body = {k: v for k, v in item.items() if k not in ("repeat", "foreach", "when")}
        return self._sat(1 + copies * (1 + self.body(body, namespace)))

    def block(self, d: BlockDef) -> int:
        """Steps that expanding the body of a block certainly takes."""
        key = id(d)
        if key in self._blocks:
            return self._blocks[key]
        if key in self._active:  # recursive: reported as MS032, expands nothing
            return 0
        if len(self._active) >= MAX_DEPTH:
            return 0  # not memoised: from a shallower start it may count more
        self._active.add(key)
        try:
            layers = d.raw.get("layers")
            ns = d.namespace or {}
            total = self.items(layers, ns) if isinstance(layers, list) else 0
        finally:
            self._active.discard(key)
        self._blocks[key] = total
        return total

    def items(self, layers: list[Any], namespace: Mapping[str, BlockDef]) -> int:
        total = 0
        for it in layers:
            total = self._sat(total + self.item(it, namespace))
            if total >= self.cap:
                break
        return total

    def body(self, item: dict[str, Any], namespace: Mapping[str, BlockDef]) -> int:
        """One node, group or instance, without its repeat."""
        if "layers" in item and "op" not in item and isinstance(item["layers"], list):
            return self.items(item["layers"], namespace)
        ref = item.get("block")
        if isinstance(ref, str) and "${" not in ref and "op" not in item:
            d = namespace.get(ref)
            return self._sat(1 + self.block(d)) if d is not None else 0
        return 0

    @staticmethod
    def _copies(item: dict[str, Any]) -> int | None:
        """The literal number of copies, 0 when it is computed, None without repeat/foreach."""
        if "repeat" in item and "foreach" not in item:
            n = item["repeat"]
            n = n.get("count") if isinstance(n, dict) else n
            return n if type(n) is int and 0 <= n <= 100_000 else 0
        if "foreach" in item and "repeat" not in item:
            spec = item["foreach"]
            if isinstance(spec, dict) and len(spec) == 2 and isinstance(spec.get("index"), str):
                spec = {k: v for k, v in spec.items() if k != "index"}
            if isinstance(spec, dict) and len(spec) == 1:
                values = next(iter(spec.values()))
                return len(values) if isinstance(values, list) else 0
            return 0
        return None

    @staticmethod
    def uniform(body: Any, loop_vars: set[str]) -> bool:
        """Whether every copy of ``body`` expands alike: no loop variable in anything but
        names, inputs and docs (so one copy's cost tells the cost of all of them)."""
        stack = [body]
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                if "${" in v and names_in(v) & loop_vars:
                    return False
            elif isinstance(v, list):
                stack.extend(v)
            elif isinstance(v, dict):
                stack.extend(x for k, x in v.items() if k not in ("name", "in", "doc"))
        return True

    def _sat(self, n: int) -> int:
        return n if n < self.cap else self.cap

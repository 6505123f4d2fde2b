"""When each node of a time model first sees the input, and how far back its value reaches.

A node's value at step t depends on the inputs at steps t - d for every delayed
path from an input to the node, d the sum of the path's delays (connections
``in: {from, delay}`` and edges, an edge's delay counted once on its chain).
This pass computes, without changing the graph:

* ``first``: the smallest such d, the first step at which the node's value
  depends on the input at all (steps counted from the first emitted one, so
  ``time.idle`` does not shift it); None when no input reaches the node;
* ``history``: the largest such d, how many steps back the value reaches; None
  (unbounded) when a path runs through a cycle or a stateful op (one that reads
  its own previous value), so that every earlier step counts.

At step t the node therefore depends on the inputs of steps t - history ..
t - first.  An output has the values of the node it comes from.  Pure Python,
read by `summary` and `graph`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from ..diagnostics import Diagnostics
from ..ops.registry import get_op
from .components import strongly_connected
from .graph import Graph


@dataclass(frozen=True)
class Reach:
    """What a node's value at step t depends on: the inputs of steps t-history .. t-first."""

    #: the first step at which the value depends on an input; None: no input reaches it
    first: int | None
    #: how many steps back the value reaches; None: unbounded (a cycle or state on the way)
    history: int | None

    @property
    def reached(self) -> bool:
        return self.first is not None

    @property
    def unbounded(self) -> bool:
        return self.first is not None and self.history is None

    def text(self) -> tuple[str, str]:
        """(first step, history) as the summary prints them: ``"—"`` unreached, ``"∞"`` unbounded."""
        if self.first is None:
            return "—", "—"
        return str(self.first), "∞" if self.history is None else str(self.history)

    def as_json(self) -> dict[str, object]:
        return {"first_step": self.first, "history": self.history, "history_unbounded": self.unbounded}


@dataclass(frozen=True)
class Reaches:
    """The reach of every node (by path) and every output (by name)."""

    nodes: dict[str, Reach]
    outputs: dict[str, Reach]


def _predecessors(g: Graph) -> dict[str, list[tuple[str, int]]]:
    """node -> (source, delay) for each value it reads: its inputs and the edges into it."""
    preds: dict[str, list[tuple[str, int]]] = {p: [(c.source, c.delay) for c in n.inputs] for p, n in g.nodes.items()}
    for e in g.edges:
        # a chain's first node reads the source with the delay; the chain's end adds undelayed
        preds.setdefault(e.target, []).append((e.out, 0) if e.chain else (e.source, e.delay))
    return preds


def _first(g: Graph, succs: dict[str, list[tuple[str, int]]]) -> dict[str, int]:
    """Shortest delayed distance from any input (Dijkstra: delays are never negative)."""
    dist: dict[str, int] = {name: 0 for name in g.inputs}
    heap = [(0, name) for name in g.inputs]
    while heap:
        d, u = heapq.heappop(heap)
        if d > dist.get(u, d):
            continue
        for v, w in succs.get(u, ()):
            if d + w < dist.get(v, d + w + 1):
                dist[v] = d + w
                heapq.heappush(heap, (d + w, v))
    return dist


def _recurrent(g: Graph, succs: dict[str, list[tuple[str, int]]]) -> set[str]:
    """Nodes on a cycle (a strongly connected component of several nodes, or one that feeds
    itself) or whose op keeps state."""
    out: set[str] = set()
    for comp in strongly_connected(g.nodes, lambda v: (w for w, _ in succs.get(v, ()) if w in g.nodes)):
        if len(comp) > 1 or any(w == comp[0] for w, _ in succs.get(comp[0], ())):
            out.update(comp)
    for p, n in g.nodes.items():
        op = get_op(n.op)
        if op is not None and op.stateful:
            out.add(p)
    return out


def reach(g: Graph) -> Reaches:
    """The reach of every node and output of a checked graph (``g.order`` set)."""
    preds = _predecessors(g)
    succs: dict[str, list[tuple[str, int]]] = {}
    for v, ps in preds.items():
        for u, d in ps:
            succs.setdefault(u, []).append((v, d))
    first = _first(g, succs)
    seeds = [p for p in _recurrent(g, succs) if p in first]
    unbounded: set[str] = set(seeds)
    todo = list(seeds)
    while todo:
        for v, _ in succs.get(todo.pop(), ()):
            if v not in unbounded:
                unbounded.add(v)
                todo.append(v)
    # longest delayed path over the rest: acyclic, since every cycle that an input reaches is unbounded
    history: dict[str, int] = {name: 0 for name in g.inputs}
    pending = {v: sum(1 for u, _ in preds.get(v, ()) if u in first) for v in g.nodes
               if v in first and v not in unbounded}
    ready = [name for name in g.inputs]
    while ready:
        u = ready.pop()
        for v, d in succs.get(u, ()):
            if v not in pending:
                continue
            history[v] = max(history.get(v, 0), history[u] + d)
            pending[v] -= 1
            if pending[v] == 0:
                ready.append(v)
    nodes = {p: Reach(first.get(p), None if p in unbounded or p not in first else history.get(p, 0))
             for p in g.nodes}
    outputs = {name: nodes.get(o.source, Reach(first.get(o.source), history.get(o.source)))
               for name, o in g.outputs.items()}
    return Reaches(nodes, outputs)


def warn_blind_outputs(g: Graph, diags: Diagnostics) -> None:
    """MS062 for each output of a time model that no input reaches within ``time.steps``."""
    if g.time is None:
        return
    for name, r in reach(g).outputs.items():
        if r.first is not None and r.first < g.time.steps:
            continue
        o = g.outputs[name]
        why = ("no input reaches it" if r.first is None else
               f"it first sees the input at step {r.first}, but the model runs {g.time.steps} steps "
               f"(0 .. {g.time.steps - 1})")
        diags.add("MS062", f"output `{name}` never sees the input: {why}", o.pos,
                  suggestion=f"raise `time.steps` to at least {r.first + 1}, or shorten a delay on the way"
                  if r.first is not None else None)

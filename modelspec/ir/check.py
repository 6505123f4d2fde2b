"""Graph checks: delays, the cycle rule, evaluation order, edge kinds, reach.

The evaluation order is a topological order over zero-delay dependencies
that keeps declaration order wherever it can, so generated code reads like
the spec.  A cycle with no delay on it is reported node by node.
"""

from __future__ import annotations

import heapq
from dataclasses import replace

from ..diagnostics import Diagnostics, Pos
from ..ops.registry import get_op
from .components import strongly_connected
from .graph import Graph


def deps(g: Graph) -> dict[str, list[tuple[str, int]]]:
    """For every node, the (source, delay) pairs it reads, edges included."""
    out: dict[str, list[tuple[str, int]]] = {p: [(c.source, c.delay) for c in n.inputs] for p, n in g.nodes.items()}
    for e in g.edges:
        if e.target in out:
            out[e.target].append((e.out, 0 if e.chain else e.delay))
    return out


def check_graph(g: Graph, diags: Diagnostics) -> Graph:
    """``g`` with its evaluation order and cycles; problems go to ``diags``.

    Returns a new graph (sharing the nodes, which this pass only reads); ``g`` is not changed.
    """
    _delays_need_time(g, diags)
    d = deps(g)
    if _declared_order_is_topological(g, d):  # nearly every spec: no sort, and no cycle to look for
        g = replace(g, order=list(g.nodes), cycles=[])
    else:
        g = replace(g, order=_order(g, diags, d), cycles=_cycles(g, d))
    _edge_kinds(g, diags)
    _unused(g, diags, d)
    return g


def _declared_order_is_topological(g: Graph, d: dict[str, list[tuple[str, int]]]) -> bool:
    """Whether every node reads only nodes declared before it, whatever the delay.

    Then Kahn's algorithm with ties broken by declaration pops the nodes in declaration
    order (each is ready once those before it are), and no cycle or self-loop exists.
    """
    rank = {p: i for i, p in enumerate(g.nodes)}
    for p, srcs in d.items():
        r = rank[p]
        for s, _ in srcs:
            k = rank.get(s)
            if k is not None and k >= r:
                return False
    return True


def _delays_need_time(g: Graph, diags: Diagnostics) -> None:
    if g.time is not None:
        return
    for n in g.nodes.values():
        for c in n.inputs:
            if c.delay:
                diags.add("MS042", f"`{n.path}` reads `{c.source}` with delay {c.delay}, but the spec has no "
                          "`time:` section", c.pos, suggestion="add `time: {steps: N}` or remove the delay")
        op = get_op(n.op)
        if op is not None and op.stateful:
            diags.add("MS061", f"`{n.path}` is a {n.op}, which keeps state across time steps; the spec has "
                      "no `time:` section", n.pos, suggestion="add `time: {steps: N, dt: ...}`")
    for e in g.edges:
        if e.delay:
            diags.add("MS042", f"edge `{e.name}` has delay {e.delay}, but the spec has no `time:` section", e.pos,
                      suggestion="add `time: {steps: N}` or remove the delay")


def _order(g: Graph, diags: Diagnostics, d: dict[str, list[tuple[str, int]]]) -> list[str]:
    """Kahn's algorithm over zero-delay dependencies (``d``: `deps`), ties broken by declaration."""
    rank = {p: i for i, p in enumerate(g.nodes)}
    indeg = {p: 0 for p in g.nodes}
    users: dict[str, list[str]] = {p: [] for p in g.nodes}
    for p, srcs in d.items():
        for s, delay in srcs:
            if delay == 0 and s in g.nodes:
                indeg[p] += 1
                users[s].append(p)
    heap = [(rank[p], p) for p, k in indeg.items() if k == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        _, p = heapq.heappop(heap)
        order.append(p)
        for u in users[p]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(heap, (rank[u], u))
    if len(order) < len(g.nodes):
        placed = set(order)
        stuck = {p for p in g.nodes if p not in placed}
        for cycle in _zero_delay_cycles(d, stuck):
            k = min(range(len(cycle)), key=lambda j: g.creation.get(cycle[j], 0))
            cycle = cycle[k:] + cycle[:k]  # start where the spec starts
            text = " -> ".join(cycle + [cycle[0]])
            links = [_link(g, cycle[j - 1], cycle[j]) for j in range(1, len(cycle))] + [_link(g, cycle[-1], cycle[0])]
            # the connection back to the cycle's first node runs against the layer order: the feedback
            closing, pos, how = links[-1]
            diags.add("MS041", f"cycle without delay: {text}; the connection {closing} closes it", pos,
                      suggestion=how + ("" if g.time else " (delays need a `time:` section)"),
                      notes=[f"{p}: {what}" if p else what for what, p, _ in links])
        order.extend(p for p in g.nodes if p in stuck)
    return order


def _link(g: Graph, source: str, target: str) -> tuple[str, Pos | None, str]:
    """The zero-delay connection from ``source`` into ``target``: (text, where it is written, how to delay it)."""
    for c in g.nodes[target].inputs:
        if c.source == source and c.delay == 0:
            local = source.rpartition(".")[2]
            return (f"`{source}` -> `{target}` (an input of `{target}`)", c.pos,
                    f"give this input a delay: `{{from: {local}, delay: 1}}`")
    for e in g.edges:
        if e.target == target and e.out == source:
            return (f"`{source}` -> `{target}` (edge `{e.name}`)", e.pos, "add `delay: 1` to this edge")
    owner = g.nodes[target].edge
    edge = next((e for e in g.edges if e.name == owner), None)
    if edge is not None:  # into an edge's via or adapter: the edge's delay is the one to set
        return (f"`{source}` -> `{target}` (edge `{edge.name}`)", edge.pos, "add `delay: 1` to this edge")
    return f"`{source}` -> `{target}`", g.nodes[target].pos, "add `delay: 1` (or more) to one connection of the cycle"


def _zero_delay_cycles(d: dict[str, list[tuple[str, int]]], stuck: set[str]) -> list[list[str]]:
    """One cycle per strongly connected group of the stuck nodes."""
    cycles: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(stuck):
        if start in seen:
            continue
        path: list[str] = []
        index: dict[str, int] = {}
        node = start
        while node not in index:
            index[node] = len(path)
            path.append(node)
            nxt = [s for s, delay in d[node] if delay == 0 and s in stuck]
            if not nxt:
                break
            node = nxt[0]
        else:
            cyc = path[index[node]:]
            if not seen & set(cyc):
                cycles.append(list(reversed(cyc)))
        seen.update(path)
    return cycles


def _cycles(g: Graph, d: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components (with delays) of size > 1, or self-loops (``d``: `deps`)."""

    def successors(v: str) -> list[str]:
        return [s for s, _ in d.get(v, []) if s in g.nodes]

    return [sorted(comp, key=lambda p: g.creation.get(p, 0))
            for comp in strongly_connected(g.nodes, successors)
            if len(comp) > 1 or any(s == comp[0] for s, _ in d.get(comp[0], []))]


def _edge_kinds(g: Graph, diags: Diagnostics) -> None:
    for e in g.edges:
        s, t = g.creation.get(e.source, -1), g.creation.get(e.target, -1)
        e.kind = "skip" if e.source in g.inputs or s < t else "feedback"
        if e.declared_kind and e.declared_kind != e.kind:
            diags.add("MS044", f"edge `{e.name}` says `kind: {e.declared_kind}`, but `{e.source}` comes "
                      f"{'before' if e.kind == 'skip' else 'after'} `{e.target}` in the layer order, "
                      f"so it is a {e.kind} connection", e.pos)


def _unused(g: Graph, diags: Diagnostics, d: dict[str, list[tuple[str, int]]]) -> None:
    if any(c.source not in g.nodes and c.source not in g.inputs for n in g.nodes.values() for c in n.inputs):
        return  # a broken reference (reported) cuts paths: what reaches an output is not known
    into: dict[str, list[str]] = {}  # target -> what its edges add and the nodes of their chains
    for e in g.edges:
        into.setdefault(e.target, []).extend([e.out, *e.chain])
    live: set[str] = set()
    todo = [o.source for o in g.outputs.values() if o.source]
    while todo:
        p = todo.pop()
        if p in live:
            continue
        live.add(p)
        todo.extend(s for s, _ in d.get(p, ()))
        todo.extend(into.get(p, ()))
    for n in g.nodes.values():
        if n.path not in live and n.role == "layer":
            diags.add("MS046", f"`{n.path}` ({n.op}) reaches no output", n.pos,
                      suggestion="connect it, expose it in `outputs`, or remove it")

"""Symbolic shape inference, edge adapters, parameter shapes and MACs.

Nodes are visited in evaluation order.  A node that reads a later node
through a delay (a feedback loop) cannot wait for it; it is given the shape
of its first known input provisionally and re-checked once everything is
known, so a wrong guess is still reported.

The pass returns a new graph: the input graph is left as it was (its nodes
unshaped, no adapters), so a caller can keep it, compare it or infer again.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..diagnostics import Diagnostics
from ..ir.graph import Conn, Edge, Graph, Node, evolve
from ..ops.base import Op, ShapeError
from ..ops.registry import adapter, get_op
from ..shapes.dims import Dim, Shape, concrete, fmt_shape, is_symbol
from .sizes import Totals, check_node


def infer_shapes(g: Graph, diags: Diagnostics) -> Graph:
    """``g`` with every node's shapes, parameters, buffers and MACs, and edge adapters
    inserted; problems go to ``diags``.  ``g`` itself is not changed."""
    g = _fresh_copy(g)
    shapes: dict[str, Shape] = {name: t.shape for name, t in g.inputs.items()}
    failed: set[str] = set()
    provisional: set[str] = set()
    pending = [p for p in g.order if p in g.nodes]
    done_edges: set[int] = set()
    while pending:
        progress = False
        rest = []
        nodes, inputs = g.nodes, g.inputs
        for p in pending:
            node = nodes[p]
            # an unresolved input (MS040, source ""), one that names no node (a duplicate that was
            # not added, MS035) or a failed one was reported already
            broken = node.attrs is None
            ins: list[Shape | None] = []
            for c in node.inputs:
                src = c.source
                if src in failed or (src not in nodes and src not in inputs):
                    broken = True
                    break
                ins.append(shapes.get(src))
            if broken:
                failed.add(p)
                progress = True
                continue
            if None in ins:
                rest.append(p)
                continue
            _infer_node(g, node, ins, shapes, failed, diags)  # type: ignore[arg-type]
            progress = True
        pending = rest
        progress |= _adapt_ready_edges(g, shapes, failed, done_edges, diags)
        if not progress and pending:
            # feedback: guess from a known input (or an edge into the node), check again at the end
            guess = _first_guessable(g, pending, shapes)
            if guess is None:
                for p in pending:
                    node = g.nodes[p]
                    if not any(c.source in failed for c in node.inputs):
                        diags.add("MS050", f"`{p}` ({node.op}): cannot infer its shape; every input comes back "
                                  "through a delay from nodes that depend on it", node.pos,
                                  suggestion="feed it from a node with a known shape, or add an edge into it")
                    failed.add(p)
                break
            p, known = guess
            pending.remove(p)
            node = g.nodes[p]
            ins = [shapes.get(c.source, known) for c in node.inputs]
            provisional.add(p)
            _infer_node(g, node, ins, shapes, failed, diags)
    _adapt_ready_edges(g, shapes, failed, done_edges, diags)
    for p in provisional:
        node = g.nodes[p]
        if p in failed or any(c.source not in shapes for c in node.inputs):
            continue
        ins = [shapes[c.source] for c in node.inputs]
        if ins != node.in_shapes:
            before = node.shape
            _infer_node(g, node, ins, shapes, failed, diags)
            if node.shape != before and p not in failed:
                diags.add("MS050", f"`{p}` ({node.op}): its output {fmt_shape(node.shape)} differs from the shape "
                          f"{fmt_shape(before)} its delayed inputs were assumed to give", node.pos)
    _outputs(g, shapes, failed, diags)
    check_shape_reads(g, diags)
    totals = Totals(diags)
    for p in g.order:
        if p in g.nodes and p not in failed and not totals.add(g.nodes[p]):
            break
    return g


def _fresh_copy(g: Graph) -> Graph:
    """A copy whose containers this pass may fill: nodes, order, edges, outputs.

    Attributes, connections and positions are shared: the pass never changes them.
    """
    return replace(
        g,
        nodes={p: evolve(n, shape=None, in_shapes=[], params={}, buffers={}, macs=0) for p, n in g.nodes.items()},
        order=list(g.order),
        edges=[replace(e, chain=list(e.chain)) for e in g.edges],
        outputs={k: replace(o) for k, o in g.outputs.items()},
        creation=dict(g.creation),
        symbols=dict(g.symbols),
    )


def _first_guessable(g: Graph, pending: list[str], shapes: dict[str, Shape]) -> tuple[str, Shape] | None:
    for p in pending:
        node = g.nodes[p]
        for c in node.inputs:
            if c.source in shapes:
                return p, shapes[c.source]
        for e in g.edges:
            if e.target == p and e.out in shapes:
                return p, shapes[e.out]
    return None


def output_shape(node: Node, ins: list[Shape]) -> Shape:
    """One node's output shape from its input shapes, by its op's rule; raises `ShapeError`.

    The expander asks this ahead of inference, for `in.shape` (expand/inshape.py); the
    finished graph is inferred by `infer_shapes`, which reports what fails here.
    """
    op = get_op(node.op)
    if op is None or node.attrs is None:
        raise ShapeError(f"`{node.path}` is unchecked", "")
    lo, hi = op.arity
    if len(ins) < lo or (hi is not None and len(ins) > hi):
        raise ShapeError(f"`{node.path}` has {len(ins)} input(s)", "MS051")
    out = tuple(op.shape(node.attrs, [tuple(s) for s in ins]))
    if any(concrete(d) and d <= 0 for d in out):  # type: ignore[operator]
        raise ShapeError(f"gives an empty output {fmt_shape(out)}", "MS055")
    return out


def check_shape_reads(g: Graph, diags: Diagnostics) -> None:
    """MS028 where a shape read while expanding (`in.shape`) is not the one the finished graph has."""
    for path, shape, pos in g.shape_reads:
        now = g.inputs[path].shape if path in g.inputs else g.nodes[path].shape if path in g.nodes else None
        if now is not None and tuple(now) != tuple(shape):
            diags.add("MS028", f"`in.shape` was read as {fmt_shape(shape)} (the output of `{path}`) while the spec "
                      f"expanded, but the finished graph gives `{path}` {fmt_shape(now)}", pos,
                      suggestion="connect the block's input by a name that means one node")


def _infer_node(g: Graph, node: Node, ins: list[Shape], shapes: dict[str, Shape], failed: set[str],
                diags: Diagnostics) -> None:
    op = get_op(node.op)
    assert op is not None
    lo, hi = op.arity
    n = len(ins)
    if n < lo or (hi is not None and n > hi):
        want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo} to {hi}")
        diags.add("MS051", f"`{node.path}` ({node.op}) takes {want} input(s), got {n}", node.pos)
        failed.add(node.path)
        return
    node.in_shapes = [tuple(s) for s in ins]
    try:
        out = tuple(op.shape(node.attrs, node.in_shapes))
        for k, d in enumerate(out):
            if isinstance(d, int) and not isinstance(d, bool) and d <= 0:  # `concrete`, inlined: per node
                raise ShapeError(f"gives an empty output {fmt_shape(out)} (axis {k} has size {d})", "MS055")
        node.shape = out
        node.params = op.params(node.attrs, node.in_shapes, out)
        node.buffers = op.buffers(node.attrs, node.in_shapes, out)
        node.macs = op.macs(node.attrs, node.in_shapes, out)
        if not check_node(node, diags):
            failed.add(node.path)
            return
    except ShapeError as exc:
        srcs = ", ".join(f"{c.source} {fmt_shape(s)}" for c, s in zip(node.inputs, ins))
        diags.add(exc.code, f"`{node.path}` ({node.op}) {exc.message}", node.pos, suggestion=exc.suggestion,
                  notes=[f"inputs: {srcs}"])
        failed.add(node.path)
        return
    shapes[node.path] = out


def _adapt_ready_edges(g: Graph, shapes: dict[str, Shape], failed: set[str], done: set[int],
                       diags: Diagnostics) -> bool:
    progress = False
    for e in list(g.edges):
        if id(e) in done:
            continue
        if e.out in failed or e.target in failed:
            done.add(id(e))
            continue
        if e.out not in shapes or e.target not in shapes:
            continue
        done.add(id(e))
        progress = True
        _adapt(g, e, shapes[e.out], shapes[e.target], shapes, failed, diags)
    return progress


def _adapt(g: Graph, e: Edge, have: Shape, want: Shape, shapes: dict[str, Shape], failed: set[str],
           diags: Diagnostics) -> None:
    if tuple(have) == tuple(want):
        return
    if e.adapt == "none" or len(have) != len(want) or len(want) < 2:
        why = "`adapt: none` demands equal shapes" if e.adapt == "none" else "their ranks differ"
        diags.add("MS054", f"edge `{e.name}`: `{e.source}` gives {fmt_shape(have)} but `{e.target}` is "
                  f"{fmt_shape(want)}; {why}", e.pos)
        return
    steps: list[tuple[str, Op, Any]] = []
    wanted = [("adapt", "channels")] if have[1] != want[1] else []
    if len(want) > 2 and tuple(have[2:]) != tuple(want[2:]):
        if not all(concrete(d) for d in want[2:]):
            diags.add("MS054", f"edge `{e.name}`: cannot resize {fmt_shape(have)} to the symbolic size "
                      f"{fmt_shape(want)}", e.pos)
            return
        wanted.append(("resize", "resize"))
    for local, kind in wanted:
        found = adapter(kind, want)  # the op that serves as this kind of adapter, with its attributes
        if found is None:
            diags.add("MS054", f"edge `{e.name}`: no op adapts {fmt_shape(have)} to {fmt_shape(want)} "
                      f"({kind})", e.pos)
            return
        steps.append((local, *found))
    if len(steps) == 2 and all(concrete(d) for d in have[2:]) and _numel(want[2:]) < _numel(have[2:]):
        steps.reverse()  # a 1x1 map commutes with nearest resizing: run it on the smaller grid
    if tuple(have[:1]) != tuple(want[:1]):
        diags.add("MS054", f"edge `{e.name}`: batch axes differ ({fmt_shape(have)} vs {fmt_shape(want)})", e.pos)
        return
    prev, delay = e.out, (0 if e.chain else e.delay)
    for local, op, attrs in steps:
        node = Node(f"{e.name}.{local}", op.name, attrs, [Conn(prev, delay, e.pos)], e.pos,
                    role="adapter", edge=e.name)
        g.nodes[node.path] = node
        g.creation[node.path] = len(g.creation)
        g.order.insert(g.order.index(e.target), node.path)
        _infer_node(g, node, [shapes[prev]], shapes, failed, diags)
        e.chain.append(node.path)
        prev, delay = node.path, 0
    e.out = prev


def _numel(dims: Shape) -> int:
    n = 1
    for d in dims:
        n *= int(d)  # type: ignore[arg-type]
    return n


def _outputs(g: Graph, shapes: dict[str, Shape], failed: set[str], diags: Diagnostics) -> None:
    for o in g.outputs.values():
        if o.source not in shapes:
            continue
        o.shape = shapes[o.source]
        if o.declared is None:
            continue
        full = full_output_shape(g, o.shape, o.steps)
        clash = [(a, g.symbols[str(a)], b) for a, b in zip(o.declared, full)
                 if is_symbol(a) and str(a) in g.symbols and g.symbols[str(a)] != b and len(o.declared) == len(full)]
        if clash:
            sym, before, now = clash[0]
            diags.add("MS052", f"output `{o.name}`: `{sym}` is {now} here but {before} in an earlier declaration",
                      o.pos, suggestion="use different symbols for sizes that differ")
            continue
        if not unify(o.declared, full, g.symbols):
            diags.add("MS053", f"output `{o.name}` declares {fmt_shape(o.declared)} but `{o.source}` gives "
                      f"{fmt_shape(full)}", o.pos)


def full_output_shape(g: Graph, shape: Shape, steps: str) -> Shape:
    """The shape a caller sees: a time axis after the batch for ``steps: all``."""
    if g.time is None or steps == "last":
        return shape
    return (shape[0], g.time.steps, *shape[1:])


def unify(declared: Shape, inferred: Shape, bindings: dict[str, Dim]) -> bool:
    """Match a declared shape against an inferred one, binding symbols."""
    if len(declared) != len(inferred):
        return False
    for a, b in zip(declared, inferred):
        if a == b:
            continue
        if is_symbol(a):
            bound = bindings.get(str(a))
            if bound is None:
                bindings[str(a)] = b
                continue
            if bound != b:
                return False
            continue
        if is_symbol(b) and concrete(a):
            bound = bindings.get(str(b))
            if bound is None or bound == a:
                bindings[str(b)] = a
                continue
        return False
    return True

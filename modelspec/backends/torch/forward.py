"""The body of ``forward``: one statement per node, edges added into their targets.

Nodes are written in ``Graph.order``.  A node's value is the op's output plus
every edge into it, as the time plan (`modelspec.ir.timeplan`) lists them: an
edge's chain (via, adapters) is written right after its target, inside
``if t >= start:`` when the plan activates the edge later, so before then it
does no work, contributes nothing and no bias leaks in.  Delayed reads go through delay
buffers (`Rings`, in ``timeloop``); the time loop itself is assembled there.
"""

from __future__ import annotations

from typing import Callable

from ...ir.graph import Graph, Node
from ...ir.timeplan import Addition, TimePlan
from ...ops import TorchRules, get_op, torch_rules
from .context import TorchContext, TorchEmitError
from .naming import Namer, local_hint
from .stmts import Line, Stmt, add_dels, indented
from ..source import SymbolicDims


class Values(SymbolicDims):
    """Local names of everything ``forward`` computes, and runtime dims."""

    def __init__(self, g: Graph, namer: Namer) -> None:
        self.g = g
        self.namer = namer
        self.inputs = {name: namer.fresh(name) for name in g.inputs}
        self.nodes = {path: namer.fresh(local_hint(path)) for path in g.order}
        missing = [p for p in g.nodes if p not in self.nodes]
        if missing:
            raise TorchEmitError(f"nodes missing from the evaluation order: {', '.join(missing)}")
        #: per-step value of each input inside the time loop (the input itself when static)
        self.step_inputs = dict(self.inputs)
        #: symbol -> local bound at the start of forward, in order of first use
        self.symbols: dict[str, str] = {}
        #: (source, delay) -> expression of the delayed value; set by the time loop
        self.delayed: Callable[[str, int], str] | None = None

    def read(self, source: str, delay: int) -> str:
        """The expression of ``source``'s value ``delay`` steps back."""
        if delay:
            if self.delayed is None:
                raise TorchEmitError(
                    f"`{source}` is read with delay {delay} in a model without time")
            return self.delayed(source, delay)
        if source in self.nodes:
            return self.nodes[source]
        if source in self.step_inputs:
            return self.step_inputs[source]
        raise TorchEmitError(f"unknown source `{source}`")


def rules(n: Node) -> TorchRules:
    """The Torch rules of the node's op, or a TorchEmitError naming op and node."""
    found = torch_rules(get_op(n.op))  # type: ignore[arg-type]
    if found is None:
        raise TorchEmitError(
            f"op `{n.op}` (node `{n.path}`) has no Torch implementation (its class does not derive "
            "from modelspec.ops.TorchRules)")
    return found


class Body:
    """Writes the per-step statements of ``forward`` for a graph."""

    def __init__(self, g: Graph, plan: TimePlan, values: Values, modules: dict[str, str],
                 prev: Callable[[str], str] | None) -> None:
        self.g = g
        self.plan = plan
        self.v = values
        self.modules = modules  # node path -> local bound to its holder
        self.prev = prev  # node path -> its own value one step back
        self.chain_nodes = plan.chain_nodes
        #: how often each value is read, and the values kept beyond their readers
        self.reads: dict[str, int] = {}
        self.kept: set[str] = {o.source for o in g.outputs.values()} | {e.source for e in g.edges}
        for n in g.nodes.values():
            for c in n.inputs:
                self.reads[c.source] = self.reads.get(c.source, 0) + 1
                if c.delay:
                    self.kept.add(c.source)

    # ---- one node -------------------------------------------------------------
    def context(self, n: Node, prev: Callable[[], str] | None) -> TorchContext:
        g = self.g
        return TorchContext(
            path=n.path, ins=list(n.in_shapes), out=n.shape or (), dt=g.time.dt if g.time else None,
            _dim=self.v.dim, _prev=prev, _fresh=self.v.namer.fresh,
            _overwrite=lambda i: self.overwritable(n, i))

    def overwritable(self, n: Node, i: int) -> bool:
        """Input ``i`` of ``n`` is a fresh temporary that dies at ``n`` (see TorchRules.fresh_output)."""
        c = n.inputs[i]
        src = self.g.nodes.get(c.source)
        return (src is not None and c.delay == 0 and rules(src).fresh_output
                and self.reads.get(c.source) == 1 and c.source not in self.kept)

    def call(self, n: Node) -> tuple[str, list[str]]:
        """The op's output expression and the statements it needs first."""
        fn = rules(n).torch_call
        prev = (lambda: self.prev(n.path)) if self.prev is not None else None
        ctx = self.context(n, prev)
        args = [self.v.read(c.source, c.delay) for c in n.inputs]
        expr = fn(n.attrs, args, self.modules.get(n.path, ""), ctx)
        return expr, ctx.pre

    def needs_prev(self, n: Node) -> bool:
        """Whether the node's op reads its own previous value (a dry run of ``torch_call``)."""
        op = get_op(n.op)
        if op is None or not op.stateful:
            return False
        fn = rules(n).torch_call
        asked: list[bool] = []

        def probe() -> str:
            asked.append(True)
            return "_prev"

        ctx = self.context(n, probe)
        ctx._dim = lambda d: str(d)
        ctx._fresh = lambda hint: hint
        fn(n.attrs, [f"_in{i}" for i in range(len(n.inputs))], "_m", ctx)
        return bool(asked)

    def node(self, path: str) -> list[Stmt]:
        """The statements giving node ``path`` its value: the op, then its edges."""
        n = self.g.nodes[path]
        var = self.v.nodes[path]
        expr, pre = self.call(n)
        uses = {self.v.read(c.source, c.delay) for c in n.inputs}
        mod = self.modules.get(path)
        if mod:
            uses.add(mod)
        stmts = [Stmt([(line, None) for line in pre], set(), set())] if pre else []
        note = f"[{', '.join(str(d) for d in (n.shape or ()))}]"
        stmts.append(Stmt([(f"{var} = {expr}", note)], uses, {var}))
        for start, adds in self.plan.grouped_into(path):
            stmts.append(self.edges(adds, start, var))
        return stmts

    # ---- edges ----------------------------------------------------------------
    def edges(self, adds: list[Addition], start: int, target_var: str) -> Stmt:
        """``target += edge value`` per edge, chains first; inside ``if t >= start:`` when the
        plan activates the edges later than step 0 (before then they do no work)."""
        inner: list[Stmt] = []
        chain_vars: set[str] = set()
        for a in adds:
            for p in a.chain:
                inner.extend(self.node(p))
            out = self.v.read(a.value, 0) if a.chain else self.v.read(a.source, a.delay)
            inner.append(Stmt([(f"{target_var} = {target_var} + {out}", f"edge {a.edge}")],
                              {target_var, out}, {target_var}))
            chain_vars |= {self.v.nodes[p] for p in a.chain}
        inner = add_dels(inner, chain_vars, set(), tail=True)
        uses: set[str] = set()
        for s in inner:
            uses |= s.uses
        uses -= chain_vars
        if start:
            lines: list[Line] = [(f"if t >= {start}:", None), *indented(inner)]
            return Stmt(lines, uses, {target_var})
        return Stmt([line for s in inner for line in s.lines], uses, {target_var})

    # ---- the whole step -------------------------------------------------------
    def step(self) -> list[Stmt]:
        """Every node outside edge chains, in evaluation order."""
        return [s for path in self.plan.step_nodes(self.g.order) for s in self.node(path)]

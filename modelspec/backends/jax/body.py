"""The per-step statements of ``apply``: one assignment per node, edges added into targets.

Nodes are written in ``Graph.order``; an edge's chain (via, adapters) is written
right after its target, and its value added to it, as the time plan
(`modelspec.ir.timeplan`) lists them.  An edge the plan activates at step d > 0
sits under ``if start >= d:``, where ``start`` is the first step of the phase
being traced, a Python int: the phases before d trace no work for it at all.
Delayed reads are registered here and turned into buffer reads by ``apply``.
"""

from __future__ import annotations

from ...ir.graph import Graph, Node
from ...ir.timeplan import Addition, TimePlan
from ...ops import JaxRules, get_op, jax_rules
from ...ops.kit import CHANNELS_FIRST
from .context import JaxContext
from .naming import JaxEmitError, Namer, printable, q
from ..source import SymbolicDims


def param_ref(path: str, local: str) -> str:
    return f"params[{q(f'{path}.{local}')}]"


def state_ref(path: str, local: str) -> str:
    return f"state[{q(f'{path}.{local}')}]"


def rules(n: Node) -> JaxRules:
    """The JAX rules of the node's op, or a JaxEmitError naming op and node."""
    found = jax_rules(get_op(n.op))  # type: ignore[arg-type]
    if found is None:
        raise JaxEmitError(f"op `{n.op}` (node `{n.path}`) has no JAX implementation (its class does not "
                           "derive from modelspec.ops.JaxRules)")
    return found


class Values(SymbolicDims):
    """Local names of everything ``apply`` computes, runtime dims and delayed reads."""

    def __init__(self, g: Graph, namer: Namer) -> None:
        self.g = g
        self.namer = namer
        self.inputs = {name: namer.fresh(name) for name in g.inputs}
        self.nodes = {path: namer.fresh(path) for path in g.order}
        missing = [p for p in g.nodes if p not in self.nodes]
        if missing:
            raise JaxEmitError(f"nodes missing from the evaluation order: {', '.join(missing)}")
        #: per-step value of each input (inside the time loop); set by timeloop
        self.step_inputs = dict(self.inputs)
        #: symbol -> local bound at the start of apply, in order of first use
        self.symbols: dict[str, str] = {}
        #: (source, delay) -> local holding the delayed value, in order of first use
        self.delayed: dict[tuple[str, int], str] = {}

    def read(self, source: str, delay: int) -> str:
        """The expression of ``source``'s value ``delay`` steps back."""
        if delay:
            if self.g.time is None:
                raise JaxEmitError(f"`{source}` is read with delay {delay} in a model without time")
            k = (source, delay)
            if k not in self.delayed:
                self.delayed[k] = self.namer.fresh(f"{source}_d{delay}")
            return self.delayed[k]
        if source in self.nodes:
            return self.nodes[source]
        if source in self.step_inputs:
            return self.step_inputs[source]
        raise JaxEmitError(f"unknown source `{source}`")


class Body:
    """Writes the per-step statements of ``apply`` for a graph."""

    def __init__(self, g: Graph, plan: TimePlan, values: Values, dynamic: bool = False,
                 layout: str = CHANNELS_FIRST) -> None:
        self.g = g
        #: the layout every op is told of (`layout.choose_layout`)
        self.layout = layout
        #: the step ``t`` is a traced value (a stateful apply, `stream`): an edge not yet active
        #: is computed and then discarded with ``jnp.where(t >= d, ...)`` rather than left out
        self.dynamic = dynamic
        self.plan = plan
        self.v = values
        self.time = g.time is not None
        #: nodes whose op asked for its own previous value (each needs a buffer of depth 1)
        self.prev_nodes: list[str] = []
        self.index = {p: i for i, p in enumerate(g.order)}
        #: whether some op asked for a PRNG key (dropout, noise)
        self.uses_key = False
        #: expr -> local, parameter-only expressions computed before the time loop
        self.hoisted: dict[str, str] = {}
        #: step nodes kept in a delay ring (depth > 1): each is written into its ring as soon as
        #: it has its value (`_ring_put`); source -> the local of the updated ring
        self.ring_sources = {s for s, d in plan.depths if d > 1 and s in g.nodes}
        self.rings: dict[str, str] = {}

    def _hoist(self, expr: str, hint: str) -> str:
        if expr not in self.hoisted:
            self.hoisted[expr] = self.v.namer.fresh(hint)
        return self.hoisted[expr]

    def hoisted_lines(self) -> list[str]:
        return [f"{local} = {expr}" for expr, local in self.hoisted.items()]

    def _prev(self, path: str) -> str:
        if path not in self.prev_nodes:
            self.prev_nodes.append(path)
        return self.v.read(path, 1)

    def _key(self, path: str) -> str:
        self.uses_key = True
        base = "key_t" if self.time else "key"
        return f"jax.random.fold_in({base}, {self.index[path]})"

    def context(self, n: Node) -> JaxContext:
        g = self.g
        prev = (lambda: self._prev(n.path)) if self.time else None
        return JaxContext(
            path=n.path, ins=list(n.in_shapes), out=n.shape or (), dt=g.time.dt if g.time else None,
            state={k: state_ref(n.at, k) for k in n.buffers},
            layout=self.layout, _dim=self.v.dim, _prev=prev, _key=lambda: self._key(n.path),
            _fresh=self.v.namer.fresh, _hoist=self._hoist)

    def call(self, n: Node) -> tuple[str, list[str]]:
        fn = rules(n).jax_call
        ctx = self.context(n)
        args = [self.v.read(c.source, c.delay) for c in n.inputs]
        own = self.g.nodes[n.owner] if n.owner is not None else n  # a shared node reads its owner's
        p = {k: param_ref(own.at, k) for k in own.params}
        return fn(n.attrs, args, p, ctx), ctx.pre

    def node(self, path: str) -> list[str]:
        """The lines giving node ``path`` its value: the op, then its edges."""
        n = self.g.nodes[path]
        var = self.v.nodes[path]
        expr, pre = self.call(n)
        note = printable(f"  # {n.op} [{', '.join(str(d) for d in (n.shape or ()))}]")
        if n.buffers:
            targets = ", ".join(state_ref(n.at, k) for k in n.buffers) + ("," if len(n.buffers) == 1 else "")
            lines = [*pre, f"{var}, ({targets}) = {expr}{note}"]
        else:
            lines = [*pre, f"{var} = {expr}{note}"]
        for start, adds in self.plan.grouped_into(path):
            inner = [line for a in adds for line in self.edge(a, var)]
            if start and self.dynamic:
                lines += self._masked(start, adds, var, inner)
            elif start:
                lines += [f"if start >= {start}:  # from step {start} on", *("    " + s for s in inner)]
            else:
                lines += inner
        return lines

    def _masked(self, start: int, adds: list[Addition], var: str, inner: list[str]) -> list[str]:
        """``inner`` (edges adding into ``var``), kept only from step ``start`` on: the target and
        the buffers of the chains' nodes (BatchNorm) are restored before it, exactly as if it had
        not run."""
        keep = [(var, self.v.namer.fresh(f"{var}_before"))]
        for a in adds:
            for p in a.chain:
                keep += [(state_ref(p, k), self.v.namer.fresh(f"{p}_{k}_before")) for k in self.g.nodes[p].buffers]
        lines = [f"{saved} = {now}" for now, saved in keep]
        lines += inner
        lines += [f"{now} = jnp.where(t >= {start}, {now}, {saved})  # edges from step {start} on"
                  for now, saved in keep]
        return lines

    def edge(self, a: Addition, target: str) -> list[str]:
        lines: list[str] = []
        for p in a.chain:
            lines.extend(self.node(p))
        out = self.v.read(a.value, 0) if a.chain else self.v.read(a.source, a.delay)
        return [*lines, f"{target} = {target} + {out}  # edge {printable(a.edge)}"]

    def step(self) -> list[str]:
        """Every node outside edge chains, in evaluation order; a node kept in a delay ring is
        written into it right away and read back, so that every later use reads the ring."""
        lines: list[str] = []
        for path in self.plan.step_nodes(self.g.order):
            lines += self.node(path)
            if path in self.ring_sources:
                var, ring = self.v.nodes[path], self.v.namer.fresh(f"{path}_ring")
                self.rings[path] = ring
                lines.append(f"{ring}, {var} = _ring_put(bufs[{q(path)}], t, {var})  # into its delay ring now; later uses read it back")
        return lines

"""The per-step statements of ``apply``: one assignment per node, edges added into targets.

Nodes are written in ``Graph.order``; an edge's chain (via, adapters) is written
right after its target, and its value added to it.  A delayed edge with a chain
is masked with ``jnp.where(t >= delay, ...)``, so before then it contributes
nothing and no bias leaks in (an edge without a chain reads zeros anyway).
Delayed reads are registered here and turned into ring-buffer reads by
``timeloop``.
"""

from __future__ import annotations

from ...ir.graph import Edge, Graph, Node
from ...ops import JaxRules, get_op, jax_rules
from ...shapes.dims import Shape
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

    def __init__(self, g: Graph, values: Values) -> None:
        self.g = g
        self.v = values
        self.time = g.time is not None
        self.chain_nodes = {p for e in g.edges for p in e.chain}
        self.edges_into: dict[str, list[Edge]] = {}
        for e in g.edges:
            self.edges_into.setdefault(e.target, []).append(e)
        self.index = {p: i for i, p in enumerate(g.order)}
        #: whether some op asked for a PRNG key (dropout, noise)
        self.uses_key = False
        #: expr -> local, parameter-only expressions computed before the time loop
        self.hoisted: dict[str, str] = {}

    def _hoist(self, expr: str, hint: str) -> str:
        if expr not in self.hoisted:
            self.hoisted[expr] = self.v.namer.fresh(hint)
        return self.hoisted[expr]

    def hoisted_lines(self) -> list[str]:
        return [f"{local} = {expr}" for expr, local in self.hoisted.items()]

    def _key(self, path: str) -> str:
        self.uses_key = True
        base = "key_t" if self.time else "key"
        return f"jax.random.fold_in({base}, {self.index[path]})"

    def context(self, n: Node) -> JaxContext:
        g = self.g
        prev = (lambda: self.v.read(n.path, 1)) if self.time else None
        return JaxContext(
            path=n.path, ins=list(n.in_shapes), out=n.shape or (), dt=g.time.dt if g.time else None,
            state={k: state_ref(n.path, k) for k in n.buffers},
            _dim=self.v.dim, _prev=prev, _key=lambda: self._key(n.path), _fresh=self.v.namer.fresh,
            _hoist=self._hoist)

    def call(self, n: Node) -> tuple[str, list[str]]:
        fn = rules(n).jax_call
        ctx = self.context(n)
        args = [self.v.read(c.source, c.delay) for c in n.inputs]
        p = {k: param_ref(n.path, k) for k in n.params}
        return fn(n.attrs, args, p, ctx), ctx.pre

    def node(self, path: str) -> list[str]:
        """The lines giving node ``path`` its value: the op, then its edges."""
        n = self.g.nodes[path]
        var = self.v.nodes[path]
        expr, pre = self.call(n)
        note = printable(f"  # {n.op} [{', '.join(str(d) for d in (n.shape or ()))}]")
        if n.buffers:
            targets = ", ".join(state_ref(path, k) for k in n.buffers) + ("," if len(n.buffers) == 1 else "")
            lines = [*pre, f"{var}, ({targets}) = {expr}{note}"]
        else:
            lines = [*pre, f"{var} = {expr}{note}"]
        for e in self.edges_into.get(path, []):
            lines.extend(self.edge(e, var))
        return lines

    def edge(self, e: Edge, target: str) -> list[str]:
        lines: list[str] = []
        for p in self.g.order:
            if p in e.chain:
                lines.extend(self.node(p))
        if not e.chain:
            out = self.v.read(e.source, e.delay)
        elif e.delay and self.time:
            out = f"jnp.where(t >= {e.delay}, {self.v.read(e.out, 0)}, 0.0)"
        else:
            out = self.v.read(e.out, 0)
        return [*lines, f"{target} = {target} + {out}  # edge {printable(e.name)}"]

    def step(self) -> list[str]:
        """Every node outside edge chains, in evaluation order."""
        out: list[str] = []
        for path in self.g.order:
            if path not in self.chain_nodes:
                out.extend(self.node(path))
        return out

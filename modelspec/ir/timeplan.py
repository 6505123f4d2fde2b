"""The time lowering: what a time model does at each step, decided once for every backend.

Both emitters print the same plan, so the two backends cannot disagree on it:

* **delay buffers**: each source read with a delay (by an ``in`` or by an edge
  without a chain) gets a buffer as deep as the largest delay it is read with;
  a node whose op reads its own previous value needs depth 1 (`with_prev`,
  since only the op's backend rule knows whether it asks);
* **activation**: an ``in`` with delay d reads zeros before step d and real
  values from then on; an edge with delay d contributes nothing before step d,
  so its chain (via, adapters) need not run at all;
* **phases**: the steps between two consecutive activation times of edges (and
  the end of ``time.idle``) form a phase, with a fixed set of active edges; a
  backend may compile one loop per phase whose body holds only those edges;
* **additions**: the edges into each target, in order, with their chains in
  evaluation order;
* **emission**: which steps produce outputs (none during ``time.idle``) and
  whether an output keeps every step or only the last.

Steps are counted from 0 including the idle steps.  Pure Python: the core
commands read it without importing a framework.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence
from dataclasses import dataclass

from ..exceptions import ModelspecError
from .graph import Edge, Graph


@dataclass(frozen=True)
class Addition:
    """Edge ``edge`` adds ``value`` into its target from step ``start`` on."""

    edge: str
    source: str
    delay: int
    #: the node whose value is added: the chain's last, or ``source`` itself (read ``delay`` back)
    value: str
    #: the edge's own nodes (via, adapters) in evaluation order; empty for a plain edge
    chain: tuple[str, ...]
    #: first step at which the edge contributes (its delay in a time model, else 0)
    start: int


@dataclass(frozen=True)
class Phase:
    """Steps ``start <= t < stop``, during which the same edges are active."""

    start: int
    stop: int
    #: names of the edges that contribute in this phase (delayed or not)
    edges: frozenset[str]
    #: every step of the phase is an idle step: inputs read as zeros, nothing is emitted
    idle: bool


@dataclass(frozen=True)
class Emission:
    """Output ``name`` takes ``source``'s value at every step (``all``) or the last one."""

    name: str
    source: str
    steps: str


@dataclass(frozen=True)
class TimePlan:
    """The lowering of one graph's time loop; see the module docstring."""

    #: declared steps (without idle); 1 for a model without time
    steps: int
    idle: int
    timed: bool
    #: (source, depth) for every source with a delay buffer: inputs first, then evaluation order
    depths: tuple[tuple[str, int], ...]
    #: ((reader node, input index), delay) for every delayed ``in``: it reads real values from step delay
    delayed_inputs: tuple[tuple[tuple[str, int], int], ...]
    #: (target, its additions in edge order), targets in edge order
    additions: tuple[tuple[str, tuple[Addition, ...]], ...]
    phases: tuple[Phase, ...]
    emissions: tuple[Emission, ...]
    #: inputs, then nodes in evaluation order: the order of `depths`
    sources: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """Steps the loop runs: the idle ones, then the declared ones."""
        return self.idle + self.steps

    @property
    def first_emitted(self) -> int:
        """The first step whose outputs are kept (the idle steps' are dropped)."""
        return self.idle

    @functools.cached_property
    def _depth_of(self) -> dict[str, int]:
        return dict(self.depths)

    @functools.cached_property
    def _additions_into(self) -> dict[str, tuple[Addition, ...]]:
        return dict(self.additions)

    def depth(self, source: str) -> int:
        return self._depth_of.get(source, 0)

    def into(self, target: str) -> tuple[Addition, ...]:
        return self._additions_into.get(target, ())

    def grouped_into(self, target: str) -> list[tuple[int, list[Addition]]]:
        """The edges into ``target`` as (start step, edges): consecutive edges that start at the
        same later step share one guard in the emitted loop (start 0: no guard)."""
        groups: list[tuple[int, list[Addition]]] = []
        for a in self.into(target):
            if groups and a.start and groups[-1][0] == a.start:
                groups[-1][1].append(a)
            else:
                groups.append((a.start, [a]))
        return groups

    @functools.cached_property
    def chain_nodes(self) -> frozenset[str]:
        """Nodes that belong to an edge's chain: written with their edge, not on their own."""
        return frozenset(p for _, adds in self.additions for a in adds for p in a.chain)

    def step_nodes(self, order: Sequence[str]) -> list[str]:
        """The nodes of ``order`` (the evaluation order) that a step writes on their own: all
        but the `chain_nodes`, which each emitter writes with their edge."""
        return [p for p in order if p not in self.chain_nodes]

    def active(self, edge: str, start: int) -> bool:
        """Whether ``edge`` contributes during the phase that begins at step ``start``."""
        for _, adds in self.additions:
            for a in adds:
                if a.edge == edge:
                    return start >= a.start
        raise KeyError(edge)

    def with_prev(self, paths: list[str]) -> TimePlan:
        """The plan with a depth of at least 1 for nodes that read their own previous value.

        Kept apart because an op's backend rule decides whether it asks for it (an
        ``EulerStep`` given its state as a second input does not).
        """
        if not paths:
            return self
        depth = dict(self.depths)
        for p in paths:
            depth[p] = max(depth.get(p, 0), 1)
        return dataclasses.replace(self, depths=_ordered(list(self.sources), depth))


class TimePlanError(ModelspecError, ValueError):
    """The graph cannot be lowered (it was not checked: a delay outside a time model)."""


def _ordered(order: list[str], depth: dict[str, int]) -> tuple[tuple[str, int], ...]:
    rank = {s: i for i, s in enumerate(order)}
    return tuple(sorted(depth.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def lower_time(g: Graph) -> TimePlan:
    """The time plan of a checked graph (``g.order`` set); also valid without ``time``."""
    timed = g.time is not None
    steps = g.time.steps if g.time is not None else 1
    idle = g.time.idle if g.time is not None else 0
    sources = [*g.inputs, *g.order]

    depth: dict[str, int] = {}
    delayed_inputs: list[tuple[tuple[str, int], int]] = []
    for path in g.order:
        for i, c in enumerate(g.nodes[path].inputs):
            if c.delay:
                depth[c.source] = max(depth.get(c.source, 0), c.delay)
                delayed_inputs.append(((path, i), c.delay))
    for e in g.edges:
        if e.delay and not e.chain:
            depth[e.source] = max(depth.get(e.source, 0), e.delay)
    if depth and not timed:
        raise TimePlanError("delayed connections need `time:`")

    additions: dict[str, list[Addition]] = {}
    for e in g.edges:
        additions.setdefault(e.target, []).append(_addition(g, e, timed))
    adds = tuple((t, tuple(a)) for t, a in additions.items())
    return TimePlan(
        steps=steps, idle=idle, timed=timed,
        depths=_ordered(sources, {s: d for s, d in depth.items() if d}),
        delayed_inputs=tuple(delayed_inputs),
        additions=adds,
        phases=_phases(adds, steps + idle, idle) if timed else (),
        emissions=tuple(Emission(name, o.source, o.steps) for name, o in g.outputs.items()),
        sources=tuple(sources),
    )


def _addition(g: Graph, e: Edge, timed: bool) -> Addition:
    members = set(e.chain)
    chain = tuple(p for p in g.order if p in members)
    delay = e.delay if timed else 0
    return Addition(edge=e.name, source=e.source, delay=delay, value=e.out if e.chain else e.source,
                    chain=chain, start=delay)


def _phases(adds: tuple[tuple[str, tuple[Addition, ...]], ...], total: int, idle: int) -> tuple[Phase, ...]:
    """Split ``0..total`` at every edge's activation step and at the end of the idle steps."""
    every = [a for _, group in adds for a in group]
    cuts = sorted({0, *(a.start for a in every if 0 < a.start < total), *([idle] if 0 < idle < total else [])})
    bounds = [*cuts, total]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        active = frozenset(a.edge for a in every if a.start <= lo)
        out.append(Phase(lo, hi, active, idle=hi <= idle))
    return tuple(out)

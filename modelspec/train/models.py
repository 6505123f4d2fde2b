"""Build the model a run trains, from the checked IR, through the backends' own path.

An activity penalty needs the values of inner nodes.  The emitted forward is
straight-line code with no hooks to attach, so the graph is compiled with extra
output terminals (`activity__0`, ...) for those nodes; parameter names do not
change, so checkpoints load into the plain model for evaluation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..build import build_graph
from ..diagnostics import did_you_mean
from ..ir.graph import Graph, OutputTerm
from .losses import PENALTY_PREFIX
from .sources import DataError


def with_outputs(graph: Graph, nodes: list[str]) -> Graph:
    """A shallow copy of ``graph`` that also exposes ``nodes`` (every step, for time models)."""
    extra: dict[str, OutputTerm] = {}
    for i, path in enumerate(nodes):
        node = graph.nodes.get(path)
        if node is None:
            hint = did_you_mean(path, graph.nodes)
            raise DataError(f"`loss.activity_penalty.nodes`: the model has no node `{path}`"
                            + (f" ({hint})" if hint else ""))
        name = f"{PENALTY_PREFIX}{i}"
        extra[name] = OutputTerm(name=name, source=path, steps="all", shape=node.shape)
    if not extra:
        return graph
    return dataclasses.replace(graph, outputs={**graph.outputs, **extra})


def build_torch(graph: Graph) -> Any:
    """An `nn.Module` instance for ``graph``: the emitted source, as `modelspec.build` makes it."""
    return build_graph(graph, "torch")


def build_jax(graph: Graph) -> Any:
    """The emitted JAX module object (``init(key)``, ``init_state()``, ``apply(...)``) for ``graph``."""
    return build_graph(graph, "jax")

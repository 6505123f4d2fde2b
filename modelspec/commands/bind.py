"""`--dim B=32` for the summary: the checked graph with its free sizes bound, and activation sizes.

Binding copies the graph with every shape and MAC count evaluated where its
symbols are known (a dim naming a symbol not given stays symbolic), so the
summary's table, markdown and JSON read it like any other graph.  Activation
memory is what one forward pass materialises: every node's output, per step.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

from ..diagnostics import did_you_mean
from ..exceptions import ModelspecError
from ..expand.dimvalue import eval_dim
from ..expand.expressions import ExprError
from ..ir.graph import Graph, Node
from ..shapes.dims import Dim, Shape, add, concrete, mul, product, symbols_in

#: bytes per element of the dtypes a value can have (activations and params are float32)
DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "bool": 1}
ACTIVATION_DTYPE = "float32"


class DimsError(ModelspecError):
    """A `--dim` names no size of the model, or is not NAME=INT."""


def parse_dims(items: list[str]) -> dict[str, int]:
    """``["B=32", "L=16"]`` -> ``{"B": 32, "L": 16}``; a malformed item raises DimsError."""
    out: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier() or not value.isdigit() or int(value) < 1:
            raise DimsError(f"`--dim {item}` is not of the form NAME=SIZE with SIZE >= 1 (for example `--dim B=32`)")
        out[name] = int(value)
    return out


def free_symbols(g: Graph) -> list[str]:
    """The sizes a caller chooses: the symbols of the input shapes, in order of appearance."""
    out: list[str] = []
    for t in g.inputs.values():
        for d in t.shape:
            for s in [] if concrete(d) else symbols_in(str(d)):
                if s not in out:
                    out.append(s)
    return out


def bind_dim(d: Dim, env: Mapping[str, int]) -> Dim:
    """``d`` evaluated when every symbol it names is bound; unchanged otherwise."""
    if concrete(d) or not env:
        return d
    try:
        return eval_dim(d, env)
    except (KeyError, ExprError):
        return d


def _shape(s: Shape | None, env: Mapping[str, int]) -> Shape | None:
    return None if s is None else tuple(bind_dim(d, env) for d in s)


def bind_graph(g: Graph, dims: Mapping[str, int]) -> Graph:
    """A copy of ``g`` with the sizes ``dims`` bound; raises DimsError for a name that is no size."""
    known = free_symbols(g)
    for name in dims:
        if name not in known:
            hint = did_you_mean(name, known)
            sizes = ", ".join(known) or "none: every input size is fixed"
            raise DimsError(f"`--dim {name}=...`: `{name}` is not a free size of the model's inputs "
                            f"({sizes})" + (f"; {hint}" if hint else ""))
    if not dims:
        return g
    env = dict(dims)
    nodes = {p: dataclasses.replace(n, shape=_shape(n.shape, env), macs=bind_dim(n.macs, env),
                                    in_shapes=[_shape(s, env) or () for s in n.in_shapes])
             for p, n in g.nodes.items()}
    inputs = {k: dataclasses.replace(t, shape=_shape(t.shape, env) or ()) for k, t in g.inputs.items()}
    outputs = {k: dataclasses.replace(o, shape=_shape(o.shape, env), declared=_shape(o.declared, env))
               for k, o in g.outputs.items()}
    return dataclasses.replace(g, nodes=nodes, inputs=inputs, outputs=outputs)


def activation_elements(n: Node) -> Dim:
    """Elements of the node's output, one step (symbolic while a size is free)."""
    return product(n.shape) if n.shape is not None else 0


def activation_bytes(n: Node) -> Dim:
    return mul(activation_elements(n), DTYPE_BYTES[ACTIVATION_DTYPE])


def input_bytes(g: Graph) -> Dim:
    """The inputs of one forward pass, every step included (a static input is given once)."""
    total: Dim = 0
    for t in g.inputs.values():
        steps = g.time.steps if g.time is not None and not t.static else 1
        size = mul(mul(product(t.shape), steps), DTYPE_BYTES.get(t.dtype, 4))
        total = add(total, size)
    return total

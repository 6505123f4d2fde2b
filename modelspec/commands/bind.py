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
from ..expand.dimvalue import eval_dim
from ..expand.expressions import ExprError
from ..ir.graph import Graph, Node
from ..shapes.dims import Dim, Shape, add, concrete, fmt_shape, mul, product, symbols_in
from .dimargs import DimsError, parse_input_sizes

#: bytes per element of the dtypes a value can have (activations and params are float32)
DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "bool": 1}
ACTIVATION_DTYPE = "float32"


def free_symbols(g: Graph) -> list[str]:
    """The sizes a caller chooses: the symbols of the input shapes, in order of appearance."""
    out: list[str] = []
    for t in g.inputs.values():
        for d in t.shape:
            for s in [] if concrete(d) else symbols_in(str(d)):
                if s not in out:
                    out.append(s)
    return out


def input_size_dims(g: Graph, items: list[str], dims: Mapping[str, int]) -> dict[str, int]:
    """``dims`` (from `--dim`) with the sizes torchinfo's ``--input-size 32,3,224,224`` gives,
    matched against the input shapes.

    One item per input, in order, or ``NAME=...`` for a named input.  A fixed
    dim must be given as it is, and a symbol given twice (or by `--dim`) must agree.
    """
    inputs = list(g.inputs.values())
    out = dict(dims)
    by_input: dict[str, int] = {}
    for k, (name, sizes) in enumerate(parse_input_sizes(items)):
        if name is None:
            if k >= len(inputs):
                raise DimsError(f"`--input-size` given {len(items)} times, but the model has {len(inputs)} "
                                f"input(s): {', '.join(t.name for t in inputs)}")
            term = inputs[k]
        elif name in g.inputs:
            term = g.inputs[name]
        else:
            hint = did_you_mean(name, list(g.inputs))
            raise DimsError(f"`--input-size {name}=...`: the model has no input `{name}` "
                            f"({', '.join(g.inputs)})" + (f"; {hint}" if hint else ""))
        given = ",".join(map(str, sizes))
        if len(sizes) != len(term.shape):
            raise DimsError(f"`--input-size {given}` has {len(sizes)} sizes, but input `{term.name}` has "
                            f"{len(term.shape)} dims: {fmt_shape(term.shape)}")
        for d, size in zip(term.shape, sizes):
            if concrete(d):
                if d != size:
                    raise DimsError(f"`--input-size {given}`: input `{term.name}` is "
                                    f"{fmt_shape(term.shape)}, so this dim is {d}, not {size}")
                continue
            sym = str(d)  # an input dim is a number or a symbol (MS014)
            if by_input.setdefault(sym, size) != size:
                raise DimsError(f"`--input-size`: `{sym}` is given as {by_input[sym]} and as {size}")
            if out.setdefault(sym, size) != size:
                raise DimsError(f"`--dim {sym}={out[sym]}` and `--input-size` (which gives {sym}={size}) disagree")
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

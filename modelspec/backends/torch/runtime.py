"""Running an emitted model on made-up inputs: ``build --check`` and ``summary --backend torch``.

Symbols (``B``, ``L``, ...) are bound by the caller (``--dim B=8``); dims are
evaluated with a small arithmetic evaluator, never ``eval``.  Inputs are random
tensors of the inferred shapes (with the time axis for time models); integer
inputs feeding an ``Embedding`` stay below its table size.
"""

from __future__ import annotations

import ast
import operator
from typing import Any, Callable

from ...ir.graph import Graph
from ...shapes.dims import Dim, Shape, concrete
from .naming import symbols_in

_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}


class DimError(Exception):
    """A symbol has no value: tells which ``--dim`` to pass."""


def eval_dim(d: Dim, env: dict[str, int]) -> int:
    """The value of an IR dim with its symbols bound by ``env``."""
    if concrete(d):
        return int(d)
    missing = [s for s in symbols_in(str(d)) if s not in env]
    if missing:
        raise DimError(f"the size `{missing[0]}` is free: pass --dim {missing[0]}=N")

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise DimError(f"cannot evaluate the dimension `{d}`")

    return ev(ast.parse(str(d), mode="eval"))


def free_symbols(g: Graph) -> list[str]:
    """The symbols of the input shapes, in order of appearance."""
    out: list[str] = []
    for term in g.inputs.values():
        for d in term.shape:
            for s in symbols_in(str(d)) if not concrete(d) else []:
                if s not in out:
                    out.append(s)
    return out


def bind(g: Graph, dims: dict[str, int]) -> dict[str, int]:
    """``dims`` plus the default batch size B = 2, checked to cover every free symbol."""
    env = {"B": 2, **dims}
    for s in free_symbols(g):
        if s not in env:
            raise DimError(f"the input size `{s}` is free: pass --dim {s}=N")
    return env


def steps(g: Graph) -> int:
    return g.time.steps if g.time else 0


def input_shape(g: Graph, name: str, env: dict[str, int]) -> tuple[int, ...]:
    term = g.inputs[name]
    shape = [eval_dim(d, env) for d in term.shape]
    if g.time and not term.static:
        shape.insert(1, steps(g))
    return tuple(shape)


def output_shapes(g: Graph, env: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """The concrete shape each output must have (time axis included for ``steps: all``)."""
    out = {}
    for name, o in g.outputs.items():
        shape = [eval_dim(d, env) for d in (o.shape or ())]
        if g.time and o.steps == "all":
            shape.insert(1, steps(g))
        out[name] = tuple(shape)
    return out


def _index_bound(g: Graph, name: str) -> int:
    """Indices into the smallest Embedding table reading this input (2 without one)."""
    nums = [n.attrs.num for n in g.nodes.values()
            if n.op == "Embedding" and any(c.source == name for c in n.inputs)]
    return min(nums) if nums else 2


def random_inputs(g: Graph, env: dict[str, int], seed: int = 0) -> list[Any]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    out = []
    for name, term in g.inputs.items():
        shape = input_shape(g, name, env)
        if term.dtype in ("int32", "int64"):
            high = _index_bound(g, name)
            t = torch.randint(0, high, shape, generator=gen, dtype=getattr(torch, term.dtype))
        elif term.dtype == "bool":
            t = torch.rand(shape, generator=gen) > 0.5
        else:
            t = torch.randn(shape, generator=gen).to(getattr(torch, term.dtype))
        out.append(t)
    return out


def as_dict(g: Graph, result: Any) -> dict[str, Any]:
    """The model's result as ``{output name: tensor}`` (one output is returned bare)."""
    return result if isinstance(result, dict) else {next(iter(g.outputs)): result}


def shape_text(shape: Shape | tuple[int, ...]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"

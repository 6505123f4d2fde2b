"""Running an emitted model on made-up inputs: ``build --check`` and ``summary --backend torch``.

Symbols (``B``, ``L``, ...) are bound by the caller (``--dim B=8``); dims are
evaluated by the expression language, never ``eval``.  Inputs are random
tensors of the inferred shapes (with the time axis for time models); integer
inputs feeding an ``Embedding`` stay below its table size.
"""

from __future__ import annotations

from typing import Any

from ...ir.graph import Graph
from ...expand.expressions import ExprError
from ...ops import index_bound
from ...shapes import dims
from ...shapes.dims import Dim, Shape, concrete
from .naming import symbols_in

class DimError(Exception):
    """A symbol has no value: tells which ``--dim`` to pass."""


def eval_dim(d: Dim, env: dict[str, int]) -> int:
    """The value of an IR dim with its symbols bound by ``env``."""
    try:
        return dims.eval_dim(d, env)
    except KeyError as exc:
        raise DimError(f"the size `{exc.args[0]}` is free: pass --dim {exc.args[0]}=N") from None
    except ExprError:
        raise DimError(f"cannot evaluate the dimension `{d}`") from None


def shape_problems(g: Graph, outputs: dict[str, Any], env: dict[str, int]) -> list[str]:
    """How a model's actual outputs differ from the IR's (names and concrete shapes)."""
    want = output_shapes(g, env)
    problems = []
    if set(outputs) != set(want):
        problems.append(f"outputs {sorted(outputs)} instead of {sorted(want)}")
    for name, shape in want.items():
        got = tuple(outputs[name].shape) if name in outputs else None
        if got is not None and got != shape:
            problems.append(f"output `{name}` is {shape_text(got)}, the IR says {shape_text(shape)}")
    return problems


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
    """The bound the ops reading this input put on its indices (2 without one)."""
    return index_bound(g.nodes.values(), name) or 2


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

"""What a model wants and gives, read from the checked IR, with symbols bound.

Data loading, synthetic data and the losses all need the per-sample shapes of
the inputs and of the supervised output; this module derives them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..expand.dimvalue import eval_dim as _eval_dim
from ..expand.expressions import ExprError
from ..ops import index_bound
from ..shapes import dims
from ..shapes.dims import Dim
from .sources import DataError


@dataclass
class InputInfo:
    name: str
    shape: tuple[Dim, ...]  # per sample and step: the batch axis dropped
    dtype: str
    static: bool  # time models: the same value at every step (no time axis)


@dataclass
class ModelIO:
    inputs: dict[str, InputInfo]
    output: str  # the output the loss reads
    out_shape: tuple[Dim, ...]  # per sample and step
    out_steps: str  # "all" | "last"
    steps: int | None  # T of a time model, None otherwise
    outputs: list[str]
    vocab: dict[str, int]  # integer inputs some op reads as indices: their exclusive bound

    @property
    def time_inputs(self) -> list[str]:
        """Inputs that carry a time axis ([B, T, ...])."""
        if self.steps is None:
            return []
        return [n for n, i in self.inputs.items() if not i.static]


def eval_dim(d: Dim, bound: Mapping[str, int]) -> int | None:
    """The value of a dim with ``bound`` symbols, or None while a symbol is unbound."""
    try:
        return _eval_dim(d, bound)
    except (KeyError, ExprError):
        return None


def symbols_in(shape: tuple[Dim, ...]) -> list[str]:
    """The symbols a shape mentions, in order of appearance."""
    out: list[str] = []
    for d in shape:
        if isinstance(d, str):
            out.extend(s for s in dims.symbols_in(d) if s not in out)
    return out


def model_io(graph: Any, output: str | None) -> ModelIO:
    """Inputs and the supervised output of ``graph``; ``output`` picks one of several."""
    names = list(graph.outputs)
    if output is None:
        if len(names) != 1:
            raise DataError(f"the model has {len(names)} outputs ({', '.join(names)}); say which one the loss "
                            "reads with `train.output: NAME`")
        output = names[0]
    elif output not in graph.outputs:
        raise DataError(f"`train.output: {output}`: the model has no output `{output}` "
                        f"(outputs: {', '.join(names)})")
    o = graph.outputs[output]
    inputs = {n: InputInfo(n, tuple(t.shape[1:]), t.dtype, bool(t.static)) for n, t in graph.inputs.items()}
    vocab: dict[str, int] = {}
    for name in inputs:
        bound = index_bound(graph.nodes.values(), name)
        if bound is not None:
            vocab[name] = bound
    steps = graph.time.steps if graph.time is not None else None
    return ModelIO(inputs, output, tuple((o.shape or ())[1:]), o.steps, steps, names, vocab)

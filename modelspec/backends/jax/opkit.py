"""Small source-building helpers for the ops' ``jax_*`` methods.

Ops import this lazily inside their ``jax_*`` methods (the front end never
imports a backend).  Everything returns Python source text.
"""

from __future__ import annotations

from typing import Any, Sequence

from .naming import literal, q  # noqa: F401 - q is re-exported for op methods


def shape_lit(shape: Sequence[int]) -> str:
    return literal(tuple(int(d) for d in shape))


def uniform(fan_in: int) -> str:
    """PyTorch's default for weights (kaiming_uniform, a=sqrt(5)) and biases: U(+-1/sqrt(fan_in)).

    ``{uniform}`` is the emitter's U(-1, 1) array of the parameter's shape.
    """
    return f"{{uniform}} / math.sqrt({max(int(fan_in), 1)})"


def torch_default(shapes: dict[str, tuple[int, ...]], fan_in: int) -> dict[str, str]:
    """Every parameter uniform in +-1/sqrt(fan_in), as nn.Linear, nn.ConvNd, nn.LSTM do."""
    return {k: uniform(fan_in) for k in shapes}


def ones(shape: Sequence[int]) -> str:
    return f"jnp.ones({shape_lit(shape)}, jnp.float32)"


def zeros(shape: Sequence[int], dtype: str = "jnp.float32") -> str:
    return f"jnp.zeros({shape_lit(shape)}, {dtype})"


def call(fn: str, *args: str, **kwargs: Any) -> str:
    """``fn(arg, ..., name=literal, ...)``; keyword values are literals unless given as
    `Src` (already source)."""
    parts = list(args)
    for k, v in kwargs.items():
        parts.append(f"{k}={v.src if isinstance(v, Src) else literal(v)}")
    return f"{fn}({', '.join(parts)})"


class Src:
    """Marks a keyword value of `call` as source text rather than a literal."""

    def __init__(self, src: str) -> None:
        self.src = src


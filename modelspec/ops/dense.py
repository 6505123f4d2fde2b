"""Dense ops: Linear and Embedding."""

from __future__ import annotations

from typing import Sequence

from pydantic import Field

from ..shapes.dims import Dim, Shape, mul, product
from .base import Attrs, Op, ShapeError, need_concrete
from .registry import register


class LinearAttrs(Attrs):
    features: int = Field(gt=0, description="Output features.")
    bias: bool = Field(True, description="Add a learnable bias.")


@register
class Linear(Op):
    """y = x W^T + b over the last axis (PyTorch's nn.Linear)."""

    name = "Linear"
    Attrs = LinearAttrs
    category = "dense"
    doc = "Affine map over the last axis; weight [features, in], bias [features]."

    def shape(self, a: LinearAttrs, ins: Sequence[Shape]) -> Shape:
        if len(ins[0]) < 2:
            raise ShapeError(f"expects an input [B, ..., in], got rank {len(ins[0])}")
        return (*ins[0][:-1], a.features)

    def params(self, a: LinearAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        n_in = need_concrete(ins[0][-1], "input size (last axis)")
        p = {"weight": (a.features, n_in)}
        if a.bias:
            p["bias"] = (a.features,)
        return p

    def macs(self, a: LinearAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        return mul(product(ins[0][1:]), a.features)


class EmbeddingAttrs(Attrs):
    num: int = Field(gt=0, description="Size of the vocabulary: indices run 0 .. num-1 (PyTorch's num_embeddings).")
    features: int = Field(gt=0, description="Size of each embedding vector (PyTorch's embedding_dim).")


@register
class Embedding(Op):
    """Table lookup: integer indices [B, L] -> vectors [B, L, features] (PyTorch's nn.Embedding).

    A lookup, not arithmetic: 0 MACs.
    """

    name = "Embedding"
    Attrs = EmbeddingAttrs
    category = "dense"
    doc = "Looks up integer indices [B, ...] in a table; weight [num, features]; output [B, ..., features]."

    def shape(self, a: EmbeddingAttrs, ins: Sequence[Shape]) -> Shape:
        return (*ins[0], a.features)

    def params(self, a: EmbeddingAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        return {"weight": (a.num, a.features)}

"""Dense ops: Linear and Embedding."""

from __future__ import annotations

from typing import Any, Sequence

from .attrs import Field

from ..shapes.dims import Dim, Shape, mul, product
from .base import Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules, need_concrete
from .kit import torch_default
from .registry import register


class LinearAttrs(Attrs):
    features: int = Field(gt=0, description="Output features.")
    bias: bool = Field(True, description="Add a learnable bias.")


@register
class Linear(Op, TorchRules, JaxRules):
    """y = x W^T + b over the last axis (PyTorch's nn.Linear)."""

    Attrs = LinearAttrs
    category = "dense"
    doc = "Affine map over the last axis; weight [features, in], bias [features]."
    example = {"features": 128}
    fresh_output = True

    def channel_adapter(self, want: Shape) -> dict[str, Any] | None:
        """Adapts the features of rank-2 values (a value of higher rank has its channels
        on axis 1, which a Linear over the last axis would not touch)."""
        return {"features": want[1]} if len(want) == 2 else None

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

    def torch_layer(self, a: LinearAttrs, ins: Sequence[Shape], out: Shape) -> str:
        bias = "" if a.bias else ", bias=False"
        return f"nn.Linear({ins[0][-1]}, {a.features}{bias})"

    def torch_call(self, a: LinearAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        bias = f", {m}.bias" if a.bias else ""
        return f"F.linear({args[0]}, {m}.weight{bias})"

    def jax_init(self, a: LinearAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        return torch_default(self.params(a, ins, out), int(ins[0][-1]))

    def jax_call(self, a: LinearAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        bias = f", {p['bias']}" if a.bias else ""
        return f"_linear({args[0]}, {p['weight']}{bias})"


class EmbeddingAttrs(Attrs):
    num: int = Field(gt=0, description="Size of the vocabulary: indices run 0 .. num-1 (PyTorch's num_embeddings).")
    features: int = Field(gt=0, description="Size of each embedding vector (PyTorch's embedding_dim).")


@register
class Embedding(Op, TorchRules, JaxRules):
    """Table lookup: integer indices [B, L] -> vectors [B, L, features] (PyTorch's nn.Embedding).

    A lookup, not arithmetic: 0 MACs.
    """

    Attrs = EmbeddingAttrs
    category = "dense"
    doc = "Looks up integer indices [B, ...] in a table; weight [num, features]; output [B, ..., features]."
    example = {"num": 1000, "features": 64}

    def index_inputs(self, a: EmbeddingAttrs) -> dict[int, int]:
        """The input holds indices into the table: 0 .. num-1."""
        return {0: a.num}

    def shape(self, a: EmbeddingAttrs, ins: Sequence[Shape]) -> Shape:
        return (*ins[0], a.features)

    def params(self, a: EmbeddingAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        return {"weight": (a.num, a.features)}

    def torch_layer(self, a: EmbeddingAttrs, ins: Sequence[Shape], out: Shape) -> str:
        return f"nn.Embedding({a.num}, {a.features})"

    def torch_call(self, a: EmbeddingAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f"F.embedding({args[0]}, {m}.weight)"

    def jax_init(self, a: EmbeddingAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        return {"weight": "{normal}"}  # N(0, 1), as nn.Embedding

    def jax_call(self, a: EmbeddingAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return f"_embedding({args[0]}, {p['weight']})"

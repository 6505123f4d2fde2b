"""Normalisation ops: BatchNorm1d, BatchNorm2d, LayerNorm and GroupNorm.

Running statistics are *buffers* (saved with the weights, never trained):
BatchNorm's ``running_mean [C]``, ``running_var [C]`` and the 0-dim
``num_batches_tracked`` -- exactly the keys of torch's state_dict.

MACs are an honest small count per input element: BatchNorm is an affine
map at inference (2 per element: scale and shift); LayerNorm and GroupNorm
compute their statistics on every call (4 per element: mean, variance,
normalise, scale and shift folded into one).
"""

from __future__ import annotations

from typing import Optional, Sequence

from pydantic import Field

from ..shapes.dims import Dim, Shape, concrete, fmt_shape, mul, product
from .base import Attrs, Op, ShapeError, need_concrete, need_rank
from .registry import register


class BatchNormAttrs(Attrs):
    eps: float = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")
    momentum: Optional[float] = Field(
        0.1, ge=0, le=1,
        description="Weight of the newest batch in the running statistics; null: cumulative average.",
    )
    affine: bool = Field(True, description="Learn a per-channel scale (weight) and shift (bias).")
    track_running_stats: bool = Field(
        True, description="Keep running mean and variance (buffers) for evaluation."
    )


class LayerNormAttrs(Attrs):
    dims: int = Field(1, ge=1, description="How many trailing axes are normalised together.")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")
    elementwise_affine: bool = Field(True, description="Learn a scale (weight) of the normalised shape.")
    bias: bool = Field(True, description="Also learn a shift (bias); needs elementwise_affine.")


class GroupNormAttrs(Attrs):
    groups: int = Field(gt=0, description="Number of channel groups normalised separately.")
    eps: float = Field(1e-5, gt=0, description="Added to the variance for numerical stability.")
    affine: bool = Field(True, description="Learn a per-channel scale (weight) and shift (bias).")


class _BatchNorm(Op):
    category = "norm"
    ranks: tuple[int, ...]
    layout: str

    def shape(self, a: BatchNormAttrs, ins: Sequence[Shape]) -> Shape:
        return need_rank(ins, self.ranks, self.layout)

    def params(self, a: BatchNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        if not a.affine:
            return {}
        c = need_concrete(ins[0][1], "number of channels (axis 1)")
        return {"weight": (c,), "bias": (c,)}

    def buffers(self, a: BatchNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        if not a.track_running_stats:
            return {}
        c = need_concrete(ins[0][1], "number of channels (axis 1)")
        return {"running_mean": (c,), "running_var": (c,), "num_batches_tracked": ()}

    def macs(self, a: BatchNormAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        """2 per element: the inference-time scale and shift."""
        return mul(product(ins[0][1:]), 2)


@register
class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``[B, C]`` or ``[B, C, L]`` (PyTorch's nn.BatchNorm1d)."""

    name = "BatchNorm1d"
    Attrs = BatchNormAttrs
    ranks = (2, 3)
    layout = "[B, C] or [B, C, L]"
    doc = "Batch normalisation of [B, C] or [B, C, L] per channel; running statistics are buffers."


@register
class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``[B, C, H, W]`` (PyTorch's nn.BatchNorm2d)."""

    name = "BatchNorm2d"
    Attrs = BatchNormAttrs
    ranks = (4,)
    layout = "[B, C, H, W]"
    doc = "Batch normalisation of [B, C, H, W] per channel; running statistics are buffers."


@register
class LayerNorm(Op):
    """Layer normalisation over the last ``dims`` axes (PyTorch's nn.LayerNorm).

    ``dims: 1`` on ``[B, L, E]`` is ``nn.LayerNorm(E)``; ``dims: 2`` is
    ``nn.LayerNorm([L, E])``.  Weight and bias have the normalised shape.
    MACs: 4 per element.
    """

    name = "LayerNorm"
    Attrs = LayerNormAttrs
    category = "norm"
    doc = "Normalises the last `dims` axes; weight and bias of that trailing shape."

    def shape(self, a: LayerNormAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        if len(x) < a.dims + 1:
            raise ShapeError(
                f"normalises the last {a.dims} axes besides the batch axis, so needs a rank-{a.dims + 1} "
                f"or larger input, got {fmt_shape(x)} (rank {len(x)})"
            )
        return x

    def params(self, a: LayerNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        if not a.elementwise_affine:
            return {}
        trailing = tuple(need_concrete(d, "normalised shape") for d in ins[0][-a.dims:])
        p = {"weight": trailing}
        if a.bias:
            p["bias"] = trailing
        return p

    def macs(self, a: LayerNormAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        return mul(product(ins[0][1:]), 4)


@register
class GroupNorm(Op):
    """Group normalisation over ``[B, C, *]`` (PyTorch's nn.GroupNorm).  MACs: 4 per element."""

    name = "GroupNorm"
    Attrs = GroupNormAttrs
    category = "norm"
    doc = "Normalises channel groups of [B, C, *]; weight and bias [C]. C must be divisible by groups."

    def shape(self, a: GroupNormAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        if len(x) < 2:
            raise ShapeError(f"expects an input [B, C, *] of rank 2 or more, got {fmt_shape(x)} (rank {len(x)})")
        c = x[1]
        if concrete(c) and c % a.groups:  # type: ignore[operator]
            raise ShapeError(
                f"expects channels divisible by groups={a.groups}, got {c} channels in {fmt_shape(x)}"
            )
        return x

    def params(self, a: GroupNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        if not a.affine:
            return {}
        c = need_concrete(ins[0][1], "number of channels (axis 1)")
        return {"weight": (c,), "bias": (c,)}

    def macs(self, a: GroupNormAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        return mul(product(ins[0][1:]), 4)

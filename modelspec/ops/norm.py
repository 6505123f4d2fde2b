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

from .attrs import Field

from ..shapes.dims import Dim, Shape, concrete, fmt_shape, mul, product
from .base import Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules, need_concrete, need_rank
from .kit import call, ones, zeros
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


class _BatchNorm(Op, TorchRules, JaxRules):
    category = "norm"
    fresh_output = True
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

    def torch_layer(self, a: BatchNormAttrs, ins: Sequence[Shape], out: Shape) -> str | None:
        if not (a.affine or a.track_running_stats):
            return None
        opts = [f"{k}={v!r}" for k, v, default in (
            ("eps", a.eps, 1e-5), ("momentum", a.momentum, 0.1), ("affine", a.affine, True),
            ("track_running_stats", a.track_running_stats, True)) if v != default]
        return f"nn.{self.name}({ins[0][1]}{''.join(', ' + o for o in opts)})"

    def torch_helpers(self, a: BatchNormAttrs) -> dict[str, str]:
        return {"_batch_norm": BATCH_NORM} if (a.affine or a.track_running_stats) else {}

    def torch_call(self, a: BatchNormAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        """nn.BatchNorm's forward as one call (batch statistics and their update while training)."""
        if not (a.affine or a.track_running_stats):
            return f"F.batch_norm({args[0]}, None, None, None, None, True, 0.0, {a.eps!r})"
        return f"_batch_norm({args[0]}, {m}, {ctx.training})"

    def jax_init(self, a: BatchNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        c = int(ins[0][1])
        return {"weight": ones((c,)), "bias": zeros((c,))} if a.affine else {}

    def jax_init_state(self, a: BatchNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        c = int(ins[0][1])
        if not a.track_running_stats:
            return {}
        return {"running_mean": zeros((c,)), "running_var": ones((c,)),
                "num_batches_tracked": zeros((), "jnp.int32")}

    def jax_call(self, a: BatchNormAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """Returns (y, (running_mean, running_var, num_batches_tracked)) when tracking."""
        wb = [p["weight"], p["bias"]] if a.affine else ["None", "None"]
        kw = {"momentum": a.momentum, "eps": a.eps}
        if not a.track_running_stats:  # batch statistics in both modes, as torch
            return call("_batch_norm", args[0], *wb, "None", "None", "None", "True", **kw) + "[0]"
        s = ctx.state
        stats = [s["running_mean"], s["running_var"], s["num_batches_tracked"]]
        return call("_batch_norm", args[0], *wb, *stats, ctx.train, **kw)


#: the Torch helper of BatchNorm1d/2d: nn.BatchNorm's forward without the module call.
BATCH_NORM = '''def _batch_norm(x: Tensor, bn: nn.Module, training: bool) -> Tensor:
    """nn.BatchNorm's forward: count the step and use batch statistics while training."""
    momentum = bn.momentum
    if training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
        if momentum is None:  # a cumulative moving average
            momentum = 1.0 / float(bn.num_batches_tracked)
    batch_stats = training or not bn.track_running_stats
    return F.batch_norm(
        x, bn.running_mean, bn.running_var, bn.weight, bn.bias, batch_stats, momentum or 0.0, bn.eps
    )'''


@register
class BatchNorm1d(_BatchNorm):
    """Batch normalisation over ``[B, C]`` or ``[B, C, L]`` (PyTorch's nn.BatchNorm1d)."""

    Attrs = BatchNormAttrs
    ranks = (2, 3)
    layout = "[B, C] or [B, C, L]"
    doc = "Batch normalisation of [B, C] or [B, C, L] per channel; running statistics are buffers."


@register
class BatchNorm2d(_BatchNorm):
    """Batch normalisation over ``[B, C, H, W]`` (PyTorch's nn.BatchNorm2d)."""

    Attrs = BatchNormAttrs
    ranks = (4,)
    layout = "[B, C, H, W]"
    doc = "Batch normalisation of [B, C, H, W] per channel; running statistics are buffers."


@register
class LayerNorm(Op, TorchRules, JaxRules):
    """Layer normalisation over the last ``dims`` axes (PyTorch's nn.LayerNorm).

    ``dims: 1`` on ``[B, L, E]`` is ``nn.LayerNorm(E)``; ``dims: 2`` is
    ``nn.LayerNorm([L, E])``.  Weight and bias have the normalised shape.
    MACs: 4 per element.
    """

    Attrs = LayerNormAttrs
    category = "norm"
    fresh_output = True
    doc = "Normalises the last `dims` axes; weight and bias of that trailing shape."

    def torch_layer(self, a: LayerNormAttrs, ins: Sequence[Shape], out: Shape) -> str | None:
        if not a.elementwise_affine:
            return None
        trailing = tuple(ins[0][-a.dims:])
        shape = trailing[0] if len(trailing) == 1 else trailing
        opts = ("" if a.eps == 1e-5 else f", eps={a.eps!r}") + ("" if a.bias else ", bias=False")
        return f"nn.LayerNorm({shape!r}{opts})"

    def torch_call(self, a: LayerNormAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        shape = ctx.shape(tuple(ctx.ins[0][-a.dims:]))
        weight = f"{m}.weight" if a.elementwise_affine else "None"
        bias = f"{m}.bias" if a.elementwise_affine and a.bias else "None"
        return f"F.layer_norm({args[0]}, {shape}, {weight}, {bias}, {a.eps!r})"

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

    def jax_init(self, a: LayerNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        shapes = self.params(a, ins, out)
        return {k: (ones(s) if k == "weight" else zeros(s)) for k, s in shapes.items()}

    def jax_call(self, a: LayerNormAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return call("_layer_norm", args[0], p.get("weight", "None"), p.get("bias", "None"), dims=a.dims, eps=a.eps)


@register
class GroupNorm(Op, TorchRules, JaxRules):
    """Group normalisation over ``[B, C, *]`` (PyTorch's nn.GroupNorm).  MACs: 4 per element."""

    Attrs = GroupNormAttrs
    category = "norm"
    fresh_output = True
    doc = "Normalises channel groups of [B, C, *]; weight and bias [C]. C must be divisible by groups."
    example = {"groups": 4}

    def torch_layer(self, a: GroupNormAttrs, ins: Sequence[Shape], out: Shape) -> str | None:
        if not a.affine:
            return None
        opts = "" if a.eps == 1e-5 else f", eps={a.eps!r}"
        return f"nn.GroupNorm({a.groups}, {ins[0][1]}{opts})"

    def torch_call(self, a: GroupNormAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        weights = f"{m}.weight, {m}.bias" if a.affine else "None, None"
        return f"F.group_norm({args[0]}, {a.groups}, {weights}, {a.eps!r})"

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

    def jax_init(self, a: GroupNormAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        c = int(ins[0][1])
        return {"weight": ones((c,)), "bias": zeros((c,))} if a.affine else {}

    def jax_call(self, a: GroupNormAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return call("_group_norm", args[0], p.get("weight", "None"), p.get("bias", "None"), str(a.groups), eps=a.eps)

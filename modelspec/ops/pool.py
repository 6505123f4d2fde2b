"""Pooling ops: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GlobalAvgPool and Mean (over named axes).

MAC counts for pooling are window operations: a max or an average pool
counts one operation per kernel element per output element (a comparison
or an addition); the adaptive and global averages count one addition per
input element.  Pools hold no parameters.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Optional, Sequence, Union

from .attrs import Field, model_validator

from ..shapes.dims import Dim, Shape, add, concrete, conv_out, floordiv, fmt_shape, mul, product
from .base import Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules, need_rank, numel
from .kit import CHANNELS_LAST, call, changed, keywords, spatial_axes
from .shape_ops import normalize_axis
from .conv import LAYOUT, Pad2, PosInt, Size2, check_positive, ntuple
from .registry import register


def pool_out(size: Dim, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> Dim:
    """Output length of a pooling window, PyTorch's formula including ``ceil_mode``.

    With ``ceil_mode`` and a symbolic size the last-window correction (a window
    that would start in the right padding is dropped) cannot be decided, so the
    plain ceiling expression is returned.
    """
    if not ceil_mode:
        return conv_out(size, kernel, stride, padding, dilation)
    span = dilation * (kernel - 1) + 1
    if concrete(size):
        out = (size + 2 * padding - span + stride - 1) // stride + 1  # type: ignore[operator]
        if (out - 1) * stride >= size + padding:  # type: ignore[operator]
            out -= 1
        return out
    return add(floordiv(add(size, 2 * padding - span + stride - 1), stride), 1)


class _PoolAttrs(Attrs):
    kernel: Size2 = Field(description="Window size: an int, or [kh, kw].")
    stride: Optional[Size2] = Field(None, description="Window step: an int or [sh, sw]; default: the kernel size.")
    padding: Pad2 = Field(0, description="Implicit padding on both sides; at most half the kernel.")
    ceil_mode: bool = Field(False, description="Round the output size up instead of down (PyTorch's ceil_mode).")

    @model_validator(mode="after")
    def _check(self) -> "_PoolAttrs":
        for k, p in zip(ntuple(self.kernel, 2), ntuple(self.padding, 2)):
            if p > k // 2:
                raise ValueError(f"padding ({p}) must be at most half the kernel size ({k}), as in PyTorch")
        return self


class MaxPool2dAttrs(_PoolAttrs):
    dilation: Size2 = Field(1, description="Spacing between window elements: an int or [dh, dw].")


class AvgPool2dAttrs(_PoolAttrs):
    count_include_pad: bool = Field(True, description="Count the zero padding in the average's divisor.")


class AdaptiveAvgPool2dAttrs(Attrs):
    size: Union[PosInt, Annotated[tuple[Optional[PosInt], ...], Field(min_length=2, max_length=2)]] = Field(
        description="Output size: an int (square) or [h, w]; a null entry keeps that input size."
    )


class GlobalAvgPoolAttrs(Attrs):
    pass


class MeanAttrs(Attrs):
    axes: tuple[int, ...] = Field(
        min_length=1,
        description="The axes averaged over, counting the batch axis as 0 (which cannot be one of them); "
        "negative axes count from the end.",
    )
    keepdim: bool = Field(False, description="Keep the averaged axes with size 1 (PyTorch's keepdim).")


class _Pool2d(Op, TorchRules, JaxRules):
    """A 2-d window pool: ``F.<torch_function>`` in Torch, ``_<torch_function>`` in JAX."""

    category = "pool"
    torch_function: ClassVar[str]
    #: the optional attributes with their defaults, in the order of torch's keyword arguments
    options: ClassVar[tuple[tuple[str, Any], ...]]

    def shape(self, a: _PoolAttrs, ins: Sequence[Shape]) -> Shape:
        x = need_rank(ins, 4, LAYOUT[2])
        k = ntuple(a.kernel, 2)
        s = ntuple(a.stride, 2) if a.stride is not None else k
        p = ntuple(a.padding, 2)
        d = ntuple(getattr(a, "dilation", 1), 2)
        spatial = tuple(pool_out(x[2 + i], k[i], s[i], p[i], d[i], a.ceil_mode) for i in range(2))
        return check_positive((x[0], x[1], *spatial), x, f"window {fmt_shape(k)} is larger than the padded input")

    def macs(self, a: _PoolAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        """One operation per kernel element per output element."""
        return mul(product(out[1:]), numel(ntuple(a.kernel, 2)))

    def jax_channels_last(self, a: _PoolAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        return True

    def torch_call(self, a: _PoolAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f"F.{self.torch_function}({args[0]}, {a.kernel!r}{keywords(changed(a, self.options))})"

    def jax_call(self, a: _PoolAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """The JAX pool takes the stride (the kernel when left out) and the sizes per axis."""
        k = ntuple(a.kernel, 2)
        stride = ntuple(a.stride, 2) if a.stride is not None else k
        kw = changed(a, self.options[1:])
        kw.update({name: ntuple(kw[name], 2) for name in ("padding", "dilation") if name in kw})
        if ctx.layout == CHANNELS_LAST:
            kw["channels_last"] = True
        return call(f"_{self.torch_function}", args[0], ctx.lit(k), ctx.lit(stride), **kw)


def _pool(what: str, name: str, function: str, attrs: type[_PoolAttrs],
          options: tuple[tuple[str, Any], ...]) -> type[_Pool2d]:
    """Registers PyTorch's nn.<name> (F.<function>): ``what`` (Max, Average) over 2-d windows."""
    return register(type(name, (_Pool2d,), {
        "__doc__": f"{what} over 2-d windows (PyTorch's nn.{name}); stride defaults to the kernel.",
        "__module__": __name__, "__qualname__": name, "name": name, "Attrs": attrs, "example": {"kernel": 2},
        "doc": f"{what} over kh x kw windows of [B, C, H, W]; stride defaults to the kernel size.",
        "torch_function": function, "options": options,
    }))


MaxPool2d = _pool("Max", "MaxPool2d", "max_pool2d", MaxPool2dAttrs,
                  (("stride", None), ("padding", 0), ("dilation", 1), ("ceil_mode", False)))
AvgPool2d = _pool("Average", "AvgPool2d", "avg_pool2d", AvgPool2dAttrs,
                  (("stride", None), ("padding", 0), ("ceil_mode", False), ("count_include_pad", True)))


@register
class AdaptiveAvgPool2d(Op, TorchRules, JaxRules):
    """Average pooling to a fixed output size (PyTorch's nn.AdaptiveAvgPool2d).

    MACs: one addition per input element (the windows tile the input).
    """

    Attrs = AdaptiveAvgPool2dAttrs
    category = "pool"
    doc = "Average-pools [B, C, H, W] to [B, C, h, w] whatever the input size."
    example = {"size": 1}

    def torch_call(self, a: AdaptiveAvgPool2dAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return f"F.adaptive_avg_pool2d({args[0]}, {a.size!r})"

    def shape(self, a: AdaptiveAvgPool2dAttrs, ins: Sequence[Shape]) -> Shape:
        x = need_rank(ins, 4, LAYOUT[2])
        size = (a.size, a.size) if isinstance(a.size, int) else a.size
        spatial = tuple(x[2 + i] if size[i] is None else size[i] for i in range(2))
        return (x[0], x[1], *spatial)

    def macs(self, a: AdaptiveAvgPool2dAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        return product(ins[0][1:])

    def jax_call(self, a: AdaptiveAvgPool2dAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        size = (a.size, a.size) if isinstance(a.size, int) else tuple(a.size)
        return f"_adaptive_avg_pool2d({args[0]}, {ctx.lit(size)})"


@register
class GlobalAvgPool(Op, TorchRules, JaxRules):
    """Mean over every spatial axis: ``[B, C, *spatial] -> [B, C]``.

    MACs: one addition per input element.
    """

    Attrs = GlobalAvgPoolAttrs
    category = "pool"
    doc = "Mean over all spatial axes: [B, C, *spatial] -> [B, C] (any number of spatial axes)."

    def torch_call(self, a: GlobalAvgPoolAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        axes = tuple(range(2, len(ctx.ins[0])))
        return f"{args[0]}.mean(dim={axes[0] if len(axes) == 1 else axes!r})"

    def shape(self, a: GlobalAvgPoolAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        if len(x) < 3:
            raise ShapeError(
                f"expects an input [B, C, *spatial] of rank 3 or more, got {fmt_shape(x)} (rank {len(x)})"
            )
        return (x[0], x[1])

    def macs(self, a: GlobalAvgPoolAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        return product(ins[0][1:])

    def jax_call(self, a: GlobalAvgPoolAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        return f"jnp.mean({args[0]}, axis={ctx.lit(spatial_axes(len(ctx.ins[0]), ctx.layout))})"

    def jax_channels_last(self, a: GlobalAvgPoolAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        return True


def mean_axes(a: MeanAttrs, x: Shape) -> tuple[int, ...]:
    """The averaged axes of ``x`` as sorted non-negative indices, checked (never the batch axis)."""
    axes = [normalize_axis(ax, len(x), x) for ax in a.axes]
    if len(set(axes)) != len(axes):
        raise ShapeError(f"axes {list(a.axes)} name the same axis twice for the input {fmt_shape(x)}")
    if 0 in axes:
        raise ShapeError(
            f"axes {list(a.axes)} include the batch axis 0 of {fmt_shape(x)}; a mean is taken per sample",
            suggestion="count the axes from 1 (axis 1 is the first after the batch axis)",
        )
    return tuple(sorted(axes))


@register
class Mean(Op, TorchRules, JaxRules):
    """Mean over the named axes (``x.mean(dim=axes, keepdim=...)``), e.g. the sequence axis of
    ``[B, L, E]`` with ``axes: [1]``, where `GlobalAvgPool` would average E.

    MACs: one addition per input element.
    """

    Attrs = MeanAttrs
    category = "pool"
    doc = "Mean over `axes` (batch axis 0 excluded), dropping them unless keepdim: [B, L, E] -> [B, E] with axes [1]."

    def shape(self, a: MeanAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        axes = mean_axes(a, x)
        if a.keepdim:
            return tuple(1 if i in axes else d for i, d in enumerate(x))
        return tuple(d for i, d in enumerate(x) if i not in axes)

    def macs(self, a: MeanAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        return product(ins[0][1:])

    def torch_call(self, a: MeanAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        axes = mean_axes(a, ctx.ins[0])
        dim = axes[0] if len(axes) == 1 else axes
        return f"{args[0]}.mean(dim={dim!r}{', keepdim=True' if a.keepdim else ''})"

    def jax_call(self, a: MeanAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        axes = mean_axes(a, ctx.ins[0])
        return f"jnp.mean({args[0]}, axis={ctx.lit(axes)}{', keepdims=True' if a.keepdim else ''})"

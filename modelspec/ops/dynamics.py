"""Dynamics ops: EulerStep (the leaky integrator of docs/language.md, "7. Time"), Interpolate and
Upsample (Interpolate under torch.nn.Upsample's attribute names).

``EulerStep`` is stateful: ``y_t = h + (dt/tau) * (x_t - h)`` where ``h`` is
its second input when given and its own ``y_{t-1}`` otherwise (0 at t = 0).
It is elementwise and counts 0 MACs.  ``tau`` is in milliseconds here; the
expander converts duration strings such as ``"5ms"`` before validation.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Any, ClassVar, Literal, Optional, Sequence, Union

from .attrs import Field, model_validator

from ..shapes.dims import Dim, Shape, concrete, floordiv, fmt_shape, mul, product
from .base import Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules
from .kit import CHANNELS_LAST, call
from .conv import PosInt, check_positive
from .registry import register

PosFloat = Annotated[float, Field(gt=0)]


class EulerStepAttrs(Attrs):
    tau: float = Field(5.0, gt=0, description="Time constant in ms (a duration such as `5ms` is converted).")
    train_tau: bool = Field(False, description="Learn tau (a 0-dim parameter `tau`).")


#: the attributes Interpolate and Upsample share (Upsample names the scale `scale_factor`)
SpatialSize = Optional[Union[PosInt, Annotated[tuple[PosInt, ...], Field(min_length=1, max_length=3)]]]
SpatialScale = Optional[Union[PosFloat, Annotated[tuple[PosFloat, ...], Field(min_length=1, max_length=3)]]]
ResizeMode = Literal["nearest", "linear", "bilinear", "bicubic"]
_MODE = "Resampling: nearest (any rank), linear (1-d), bilinear or bicubic (2-d)."


class _ResizeAttrs(Attrs):
    """Checks Interpolate's and Upsample's attributes alike: exactly one of the size and the
    scale (named ``scale_attr``), align_corners only where the mode interpolates."""

    scale_attr: ClassVar[str]

    @model_validator(mode="after")
    def _check(self) -> "_ResizeAttrs":
        if (getattr(self, "size") is None) == (getattr(self, self.scale_attr) is None):
            raise ValueError(f"give exactly one of `size` and `{self.scale_attr}`")
        if getattr(self, "align_corners") is not None and getattr(self, "mode") == "nearest":
            raise ValueError("align_corners can only be set with mode linear, bilinear or bicubic")
        return self


class InterpolateAttrs(_ResizeAttrs):
    scale_attr = "scale"
    size: SpatialSize = Field(
        None, description="Output spatial size: an int (every spatial axis) or one int per axis. Exclusive with scale."
    )
    scale: SpatialScale = Field(
        None, description="Spatial scale factor: a number or one per axis; size = floor(in * scale). Exclusive with size."
    )
    mode: ResizeMode = Field("nearest", description=_MODE)
    align_corners: Optional[bool] = Field(
        None, description="PyTorch's align_corners; only for linear, bilinear and bicubic."
    )


@register
class EulerStep(Op, TorchRules, JaxRules):
    """Leaky integrator ``y_t = h + (dt/tau) * (x_t - h)`` (docs/language.md, "7. Time").

    Inputs: ``x`` and optionally the state ``h`` (same shape); without ``h``
    the op integrates its own previous output.  One parameter ``tau`` of
    shape ``()`` when ``train_tau``.
    """

    Attrs = EulerStepAttrs
    arity = (1, 2)
    stateful = True
    category = "dynamics"
    fresh_output = True
    doc = "Leaky integrator y = h + (dt/tau)(x - h); h is the 2nd input or the previous output."

    def shape(self, a: EulerStepAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        if len(ins) > 1 and tuple(ins[1]) != x:
            raise ShapeError(
                f"expects the state h (2nd input) shaped like the input, got x {fmt_shape(x)} "
                f"and h {fmt_shape(ins[1])}"
            )
        return x

    def params(self, a: EulerStepAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        return {"tau": ()} if a.train_tau else {}

    def torch_layer(self, a: EulerStepAttrs, ins: Sequence[Shape], out: Shape) -> str | None:
        return f'Params({{"tau": torch.tensor({a.tau!r})}})' if a.train_tau else None

    def torch_call(self, a: EulerStepAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        """y = h + (dt/tau)(x - h); h: the second input, else this node's value at t-1 (0 at t = 0)."""
        x, h = args[0], args[1] if len(args) > 1 else ctx.prev()
        tau = f"{m}.tau" if a.train_tau else repr(a.tau)
        return f"{h} + ({ctx.dt!r} / {tau}) * ({x} - {h})"

    def jax_init(self, a: EulerStepAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        return {"tau": f"jnp.asarray({a.tau!r}, jnp.float32)"} if a.train_tau else {}

    def jax_channels_last(self, a: EulerStepAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        """Elementwise (tau is a scalar)."""
        return True

    def jax_call(self, a: EulerStepAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """h + (dt/tau)(x - h); h: the second input, else this node's value at t-1 (0 at t = 0)."""
        x, h = args[0], args[1] if len(args) > 1 else ctx.prev()
        rate = f"{ctx.dt!r} / {p['tau']}" if a.train_tau else f"{ctx.dt!r} / {a.tau!r}"
        return f"_euler({x}, {h}, {rate})"


_MODE_RANK = {"linear": 1, "bilinear": 2, "bicubic": 2}


def _scaled(d: Dim, s: float) -> Dim:
    """floor(d * s): exact for concrete d, a floor-division expression otherwise."""
    if concrete(d):
        return math.floor(d * s)  # type: ignore[operator]
    f = Fraction(s).limit_denominator(1000)
    return floordiv(mul(d, f.numerator), f.denominator)


@register
class Interpolate(Op, TorchRules, JaxRules):
    """Resizes the spatial axes of ``[B, C, *spatial]`` (PyTorch's F.interpolate).

    MACs: 0 for nearest; otherwise the neighbours weighted per output element
    (2 per spatial axis for linear modes, 16 for bicubic).
    """

    Attrs = InterpolateAttrs
    category = "dynamics"
    #: the attribute holding the scale factor, as messages name it
    scale_name = "scale"

    def resize_adapter(self, want: Shape) -> dict[str, Any] | None:
        """Nearest resizing adapts the 1 to 3 spatial axes of an edge."""
        return {"size": list(want[2:]), "mode": "nearest"} if 3 <= len(want) <= 5 else None
    doc = "Resizes [B, C, *spatial] to `size` or by `scale` (nearest, linear, bilinear, bicubic)."
    example = {"scale": 2}

    def shape(self, a: InterpolateAttrs, ins: Sequence[Shape]) -> Shape:
        x = tuple(ins[0])
        n = len(x) - 2
        if not 1 <= n <= 3:
            raise ShapeError(
                f"expects an input [B, C, *spatial] with 1 to 3 spatial axes, got {fmt_shape(x)} (rank {len(x)})"
            )
        want = _MODE_RANK.get(a.mode)
        if want is not None and n != want:
            raise ShapeError(
                f"mode {a.mode} needs {want} spatial axes (a rank-{want + 2} input), got {fmt_shape(x)} "
                f"with {n}"
            )
        given = a.size if a.size is not None else a.scale
        what = "size" if a.size is not None else self.scale_name
        per_axis = (given,) * n if isinstance(given, (int, float)) else tuple(given)  # type: ignore[arg-type]
        if len(per_axis) != n:
            raise ShapeError(
                f"{what} {list(per_axis)} gives {len(per_axis)} sizes, but the input {fmt_shape(x)} "
                f"has {n} spatial axes"
            )
        if a.size is not None:
            spatial = per_axis
        else:
            spatial = tuple(_scaled(d, s) for d, s in zip(x[2:], per_axis))
        return check_positive((x[0], x[1], *spatial), x, f"{self.scale_name} {a.scale} shrinks an axis to nothing")

    def macs(self, a: InterpolateAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        if a.mode == "nearest":
            return 0
        per = 16 if a.mode == "bicubic" else 2 * (len(out) - 2)
        return mul(product(out[1:]), per)

    def torch_call(self, a: InterpolateAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        size = f"size={a.size!r}" if a.size is not None else f"scale_factor={a.scale!r}"
        corners = "" if a.align_corners is None else f", align_corners={a.align_corners}"
        return f'F.interpolate({args[0]}, {size}, mode="{a.mode}"{corners})'

    def jax_call(self, a: InterpolateAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """Sizes from the checked output shape; a scale factor is passed on, since torch
        then maps indices with 1/scale rather than in/out."""
        n = len(ctx.out) - 2
        kw: dict[str, object] = {}
        if a.scale is not None:
            kw["scale"] = (a.scale,) * n if isinstance(a.scale, (int, float)) else tuple(a.scale)
        if a.mode != "nearest":
            kw["mode"] = a.mode
        if a.align_corners is not None:
            kw["align_corners"] = a.align_corners
        if ctx.layout == CHANNELS_LAST:
            kw["channels_last"] = True
        return call("_interpolate", args[0], ctx.shape(ctx.out[2:]), **kw)

    def jax_channels_last(self, a: InterpolateAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        return True


class UpsampleAttrs(_ResizeAttrs):
    """torch.nn.Upsample's arguments (``scale_factor`` where Interpolate says ``scale``)."""

    scale_attr = "scale_factor"

    size: SpatialSize = Field(
        None, description="Output spatial size: an int (every spatial axis) or one int per axis. "
        "Exclusive with scale_factor."
    )
    scale_factor: SpatialScale = Field(
        None, description="Spatial multiplier: a number or one per axis; size = floor(in * scale_factor). "
        "Exclusive with size."
    )
    mode: ResizeMode = Field("nearest", description=_MODE)
    align_corners: Optional[bool] = Field(
        None, description="torch.nn.Upsample's align_corners; only for linear, bilinear and bicubic."
    )


def _as_interpolate(a: UpsampleAttrs) -> InterpolateAttrs:
    return InterpolateAttrs(size=a.size, scale=a.scale_factor, mode=a.mode, align_corners=a.align_corners)


@register
class Upsample(Interpolate):
    """torch.nn.Upsample: `Interpolate` with PyTorch's module's attribute names.

    Emits the same code (``nn.Upsample`` calls ``F.interpolate``), so shapes, MACs
    and both backends are Interpolate's.
    """

    Attrs = UpsampleAttrs  # type: ignore[assignment]
    scale_name = "scale_factor"
    doc = "torch.nn.Upsample: resizes [B, C, *spatial] to `size` or by `scale_factor` (nearest, bilinear, ...)."
    example = {"scale_factor": 2}

    def resize_adapter(self, want: Shape) -> dict[str, Any] | None:
        return None  # Interpolate adapts edges; one op answers per rank

    def shape(self, a: UpsampleAttrs, ins: Sequence[Shape]) -> Shape:  # type: ignore[override]
        return super().shape(_as_interpolate(a), ins)

    def macs(self, a: UpsampleAttrs, ins: Sequence[Shape], out: Shape) -> Dim:  # type: ignore[override]
        return super().macs(_as_interpolate(a), ins, out)

    def torch_call(self, a: UpsampleAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:  # type: ignore[override]
        return super().torch_call(_as_interpolate(a), args, m, ctx)

    def jax_call(self, a: UpsampleAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:  # type: ignore[override]
        return super().jax_call(_as_interpolate(a), args, p, ctx)

"""Convolution ops: Conv1d, Conv2d, Conv3d and ConvTranspose2d (PyTorch semantics).

Shapes include the batch axis: Conv2d takes ``[B, C, H, W]``.  Parameter
shapes are exactly torch's: ``weight [out, in/groups, *kernel]`` (transposed:
``[in, out/groups, *kernel]``) and ``bias [out]``.

The small helpers at the top (``ntuple``, the sized attribute types,
``check_positive``) are shared with the pooling ops.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Sequence, Union

from .attrs import Field, model_validator

from ..shapes.dims import Dim, Shape, add, concrete, conv_out, floordiv, fmt_shape, mul, product
from .base import (
    Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules, need_concrete, need_rank, numel,
)
from .kit import CHANNELS_LAST, call, changed, keywords, lane_channels, torch_default
from .registry import register

PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]


def _sized(item: Any, n: int) -> Any:
    """An int, or a list of exactly ``n`` ints (one per spatial axis)."""
    return Union[item, Annotated[tuple[item, ...], Field(min_length=n, max_length=n)]]


Size1, Size2, Size3 = _sized(PosInt, 1), _sized(PosInt, 2), _sized(PosInt, 3)
Pad1, Pad2, Pad3 = _sized(NonNegInt, 1), _sized(NonNegInt, 2), _sized(NonNegInt, 3)

#: how the rank-(n+2) input of an n-d convolution or pooling is written in messages.
LAYOUT = {1: "[B, C, L]", 2: "[B, C, H, W]", 3: "[B, C, D, H, W]"}


def ntuple(v: int | Sequence[int], n: int) -> tuple[int, ...]:
    """An int attribute repeated over ``n`` axes, or the list as a tuple."""
    return (v,) * n if isinstance(v, int) else tuple(v)


def check_positive(out: Shape, x: Shape, why: str) -> Shape:
    """Raise MS055 if a concrete output dim is zero or negative."""
    for d in out:
        if concrete(d) and d <= 0:  # type: ignore[operator]
            raise ShapeError(
                f"gives an empty output {fmt_shape(out)} from input {fmt_shape(x)}: {why}",
                code="MS055",
                suggestion="use a smaller kernel or stride, or more padding",
            )
    return out


def check_groups(c_in: Dim, groups: int) -> None:
    if groups > 1 and concrete(c_in) and c_in % groups:  # type: ignore[operator]
        raise ShapeError(
            f"expects input channels divisible by groups={groups}, got {c_in} input channels"
        )


# ---- attributes --------------------------------------------------------------

_K = "Kernel size: an int, or one int per spatial axis."
_S = "Stride: an int, or one int per spatial axis."
_D = "Spacing between kernel elements: an int, or one int per spatial axis."
_G = "Blocked connections: input and output channels are split into this many groups."


def _padding() -> Any:
    return Field(
        0,
        description="Padding on both sides: an int, one int per spatial axis, `same` "
        "(output as large as the input; needs stride 1) or `valid` (no padding).",
    )


class ConvAttrs(Attrs):
    """Attributes shared by Conv1d, Conv2d and Conv3d."""

    ndim: ClassVar[int] = 2

    channels: int = Field(gt=0, description="Output channels.")
    kernel: Size2 = Field(description=_K)
    stride: Size2 = Field(1, description=_S)
    padding: Union[Pad2, Literal["same", "valid"]] = _padding()
    dilation: Size2 = Field(1, description=_D)
    groups: int = Field(1, gt=0, description=_G)
    bias: bool = Field(True, description="Add a learnable bias.")
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = Field(
        "zeros", description="How the padding is filled (PyTorch's padding_mode)."
    )

    @model_validator(mode="after")
    def _check(self) -> "ConvAttrs":
        if self.padding == "same" and any(s != 1 for s in ntuple(self.stride, self.ndim)):
            raise ValueError("padding `same` needs stride 1 (as in PyTorch); give the padding as a number")
        if self.channels % self.groups:
            raise ValueError(f"channels ({self.channels}) must be divisible by groups ({self.groups})")
        return self


def _sized_conv_attrs(n: int, size: Any, pad: Any) -> type[ConvAttrs]:
    """`ConvAttrs` whose per-axis attributes take ``n`` ints (ConvAttrs' own take 2)."""
    return type(f"Conv{n}dAttrs", (ConvAttrs,), {
        "__module__": __name__, "__qualname__": f"Conv{n}dAttrs", "ndim": n,
        "__annotations__": {"ndim": ClassVar[int], "kernel": size, "stride": size,
                            "padding": Union[pad, Literal["same", "valid"]], "dilation": size},
        "kernel": Field(description=_K), "stride": Field(1, description=_S), "padding": _padding(),
        "dilation": Field(1, description=_D),
    })


class Conv2dAttrs(ConvAttrs):
    ndim: ClassVar[int] = 2


Conv1dAttrs = _sized_conv_attrs(1, Size1, Pad1)
Conv3dAttrs = _sized_conv_attrs(3, Size3, Pad3)


class ConvTranspose2dAttrs(Attrs):
    channels: int = Field(gt=0, description="Output channels.")
    kernel: Size2 = Field(description=_K)
    stride: Size2 = Field(1, description=_S)
    padding: Pad2 = Field(
        0, description="Implicit padding removed from both sides of the output (PyTorch's padding)."
    )
    output_padding: Pad2 = Field(
        0, description="Extra size added to one side of the output; smaller than stride or dilation."
    )
    dilation: Size2 = Field(1, description=_D)
    groups: int = Field(1, gt=0, description=_G)
    bias: bool = Field(True, description="Add a learnable bias.")

    @model_validator(mode="after")
    def _check(self) -> "ConvTranspose2dAttrs":
        for op, s, d in zip(ntuple(self.output_padding, 2), ntuple(self.stride, 2), ntuple(self.dilation, 2)):
            if op >= s and op >= d:
                raise ValueError(
                    f"output_padding ({op}) must be smaller than either stride ({s}) or dilation ({d})"
                )
        if self.channels % self.groups:
            raise ValueError(f"channels ({self.channels}) must be divisible by groups ({self.groups})")
        return self


# ---- ops ---------------------------------------------------------------------

class _Convolution(Op, TorchRules, JaxRules):
    """What a convolution and a transposed one share: a weight ``[*weight_channels, *kernel]``
    and a bias, PyTorch's initialisation, the layer ``nn.<name>`` (the op is named after
    PyTorch's class) and the call ``F.<torch_function>``, whose keyword arguments
    `torch_options` writes."""

    ndim: ClassVar[int]
    torch_function: ClassVar[str]
    category = "conv"
    fresh_output = True

    def weight_channels(self, a: Any, c_in: int) -> tuple[int, int]:
        """The weight's first two dims for ``c_in`` input channels."""
        raise NotImplementedError

    def torch_options(self, a: Any, *, layer: bool) -> str:
        """The non-default keyword arguments of the layer (``layer``) or of the call."""
        raise NotImplementedError

    def params(self, a: Any, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        c_in = need_concrete(ins[0][1], "number of input channels")
        p = {"weight": (*self.weight_channels(a, c_in), *ntuple(a.kernel, self.ndim))}
        if a.bias:
            p["bias"] = (a.channels,)
        return p

    def torch_layer(self, a: Any, ins: Sequence[Shape], out: Shape) -> str:
        return f"nn.{self.name}({ins[0][1]}, {a.channels}, {a.kernel!r}{self.torch_options(a, layer=True)})"

    def torch_conv(self, x: str, a: Any, m: str) -> str:
        """``F.<torch_function>`` of ``x`` with the layer ``m``'s weight and bias."""
        bias = f"{m}.bias" if a.bias else "None"
        return f"F.{self.torch_function}({x}, {m}.weight, {bias}{self.torch_options(a, layer=False)})"

    def jax_init(self, a: Any, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        """torch takes fan_in from the weight's dims after the first (for the transposed
        convolution too, where dim 1 is out/groups)."""
        shapes = self.params(a, ins, out)
        return torch_default(shapes, numel(shapes["weight"][1:]))


class _ConvNd(_Convolution):
    """An n-d convolution; ``ndim`` is set by the registered subclasses."""

    #: F.convNd and _conv take these from the node, so a shared weight may run with another
    #: stride (CORnet-S strides only its first pass)
    call_attrs = frozenset({"stride", "padding", "dilation", "padding_mode"})

    def channel_adapter(self, want: Shape) -> dict[str, Any] | None:
        """A 1x1 convolution adapts the channels of a value of this op's rank."""
        return {"channels": want[1], "kernel": 1} if len(want) == self.ndim + 2 else None

    def shape(self, a: ConvAttrs, ins: Sequence[Shape]) -> Shape:
        n = self.ndim
        x = need_rank(ins, n + 2, LAYOUT[n])
        check_groups(x[1], a.groups)
        if a.padding == "same":
            spatial = tuple(x[2:])
        else:
            k, s, d = ntuple(a.kernel, n), ntuple(a.stride, n), ntuple(a.dilation, n)
            p = (0,) * n if a.padding == "valid" else ntuple(a.padding, n)  # type: ignore[arg-type]
            spatial = tuple(conv_out(x[2 + i], k[i], s[i], p[i], d[i]) for i in range(n))
        out = (x[0], a.channels, *spatial)
        return check_positive(out, x, f"kernel {fmt_shape(ntuple(a.kernel, n))} is larger than the padded input")

    def weight_channels(self, a: ConvAttrs, c_in: int) -> tuple[int, int]:
        return a.channels, c_in // a.groups

    def jax_channels_last(self, a: ConvAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        return True

    def macs(self, a: ConvAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        """Output elements x (input channels / groups) x kernel elements."""
        per_out = mul(floordiv(ins[0][1], a.groups), numel(ntuple(a.kernel, self.ndim)))
        return mul(product(out[1:]), per_out)

    def torch_options(self, a: ConvAttrs, *, layer: bool) -> str:
        """The call pads only with zeros: other modes pad explicitly first (`torch_call`)."""
        kw = changed(a, (("stride", 1), ("padding", 0), ("dilation", 1), ("groups", 1)))
        if a.padding == "valid" or not (layer or a.padding_mode == "zeros"):
            kw.pop("padding", None)
        if layer and not a.bias:
            kw["bias"] = False
        if layer and a.padding_mode != "zeros":
            kw["padding_mode"] = a.padding_mode
        return keywords(kw)

    def torch_call(self, a: ConvAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        x = args[0]
        if a.padding_mode != "zeros" and a.padding not in (0, "valid"):
            # nn.ConvNd's own route for other padding modes: pad explicitly, then convolve.
            n = self.ndim
            k, d = ntuple(a.kernel, n), ntuple(a.dilation, n)
            if a.padding == "same":
                total = [d[i] * (k[i] - 1) for i in range(n)]
                sides = [(s // 2, s - s // 2) for s in total]
            else:
                sides = [(p, p) for p in ntuple(a.padding, n)]  # type: ignore[arg-type]
            pads = tuple(v for i in reversed(range(n)) for v in sides[i])
            x = f'F.pad({x}, {pads!r}, mode="{a.padding_mode}")'
        return self.torch_conv(x, a, m)

    def jax_call(self, a: ConvAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """``_conv`` with torch's padding: ``same`` puts the odd extra cell on the high side."""
        n = self.ndim
        k, d = ntuple(a.kernel, n), ntuple(a.dilation, n)
        if a.padding == "same":
            pads = [(di * (ki - 1) // 2, di * (ki - 1) - di * (ki - 1) // 2) for ki, di in zip(k, d)]
        else:
            pads = [(q, q) for q in ((0,) * n if a.padding == "valid" else ntuple(a.padding, n))]  # type: ignore[arg-type]
        kw: dict[str, object] = {}
        if ntuple(a.stride, n) != (1,) * n:
            kw["stride"] = ntuple(a.stride, n)
        if len({q for pq in pads for q in pq}) == 1:  # one number pads every side
            if pads[0][0]:
                kw["padding"] = pads[0][0]
        else:
            kw["padding"] = pads
        if d != (1,) * n:
            kw["dilation"] = d
        if a.groups != 1:
            kw["groups"] = a.groups
        if a.padding_mode != "zeros":
            kw["padding_mode"] = a.padding_mode
        kw["hwio"] = True  # the weight, re-laid out once before any time loop
        if ctx.layout == CHANNELS_LAST:
            kw["channels_last"] = True
        lanes = lane_channels(a.channels) if n == 2 and a.groups == 1 else a.channels
        extra = ""
        if lanes != a.channels:  # zero filters up to `lanes`, cut off after the convolution
            kw["out"], extra = a.channels, f", {lanes}"
        w = ctx.hoist(f"_channels_last({p['weight']}{extra})", f"{ctx.path}_w")
        return call("_conv", args[0], *([w, p["bias"]] if a.bias else [w]), **kw)


def _conv(attrs: type[ConvAttrs], kernel: str) -> type[_ConvNd]:
    """Registers PyTorch's nn.Conv{n}d (n = ``attrs.ndim``); ``kernel`` names the kernel's axes."""
    n = attrs.ndim
    name = f"Conv{n}d"
    return register(type(name, (_ConvNd,), {
        "__doc__": f"{n}-d convolution over ``{LAYOUT[n]}`` (PyTorch's nn.{name}).",
        "__module__": __name__, "__qualname__": name, "name": name, "Attrs": attrs, "ndim": n,
        "torch_function": f"conv{n}d", "example": {"channels": 32, "kernel": 3},
        "doc": f"{n}-d convolution over {LAYOUT[n]}; weight [channels, C/groups, {kernel}], bias [channels].",
    }))


Conv1d = _conv(Conv1dAttrs, "k")
Conv2d = _conv(Conv2dAttrs, "kh, kw")
Conv3d = _conv(Conv3dAttrs, "kd, kh, kw")


@register
class ConvTranspose2d(_Convolution):
    """Transposed 2-d convolution (PyTorch's nn.ConvTranspose2d).

    Output size per axis: ``(in - 1)*stride - 2*padding + dilation*(kernel - 1)
    + output_padding + 1``.  MACs: every input element is scattered through
    ``channels/groups x kernel`` weights, so input elements x that.
    """

    Attrs = ConvTranspose2dAttrs
    ndim = 2
    torch_function = "conv_transpose2d"
    call_attrs = frozenset({"stride", "padding", "output_padding", "dilation"})
    doc = "Transposed 2-d convolution over [B, C, H, W]; weight [C, channels/groups, kh, kw], bias [channels]."
    example = {"channels": 32, "kernel": 2, "stride": 2}

    def shape(self, a: ConvTranspose2dAttrs, ins: Sequence[Shape]) -> Shape:
        x = need_rank(ins, 4, LAYOUT[2])
        check_groups(x[1], a.groups)
        k, s, p = ntuple(a.kernel, 2), ntuple(a.stride, 2), ntuple(a.padding, 2)
        op, d = ntuple(a.output_padding, 2), ntuple(a.dilation, 2)
        spatial = []
        for i in range(2):
            # (n - 1)*s + c  written as  n*s + (c - s), which stays short when symbolic
            c = -2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1
            spatial.append(add(mul(x[2 + i], s[i]), c - s[i]))
        out = (x[0], a.channels, *spatial)
        return check_positive(out, x, f"padding {fmt_shape(p)} removes more than the output holds")

    def weight_channels(self, a: ConvTranspose2dAttrs, c_in: int) -> tuple[int, int]:
        return c_in, a.channels // a.groups

    def macs(self, a: ConvTranspose2dAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        per_in = (a.channels // a.groups) * numel(ntuple(a.kernel, 2))
        return mul(product(ins[0][1:]), per_in)

    def torch_options(self, a: ConvTranspose2dAttrs, *, layer: bool) -> str:
        kw = changed(a, (("stride", 1), ("padding", 0), ("output_padding", 0), ("groups", 1)))
        if layer and not a.bias:
            kw["bias"] = False
        if a.dilation != 1:  # torch's order: dilation after bias
            kw["dilation"] = a.dilation
        return keywords(kw)

    def torch_call(self, a: ConvTranspose2dAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        return self.torch_conv(args[0], a, m)

    def jax_call(self, a: ConvTranspose2dAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        kw: dict[str, object] = {}
        for name, value, default in (("stride", a.stride, 1), ("padding", a.padding, 0),
                                     ("output_padding", a.output_padding, 0), ("dilation", a.dilation, 1)):
            if ntuple(value, 2) != (default, default):
                kw[name] = ntuple(value, 2)
        if a.groups != 1:
            kw["groups"] = a.groups
        wb = [p["weight"], p["bias"]] if a.bias else [p["weight"]]
        return call("_conv_transpose2d", args[0], *wb, **kw)

"""DynVision's recurrence types as one op: `Recurrence{type}`.

Used as the `via` of a delayed self-edge (`{from: relu, to: conv, delay: 3,
via: {op: Recurrence, type: full}}`), it maps an area's own delayed
post-ReLU value ``[B, C, H, W]`` to a term added to the area's conv output.
Parameter names follow the sub-layers (``conv``, ``depthwise``, ``pointwise``,
``local.conv``) so checkpoints read naturally.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

from .attrs import Field

from ..shapes.dims import Dim, Shape, add, mul, product
from .base import Attrs, JaxCtx, JaxRules, Op, TorchCtx, TorchRules, need_concrete, need_rank
from .kit import CHANNELS_LAST, lane_channels, torch_default, zeros
from .registry import register

TYPES = ("full", "self", "depthpointwise", "pointdepthwise", "local", "localdepthwise")


class RecurrenceAttrs(Attrs):
    type: Literal["full", "self", "depthpointwise", "pointdepthwise", "local", "localdepthwise"] = Field(
        "full", description="DynVision recurrence type (`none`: leave the edge out with `when`).")
    kernel: int = Field(3, gt=0, description="Kernel of the full and depthwise convolutions (odd).")


def local_side(channels: int) -> int:
    """s = ceil(sqrt(C)): each pixel's channels form an s x s tile."""
    return math.isqrt(channels - 1) + 1 if channels > 1 else 1


def local_kernel(channels: int) -> int:
    """max(3, the odd number at or above s // 4)."""
    k = local_side(channels) // 4
    return max(3, k if k % 2 == 1 else k + 1)


@register
class Recurrence(Op, TorchRules, JaxRules):
    """Recurrent weight R of a DynVision area, for the `via` of a self-edge."""

    Attrs = RecurrenceAttrs
    category = "dynamics"
    doc = ("DynVision recurrence R(h) on [B, C, H, W]: full (3x3 conv), self (scalar w*h+b), "
           "depthpointwise, pointdepthwise, local (conv on the channel-tile sheet), localdepthwise.")

    def shape(self, a: RecurrenceAttrs, ins: Sequence[Shape]) -> Shape:
        return need_rank(ins, 4, "[B, C, H, W]")

    def params(self, a: RecurrenceAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, tuple[int, ...]]:
        c = need_concrete(ins[0][1], "channel count")
        k = a.kernel
        full = {"weight": (c, c, k, k), "bias": (c,)}
        dw = {"weight": (c, 1, k, k), "bias": (c,)}
        pw = {"weight": (c, c, 1, 1), "bias": (c,)}
        lk = local_kernel(c)
        local = {"weight": (1, 1, lk, lk), "bias": (1,)}
        parts: dict[str, dict[str, tuple[int, ...]]] = {
            "full": {"conv": full},
            "self": {"": {"weight": (1,), "bias": (1,)}},
            "depthpointwise": {"depthwise": dw, "pointwise": pw},
            "pointdepthwise": {"pointwise": pw, "depthwise": dw},
            "local": {"conv": local},
            "localdepthwise": {"local.conv": local, "depthwise": dw},
        }[a.type]
        return {(f"{mod}.{p}" if mod else p): s for mod, ps in parts.items() for p, s in ps.items()}

    def macs(self, a: RecurrenceAttrs, ins: Sequence[Shape], out: Shape) -> Dim:
        c = ins[0][1]
        hw = product(ins[0][2:])
        k2 = a.kernel * a.kernel
        if a.type == "full":
            return mul(hw, mul(c, mul(c, k2)))
        if a.type == "self":
            return mul(hw, c)
        if a.type in ("depthpointwise", "pointdepthwise"):
            return mul(hw, mul(c, add(c, k2)))
        side = local_side(c) if isinstance(c, int) else 1
        lk = local_kernel(c) if isinstance(c, int) else 3
        sheet = mul(hw, side * side * lk * lk)
        return sheet if a.type == "local" else add(sheet, mul(hw, mul(c, k2)))

    def torch_layer(self, a: RecurrenceAttrs, ins: Sequence[Shape], out: Shape) -> str:
        c, k = ins[0][1], a.kernel
        lk = local_kernel(int(c))
        dw = f"nn.Conv2d({c}, {c}, {k}, padding={k // 2}, groups={c})"
        pw = f"nn.Conv2d({c}, {c}, 1)"
        local = f'Scope({{"conv": nn.Conv2d(1, 1, {lk}, padding={lk // 2}, padding_mode="reflect")}})'
        return {
            "full": f'Scope({{"conv": nn.Conv2d({c}, {c}, {k}, padding={k // 2})}})',
            "self": 'Params({"weight": torch.empty(1).uniform_(-0.2, 0.2), "bias": torch.zeros(1)})',
            "depthpointwise": f'Scope({{"depthwise": {dw}, "pointwise": {pw}}})',
            "pointdepthwise": f'Scope({{"pointwise": {pw}, "depthwise": {dw}}})',
            "local": local,
            "localdepthwise": f'Scope({{"local": {local}, "depthwise": {dw}}})',
        }[a.type]

    def torch_helpers(self, a: RecurrenceAttrs) -> dict[str, str]:
        return dict(LOCAL_HELPERS) if a.type.startswith("local") else {}

    def torch_call(self, a: RecurrenceAttrs, args: list[str], m: str, ctx: TorchCtx) -> str:
        h, c, p = args[0], ctx.ins[0][1], a.kernel // 2

        def dw(x: str) -> str:
            return f"F.conv2d({x}, {m}.depthwise.weight, {m}.depthwise.bias, padding={p}, groups={c})"

        def pw(x: str) -> str:
            return f"F.conv2d({x}, {m}.pointwise.weight, {m}.pointwise.bias)"

        def local(conv: str) -> str:
            return f"_local_recurrence({h}, {conv}.weight, {conv}.bias, {local_side(int(c))})"

        return {
            "full": f"F.conv2d({h}, {m}.conv.weight, {m}.conv.bias, padding={p})",
            "self": f"{h} * {m}.weight + {m}.bias",
            "depthpointwise": pw(dw(h)),
            "pointdepthwise": dw(pw(h)),
            "local": local(f"{m}.conv"),
            "localdepthwise": dw(local(f"{m}.local.conv")),
        }[a.type]

    def jax_init(self, a: RecurrenceAttrs, ins: Sequence[Shape], out: Shape) -> dict[str, str]:
        """torch's defaults per sub-layer (fan_in from each weight); self: U(-0.2, 0.2) and 0."""
        shapes = self.params(a, ins, out)
        if a.type == "self":
            return {"weight": "{uniform} * 0.2", "bias": zeros((1,))}
        p: dict[str, str] = {}
        for name, shape in shapes.items():
            w = shapes[name.rpartition(".")[0] + ".weight"]  # the sub-layer's weight [out, in, k, k]
            p.update(torch_default({name: shape}, w[1] * w[2] * w[3]))
        return p

    def jax_channels_last(self, a: RecurrenceAttrs, ins: Sequence[Shape], out: Shape) -> bool:
        """The local types' channel-tile sheet is written for [B, C, H, W]."""
        return a.type not in ("local", "localdepthwise")

    def jax_call(self, a: RecurrenceAttrs, args: list[str], p: dict[str, str], ctx: JaxCtx) -> str:
        """Conv weights are re-laid out once, outside the time loop (``ctx.hoist``)."""
        h, c, pad = args[0], ctx.ins[0][1], a.kernel // 2
        cl = ", channels_last=True" if ctx.layout == CHANNELS_LAST else ""

        def w(name: str, lanes: int | None = None) -> str:
            extra = f", {lanes}" if lanes is not None else ""
            return ctx.hoist(f"_channels_last({p[name + '.weight']}{extra})", f"{ctx.path}_{name}_w")

        def dw(x: str) -> str:
            return f"_conv({x}, {w('depthwise')}, {p['depthwise.bias']}, padding={pad}, groups={c}, hwio=True{cl})"

        def pw(x: str) -> str:
            return f"_conv({x}, {w('pointwise')}, {p['pointwise.bias']}, hwio=True{cl})"

        if a.type == "full":
            lanes = lane_channels(int(c))
            padded = lanes != int(c)  # zero filters up to `lanes`, cut off after the convolution
            cut = f", out={int(c)}" if padded else ""
            weight = w("conv", lanes if padded else None)
            return f"_conv({h}, {weight}, {p['conv.bias']}, padding={pad}, hwio=True{cl}{cut})"
        if a.type == "self":
            return f"{h} * {p['weight']} + {p['bias']}"
        if a.type == "depthpointwise":
            return pw(dw(h))
        if a.type == "pointdepthwise":
            return dw(pw(h))
        if a.type == "local":
            return f"_local_recurrence({h}, {p['conv.weight']}, {p['conv.bias']})"
        return dw(f"_local_recurrence({h}, {p['local.conv.weight']}, {p['local.conv.bias']})")


#: Torch helpers of the local types: DynVision's channel-tile sheet layout, copied so
#: that the emitted file needs nothing but torch (tests/reference/dynvision.py is the truth).
LOCAL_HELPERS = {
    "_flip_odd_tiles": '''def _flip_odd_tiles(t: Tensor) -> Tensor:
    """Mirror tiles t[B, i, j, y, x]: along j where x is odd, along i where y is odd.

    An involution, so it serves both directions of the sheet layout.
    """
    height, width = t.shape[-2:]
    odd_x = (torch.arange(width, device=t.device) % 2 == 1).view(1, 1, 1, 1, width)
    odd_y = (torch.arange(height, device=t.device) % 2 == 1).view(1, 1, 1, height, 1)
    t = torch.where(odd_x, t.flip(2), t)
    return torch.where(odd_y, t.flip(1), t)''',
    "_local_recurrence": '''def _local_recurrence(h: Tensor, weight: Tensor, bias: Tensor, side: int) -> Tensor:
    """DynVision's local recurrence: one small conv over a single-channel sheet.

    Channel c of pixel (y, x) goes to cell (c // side, c % side) of a side x side tile,
    mirrored on odd rows and columns so that neighbours stay adjacent; the tiles form a
    [B, 1, side*H, side*W] sheet. Missing channels (C < side^2) are mirrored copies of the
    last ones and are dropped after the conv (reflect padding) maps the sheet back.
    """
    b, c, height, width = h.shape
    extra = side * side - c
    if extra:
        h = torch.cat([h, h[:, c - extra:].flip(1)], dim=1)
    tiles = _flip_odd_tiles(h.reshape(b, side, side, height, width))
    sheet = tiles.permute(0, 3, 1, 4, 2).reshape(b, 1, height * side, width * side)
    pad = weight.shape[-1] // 2
    sheet = F.conv2d(F.pad(sheet, (pad, pad, pad, pad), mode="reflect"), weight, bias)
    tiles = sheet.reshape(b, height, side, width, side).permute(0, 2, 4, 1, 3)
    return _flip_odd_tiles(tiles).reshape(b, side * side, height, width)[:, :c]''',
}

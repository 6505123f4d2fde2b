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

from pydantic import Field

from ..shapes.dims import Dim, Shape, add, mul, product
from .base import Attrs, Op, need_concrete, need_rank
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
class Recurrence(Op):
    """Recurrent weight R of a DynVision area, for the `via` of a self-edge."""

    name = "Recurrence"
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

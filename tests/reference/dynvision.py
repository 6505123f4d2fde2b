"""DynVision's DyRCNNx4, written independently from the equations below (DynVision's model).

Input ``[B, T, 3, H, W]``, output ``[B, T, num_classes]``. Per area A and step t::

    u_t = A.conv(x_t) + A.recurrence(r_{t-3}) + skips_t + feedback_t
    y_t = r_{t-1} + (dt/tau) * (u_t - r_{t-1})        with r_{-1} = 0
    r_t = relu(y_t)

The recurrence (and feedback) term is absent, bias included, while t < delay (3).
Feed-forward within a step: V1 -> pool -> V2 -> pool -> V4 -> IT, where the pool
(MaxPool2d(3, 2, 1)) acts on the area's output r_t before it feeds the next area.
Skips V1->V4 and V2->IT read the source's same-step, post-ReLU, pre-pool r_t through a
1x1 conv (bias) and a nearest resize to the target's conv output size. (The 1x1 conv and
a nearest resize commute, so their order does not matter.) The classifier (global
average pool, Linear) reads IT's r_t at every step.

Submodule (state_dict) names, for mapping generated names onto these:

    V1.conv, V2.conv, V4.conv, IT.conv        Conv2d 3x3, padding 1, bias
    <area>.recurrence                         absent for recurrence="none"; otherwise
        full            .conv                          Conv2d C->C 3x3 pad 1, bias
        self            .weight, .bias                 shape [1] each: R(h) = w*h + b
        depthpointwise  .depthwise, .pointwise         3x3 groups=C (bias), then 1x1 (bias)
        pointdepthwise  .pointwise, .depthwise         1x1 (bias), then 3x3 groups=C (bias)
        local           .conv                          Conv2d 1->1 kxk, reflect, bias
        localdepthwise  .local.conv, .depthwise        local, then 3x3 groups=C (bias)
    skip_V1_V4, skip_V2_IT                    Conv2d 1x1, bias
    feedback_V4_V1, feedback_IT_V2            Conv2d 1x1, bias (only with feedback=True)
    classifier                                Linear 256 -> num_classes

Trainable parameters with 10 classes: full 1,164,950; self 394,360; depthpointwise and
pointdepthwise 485,168; local 394,408; localdepthwise 399,178; none 394,352; full with
feedback 1,185,790. All reproduce with every conv biased (the depthwise ones included:
localdepthwise - local = 10 * (36 + 64 + 121 + 256) = 4,770) and the local kernel sized
from s = ceil(sqrt(C)): k = 3, 3, 3, 5 for C = 36, 64, 121, 256 (10 + 10 + 10 + 26 = 56).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["RECURRENCE_TYPES", "Area", "DyRCNNx4", "LocalRecurrence", "make_recurrence"]

RECURRENCE_TYPES = ("full", "self", "depthpointwise", "pointdepthwise", "local",
                    "localdepthwise", "none")


def _depthwise(channels: int) -> nn.Conv2d:
    return nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=True)


class FullRecurrence(nn.Module):
    """Every unit sees all channels of its 3x3 neighbourhood."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=True)

    def forward(self, h: Tensor) -> Tensor:
        return self.conv(h)


class SelfRecurrence(nn.Module):
    """Each unit sees only itself: one scalar weight and bias shared by all units."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1).uniform_(-0.2, 0.2))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, h: Tensor) -> Tensor:
        return h * self.weight + self.bias


class DepthPointwiseRecurrence(nn.Module):
    """Depthwise 3x3 then pointwise 1x1: a cheap factorisation of the full conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.depthwise = _depthwise(channels)
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=True)

    def forward(self, h: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(h))


class PointDepthwiseRecurrence(nn.Module):
    """Pointwise 1x1 then depthwise 3x3 (the same factorisation, other order)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.pointwise = nn.Conv2d(channels, channels, 1, bias=True)
        self.depthwise = _depthwise(channels)

    def forward(self, h: Tensor) -> Tensor:
        return self.depthwise(self.pointwise(h))


def _flip_odd_tiles(t: Tensor) -> Tensor:
    """Mirror tiles ``t[B, i, j, y, x]``: along j where x is odd, along i where y is odd.

    An involution (both flips are), so it serves both directions of the layout.
    """
    height, width = t.shape[-2:]
    odd_x = (torch.arange(width, device=t.device) % 2 == 1).view(1, 1, 1, 1, width)
    odd_y = (torch.arange(height, device=t.device) % 2 == 1).view(1, 1, 1, height, 1)
    t = torch.where(odd_x, t.flip(2), t)
    return torch.where(odd_y, t.flip(1), t)


class LocalRecurrence(nn.Module):
    """Topographic recurrence: one small conv over a single-channel "cortical sheet".

    Layout (same convention as DynVision's ``_layer_to_plane``): with s = ceil(sqrt(C)),
    channel c of pixel (y, x) goes to tile cell (i, j) = (c // s, c % s) (row-major); the
    tile is mirrored left-right (j -> s-1-j) when x is odd and top-bottom (i -> s-1-i) when
    y is odd; the cell lands at sheet position (y*s + i, x*s + j) of an (s*H) x (s*W) sheet.
    The mirroring makes cells that touch across a tile border hold the same channel, so a
    feature's neighbours in space are its neighbours on the sheet.

    A C that is not a perfect square is first padded to s*s channels with mirrored
    channels (C-1, C-2, ...), and those extra channels are dropped after gathering back.
    Kernel k = max(3, smallest odd number >= s // 4), padding k // 2, reflect padding.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.side = math.isqrt(channels - 1) + 1 if channels > 1 else 1
        k = self.side // 4
        k = max(3, k if k % 2 == 1 else k + 1)
        self.conv = nn.Conv2d(1, 1, k, padding=k // 2, padding_mode="reflect", bias=True)

    def to_sheet(self, h: Tensor) -> Tensor:
        """``[B, C, H, W]`` -> ``[B, 1, s*H, s*W]`` (after mirror-padding the channels)."""
        b, c, height, width = h.shape
        s = self.side
        extra = s * s - c
        if extra:
            h = torch.cat([h, h[:, c - extra:].flip(1)], dim=1)
        t = _flip_odd_tiles(h.reshape(b, s, s, height, width))
        return t.permute(0, 3, 1, 4, 2).reshape(b, 1, height * s, width * s)

    def from_sheet(self, sheet: Tensor) -> Tensor:
        """``[B, 1, s*H, s*W]`` -> ``[B, C, H, W]``: the inverse layout, padding dropped."""
        s = self.side
        b, _, sh, sw = sheet.shape
        height, width = sh // s, sw // s
        t = sheet.reshape(b, height, s, width, s).permute(0, 2, 4, 1, 3)
        t = _flip_odd_tiles(t)
        return t.reshape(b, s * s, height, width)[:, : self.channels]

    def forward(self, h: Tensor) -> Tensor:
        return self.from_sheet(self.conv(self.to_sheet(h)))


class LocalDepthwiseRecurrence(nn.Module):
    """Local sheet conv, then a depthwise 3x3 (DynVision's LocalSeparableConnection)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.local = LocalRecurrence(channels)
        self.depthwise = _depthwise(channels)

    def forward(self, h: Tensor) -> Tensor:
        return self.depthwise(self.local(h))


_RECURRENCES: dict[str, type[nn.Module]] = {
    "full": FullRecurrence, "self": SelfRecurrence,
    "depthpointwise": DepthPointwiseRecurrence, "pointdepthwise": PointDepthwiseRecurrence,
    "local": LocalRecurrence, "localdepthwise": LocalDepthwiseRecurrence,
}


def make_recurrence(kind: str, channels: int) -> nn.Module | None:
    """The recurrence module R for ``kind``; ``None`` for ``"none"``."""
    if kind == "none":
        return None
    if kind not in _RECURRENCES:
        raise ValueError(f"unknown recurrence {kind!r}; choose from {RECURRENCE_TYPES}")
    return _RECURRENCES[kind](channels)


class Area(nn.Module):
    """One cortical area: a feed-forward 3x3 conv and its own recurrence."""

    def __init__(self, in_channels: int, channels: int, stride: int, recurrence: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=True)
        self.recurrence = make_recurrence(recurrence, channels)


class DyRCNNx4(nn.Module):
    """Four-area dynamical recurrent CNN (V1, V2, V4, IT) integrated with Euler steps."""

    def __init__(self, num_classes: int = 10, recurrence: str = "full", feedback: bool = False,
                 dt: float = 2.0, tau: float = 5.0, delay: int = 3, in_channels: int = 3,
                 channels: tuple[int, int, int, int] = (36, 64, 121, 256),
                 strides: tuple[int, int, int, int] = (1, 1, 1, 2)) -> None:
        super().__init__()
        c1, c2, c4, cit = channels
        self.dt, self.tau, self.delay, self.feedback = dt, tau, delay, feedback
        self.V1 = Area(in_channels, c1, strides[0], recurrence)
        self.V2 = Area(c1, c2, strides[1], recurrence)
        self.V4 = Area(c2, c4, strides[2], recurrence)
        self.IT = Area(c4, cit, strides[3], recurrence)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.skip_V1_V4 = nn.Conv2d(c1, c4, 1, bias=True)
        self.skip_V2_IT = nn.Conv2d(c2, cit, 1, bias=True)
        if feedback:
            self.feedback_V4_V1 = nn.Conv2d(c4, c1, 1, bias=True)
            self.feedback_IT_V2 = nn.Conv2d(cit, c2, 1, bias=True)
        self.classifier = nn.Linear(cit, num_classes)

    @staticmethod
    def _adapt(adapter: nn.Conv2d, source: Tensor, like: Tensor) -> Tensor:
        """1x1 conv adapter, then nearest resize to ``like``'s spatial size."""
        return F.interpolate(adapter(source), size=like.shape[-2:], mode="nearest")

    def _step(self, area: Area, u: Tensor, old: Tensor | None, prev: Tensor | None,
              extra: tuple[Tensor, ...] = ()) -> Tensor:
        """u = conv + R(r_{t-delay}) (when it exists) + skips/feedback; leaky step; ReLU."""
        if area.recurrence is not None and old is not None:
            u = u + area.recurrence(old)
        for term in extra:
            u = u + term
        y = (self.dt / self.tau) * u if prev is None else prev + (self.dt / self.tau) * (u - prev)
        return F.relu(y)

    def forward(self, x: Tensor) -> Tensor:
        """``x``: ``[B, T, C, H, W]`` -> logits ``[B, T, num_classes]``."""
        names = ("V1", "V2", "V4", "IT")
        hist: dict[str, list[Tensor]] = {n: [] for n in names}
        logits: list[Tensor] = []
        for t in range(x.shape[1]):
            # r_{t-delay} (for R and feedback) and r_{t-1} (for the leaky step) per area.
            old = {n: hist[n][t - self.delay] if t >= self.delay else None for n in names}
            prev = {n: hist[n][-1] if t > 0 else None for n in names}

            u = self.V1.conv(x[:, t])
            fb_v4 = old["V4"] if self.feedback else None
            extra = () if fb_v4 is None else (self._adapt(self.feedback_V4_V1, fb_v4, u),)
            r1 = self._step(self.V1, u, old["V1"], prev["V1"], extra)

            u = self.V2.conv(self.pool(r1))
            fb_it = old["IT"] if self.feedback else None
            extra = () if fb_it is None else (self._adapt(self.feedback_IT_V2, fb_it, u),)
            r2 = self._step(self.V2, u, old["V2"], prev["V2"], extra)

            u = self.V4.conv(self.pool(r2))
            r4 = self._step(self.V4, u, old["V4"], prev["V4"],
                            (self._adapt(self.skip_V1_V4, r1, u),))

            u = self.IT.conv(r4)
            rit = self._step(self.IT, u, old["IT"], prev["IT"],
                             (self._adapt(self.skip_V2_IT, r2, u),))

            for n, r in zip(names, (r1, r2, r4, rit)):
                hist[n].append(r)
            logits.append(self.classifier(rit.mean(dim=(2, 3))))
        return torch.stack(logits, dim=1)

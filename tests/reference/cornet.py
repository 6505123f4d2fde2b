"""CORnet-RT as in dicarlolab/CORnet ``cornet/cornet_rt.py``, rewritten by hand.

Submodule (state_dict) names are the repository's, so its checkpoints load::

    {V1,V2,V4,IT}.conv_input   Conv2d(in, out, k, stride s, padding k//2, bias)
    {V1,V2,V4,IT}.norm_input   GroupNorm(32, out)
    {V1,V2,V4,IT}.conv1        Conv2d(out, out, 3, padding 1, no bias)
    {V1,V2,V4,IT}.norm1        GroupNorm(32, out)
    decoder.linear             Linear(512, num_classes)   (decoder.avgpool, decoder.flatten)

Time unrolling (the repository's): at t = 0 V1 gets the image and every area above it
gets zeros *in place of* its processed input (conv_input/norm_input/ReLU are skipped),
with state 0. At t >= 1 each area takes the previous area's output from step t-1 (V1 takes
the image again) and its own state from t-1. Per area: skip = input + state;
state = output = ReLU(norm1(conv1(skip))). The decoder reads IT's output after the last step.

Parameter count, worked by hand (1000 classes)::

    V1  conv_input 3*64*7*7 + 64   =     9,472   norms 2*2*64  =   256   conv1 64*64*9   =    36,864
    V2  conv_input 64*128*9 + 128  =    73,856   norms 2*2*128 =   512   conv1 128*128*9 =   147,456
    V4  conv_input 128*256*9 + 256 =   295,168   norms 2*2*256 = 1,024   conv1 256*256*9 =   589,824
    IT  conv_input 256*512*9 + 512 = 1,180,160   norms 2*2*512 = 2,048   conv1 512*512*9 = 2,359,296
    areas: V1 46,592 + V2 221,824 + V4 886,016 + IT 3,541,504 = 4,695,936
    decoder.linear 512*1000 + 1000 = 513,000
    total 5,208,936
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

__all__ = ["CORNET_RT_PARAMS", "CORblock_RT", "CORnet_RT"]

CORNET_RT_PARAMS = 5_208_936  # with num_classes=1000, worked out in the module docstring


class CORblock_RT(nn.Module):  # noqa: N801 - the repository's name
    """One recurrent area; ``out_shape`` is the side of the zero input used at t = 0."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, out_shape: int | None = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.out_shape = out_shape
        self.conv_input = nn.Conv2d(in_channels, out_channels, kernel_size=kernel_size,
                                    stride=stride, padding=kernel_size // 2)
        self.norm_input = nn.GroupNorm(32, out_channels)
        self.nonlin_input = nn.ReLU()
        self.conv1 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(32, out_channels)
        self.nonlin1 = nn.ReLU()

    def forward(self, inp: Tensor | None = None, state: Tensor | None = None,
                batch_size: int | None = None) -> tuple[Tensor, Tensor]:
        if inp is None:  # t = 0 above V1: zeros stand in for the processed input
            assert batch_size is not None and self.out_shape is not None
            w = self.conv1.weight
            inp = torch.zeros(batch_size, self.out_channels, self.out_shape, self.out_shape,
                              dtype=w.dtype, device=w.device)
        else:
            inp = self.nonlin_input(self.norm_input(self.conv_input(inp)))
        skip = inp if state is None else inp + state
        state = self.nonlin1(self.norm1(self.conv1(skip)))
        return state, state


class CORnet_RT(nn.Module):  # noqa: N801 - the repository's name
    """Four CORblock_RT areas unrolled for ``times`` steps, then an average-pool decoder.

    The zero inputs at t = 0 have the repository's fixed sides (56, 28, 14, 7), which
    assume 224 x 224 images.
    """

    def __init__(self, times: int = 5, num_classes: int = 1000) -> None:
        super().__init__()
        self.times = times
        self.V1 = CORblock_RT(3, 64, kernel_size=7, stride=4, out_shape=56)
        self.V2 = CORblock_RT(64, 128, stride=2, out_shape=28)
        self.V4 = CORblock_RT(128, 256, stride=2, out_shape=14)
        self.IT = CORblock_RT(256, 512, stride=2, out_shape=7)
        self.decoder = nn.Sequential(OrderedDict([
            ("avgpool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("linear", nn.Linear(512, num_classes)),
        ]))

    def forward(self, inp: Tensor) -> Tensor:
        blocks = ("V1", "V2", "V4", "IT")
        outputs: dict[str, Tensor] = {}
        states: dict[str, Tensor] = {}
        for name in blocks:  # t = 0
            this_inp = inp if name == "V1" else None
            outputs[name], states[name] = getattr(self, name)(this_inp, batch_size=len(inp))
        for _ in range(1, self.times):
            new_outputs: dict[str, Tensor] = {}
            for i, name in enumerate(blocks):
                prev_output = inp if i == 0 else outputs[blocks[i - 1]]  # from step t-1
                new_outputs[name], states[name] = getattr(self, name)(prev_output, states[name])
            outputs = new_outputs
        return self.decoder(outputs["IT"])

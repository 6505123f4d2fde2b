"""CORnet-S as in dicarlolab/CORnet ``cornet/cornet_s.py`` (HASH 1d3f7974), rewritten by hand.

Source: https://github.com/dicarlolab/CORnet/blob/master/cornet/cornet_s.py (Kubilius et al.
2019, "Brain-Like Object Recognition with High-Performing Shallow Recurrent ANNs").  Module
names are the repository's, so its checkpoints load with ``strict=True``::

    V1.conv1 Conv2d(3, 64, 7, stride 2, padding 3)  V1.norm1  (V1.pool MaxPool 3/2/1)
    V1.conv2 Conv2d(64, 64, 3, padding 1)           V1.norm2
    {V2,V4,IT}.conv_input  Conv2d(in, out, 1)
    {V2,V4,IT}.skip        Conv2d(out, out, 1, stride 2)    .norm_skip
    {V2,V4,IT}.conv1       Conv2d(out, 4 out, 1)
    {V2,V4,IT}.conv2       Conv2d(4 out, 4 out, 3, padding 1; stride 2 on the first pass only)
    {V2,V4,IT}.conv3       Conv2d(4 out, out, 1)
    {V2,V4,IT}.norm{1,2,3}_{t}  one BatchNorm2d per pass t < times (2, 4, 2)
    decoder.linear         Linear(512, 1000)
    (every convolution without bias)

Each area runs conv1..conv3 ``times`` times with the same weights:
``x = conv_input(inp)``; per pass t, ``skip = norm_skip(skip(x))`` if t == 0 else ``x``;
``x = relu(norm3_t(conv3(relu(norm2_t(conv2(relu(norm1_t(conv1(x)))))))) + skip)``.
The repository sets ``conv2.stride`` before each pass; here the stride goes to the
functional call, which computes the same thing without mutating the module.

Parameter count, worked by hand::

    V1   conv1 3*64*49 = 9,408   conv2 64*64*9 = 36,864   norms 2*2*64 = 256       46,528
    area(i, o, times) = conv_input i*o + skip o*o + norm_skip 2*o
                        + conv1 o*4o + conv2 4o*4o*9 + conv3 4o*o
                        + times * 2*(4o + 4o + o)
    V2   area(64, 128, 2)  = 8,192 + 16,384 + 256 + 65,536 + 2,359,296 + 65,536 + 4,608    2,519,808
    V4   area(128, 256, 4) = 32,768 + 65,536 + 512 + 262,144 + 9,437,184 + 262,144 + 18,432
                                                                                          10,078,720
    IT   area(256, 512, 2) = 131,072 + 262,144 + 1,024 + 1,048,576 + 37,748,736 + 1,048,576
                             + 18,432                                                     40,258,560
    decoder.linear 512*1000 + 1000                                                           513,000
    total                                                                                 53,416,616
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CORNET_S_PARAMS", "CORblock_S", "CORnet_S"]

CORNET_S_PARAMS = 53_416_616  # worked out in the module docstring


class CORblock_S(nn.Module):  # noqa: N801 - the repository's name
    """One area: a 1x1 input conv, then ``times`` bottleneck passes sharing conv1..conv3."""

    scale = 4  # the repository's bottleneck widening

    def __init__(self, in_channels: int, out_channels: int, times: int = 1) -> None:
        super().__init__()
        self.times = times
        wide = out_channels * self.scale
        self.conv_input = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
        self.skip = nn.Conv2d(out_channels, out_channels, kernel_size=1, stride=2, bias=False)
        self.norm_skip = nn.BatchNorm2d(out_channels)
        self.conv1 = nn.Conv2d(out_channels, wide, kernel_size=1, bias=False)
        self.nonlin1 = nn.ReLU()
        self.conv2 = nn.Conv2d(wide, wide, kernel_size=3, stride=2, padding=1, bias=False)
        self.nonlin2 = nn.ReLU()
        self.conv3 = nn.Conv2d(wide, out_channels, kernel_size=1, bias=False)
        self.nonlin3 = nn.ReLU()
        for t in range(times):  # one BatchNorm per pass, as the repository
            setattr(self, f"norm1_{t}", nn.BatchNorm2d(wide))
            setattr(self, f"norm2_{t}", nn.BatchNorm2d(wide))
            setattr(self, f"norm3_{t}", nn.BatchNorm2d(out_channels))

    def forward(self, inp: Tensor) -> Tensor:
        x = self.conv_input(inp)
        for t in range(self.times):
            skip = self.norm_skip(self.skip(x)) if t == 0 else x
            stride = 2 if t == 0 else 1
            x = self.nonlin1(getattr(self, f"norm1_{t}")(self.conv1(x)))
            x = F.conv2d(x, self.conv2.weight, None, stride=stride, padding=1)
            x = self.nonlin2(getattr(self, f"norm2_{t}")(x))
            x = getattr(self, f"norm3_{t}")(self.conv3(x))
            x = self.nonlin3(x + skip)
        return x


def CORnet_S(num_classes: int = 1000) -> nn.Sequential:  # noqa: N802 - the repository's name
    """The repository's model, with its weight initialisation (Linear left at PyTorch's default)."""
    model = nn.Sequential(OrderedDict([
        ("V1", nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm1", nn.BatchNorm2d(64)),
            ("nonlin1", nn.ReLU()),
            ("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ("conv2", nn.Conv2d(64, 64, kernel_size=3, stride=1, padding=1, bias=False)),
            ("norm2", nn.BatchNorm2d(64)),
            ("nonlin2", nn.ReLU()),
        ]))),
        ("V2", CORblock_S(64, 128, times=2)),
        ("V4", CORblock_S(128, 256, times=4)),
        ("IT", CORblock_S(256, 512, times=2)),
        ("decoder", nn.Sequential(OrderedDict([
            ("avgpool", nn.AdaptiveAvgPool2d(1)),
            ("flatten", nn.Flatten()),
            ("linear", nn.Linear(512, num_classes)),
        ]))),
    ]))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.fill_(1)
            m.bias.data.zero_()
    return model

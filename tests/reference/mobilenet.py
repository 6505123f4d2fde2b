"""MobileNetV2 written the way torchvision writes it (torchvision is not installable here).

The submodule tree, and hence every ``state_dict()`` key and shape, matches
``torchvision.models.mobilenet_v2`` (width 1.0, 1000 classes)::

    features.0                        Conv-BN-ReLU6, 3 -> 32, stride 2
    features.{1..17}.conv.*           inverted residuals; features.1 has no expansion
    features.18                       Conv-BN-ReLU6 1x1, 320 -> 1280
    classifier.0 (Dropout 0.2)  classifier.1 (Linear)

so a torchvision checkpoint loads into it with ``strict=True``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ConvBNReLU", "InvertedResidual", "MobileNetV2", "mobilenet_v2"]


class ConvBNReLU(nn.Sequential):
    """torchvision's Conv2dNormActivation with BatchNorm2d and ReLU6: children 0, 1, 2."""

    def __init__(self, inp: int, oup: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> None:
        super().__init__(
            nn.Conv2d(inp, oup, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(oup),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden, kernel=1))
        layers += [
            ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    #: t (expansion), c (channels), n (blocks), s (first stride), as in the paper's table 2
    SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
               [6, 320, 1, 1]]

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        inp, last = 32, 1280
        features: list[nn.Module] = [ConvBNReLU(3, inp, stride=2)]
        for t, c, n, s in self.SETTING:
            for i in range(n):
                features.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                inp = c
        features.append(ConvBNReLU(inp, last, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v2(num_classes: int = 1000) -> MobileNetV2:
    return MobileNetV2(num_classes)

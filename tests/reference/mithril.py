"""Mithril's "Custom Models" examples, written as plain PyTorch.

Submodule (state_dict) names, which tests map generated names onto:

``MLP``                    ``hidden.{i}`` (Linear), ``output`` (Linear)
``ConfigurableNetwork``    ``hidden.{i}`` (Linear), ``norms.{i}`` (BatchNorm1d, only with
                           ``use_batchnorm``), ``output`` (Linear)
``ResidualBlock``          ``fc1``, ``fc2``
``ResNet``                 ``projection``, ``blocks.{i}.fc1`` / ``blocks.{i}.fc2``, ``head``
``TransformerClassifier``  ``input_proj``, ``layers.{i}`` (nn.TransformerEncoderLayer:
                           ``self_attn.in_proj_weight``/``in_proj_bias``,
                           ``self_attn.out_proj``, ``linear1``, ``linear2``, ``norm1``,
                           ``norm2``), ``head``.  The positional table is a
                           non-persistent buffer, so it is not in the state_dict.
``GaussianNoise``          no parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS", "MLP", "ConfigurableNetwork", "GaussianNoise", "ResNet",
    "ResidualBlock", "TransformerClassifier", "build_model", "sinusoidal_table",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU,
}


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout for each hidden width, then a Linear read-out."""

    def __init__(self, input_size: int = 784, hidden_sizes: Sequence[int] = (256, 128, 64),
                 output_size: int = 10, dropout: float = 0.2) -> None:
        super().__init__()
        widths = [input_size, *hidden_sizes]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(widths[-1], output_size)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.hidden:
            x = self.dropout(self.act(layer(x)))
        return self.output(x)


class ConfigurableNetwork(nn.Module):
    """An MLP whose activation and normalisation are chosen by name/flag.

    With ``use_batchnorm`` each hidden Linear is followed by BatchNorm1d *before* the
    activation (the usual Linear-BN-act order). Dropout (default off) follows the activation.
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int,
                 activation: str = "relu", use_batchnorm: bool = False,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        widths = [input_size, *hidden_sizes]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.norms = (nn.ModuleList(nn.BatchNorm1d(w) for w in hidden_sizes)
                      if use_batchnorm else None)
        self.act = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(widths[-1], output_size)

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.hidden):
            x = layer(x)
            if self.norms is not None:
                x = self.norms[i](x)
            x = self.dropout(self.act(x))
        return self.output(x)


class ResidualBlock(nn.Module):
    """x + Linear(ReLU(Linear(x))): no activation after the addition."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, dim)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(self.act(self.fc1(x)))


class ResNet(nn.Module):
    """Fully connected residual net: projection, ``n_blocks`` blocks, ReLU, Linear head."""

    def __init__(self, input_size: int, dim: int, n_blocks: int, num_classes: int) -> None:
        super().__init__()
        self.projection = nn.Linear(input_size, dim)
        self.blocks = nn.ModuleList(ResidualBlock(dim) for _ in range(n_blocks))
        self.act = nn.ReLU()
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.projection(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.act(x))


def sinusoidal_table(length: int, d_model: int) -> Tensor:
    """The "Attention is all you need" table: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(.)."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                         * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
    return pe


class TransformerClassifier(nn.Module):
    """Sequence classifier over features ``[B, L, input_size]``.

    Linear projection to ``d_model``; add the fixed sinusoidal table (no dropout, no
    scaling); ``num_layers`` post-norm ``nn.TransformerEncoderLayer`` (ReLU, batch_first);
    mean over the sequence axis; Linear head.
    """

    def __init__(self, input_size: int, d_model: int, num_heads: int, dim_feedforward: int,
                 num_layers: int, num_classes: int, dropout: float = 0.1,
                 max_len: int = 512) -> None:
        super().__init__()
        self.input_proj = nn.Linear(input_size, d_model)
        self.register_buffer("pos_table", sinusoidal_table(max_len, d_model), persistent=False)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout,
                                       activation="relu", batch_first=True, norm_first=False)
            for _ in range(num_layers)
        )
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = self.input_proj(x) + self.pos_table[: x.shape[1]]
        for layer in self.layers:
            h = layer(h)
        return self.head(h.mean(dim=1))


class GaussianNoise(nn.Module):
    """Adds N(0, std^2) noise while training (a regulariser); the identity in eval mode."""

    def __init__(self, std: float = 0.1) -> None:
        super().__init__()
        self.std = std

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.std > 0:
            return x + torch.randn_like(x) * self.std
        return x


def build_model(kind: str, **kwargs: object) -> nn.Module:
    """Mithril's factory: ``"mlp"``, ``"resnet"`` or ``"transformer"``."""
    factories: dict[str, type[nn.Module]] = {
        "mlp": MLP, "resnet": ResNet, "transformer": TransformerClassifier,
    }
    if kind not in factories:
        raise ValueError(f"unknown model kind {kind!r}; choose from {sorted(factories)}")
    return factories[kind](**kwargs)

"""A plain LSTM sequence classifier.

Submodule names: ``lstm`` (nn.LSTM, keys ``lstm.weight_ih_l{k}``, ``lstm.weight_hh_l{k}``,
``lstm.bias_ih_l{k}``, ``lstm.bias_hh_l{k}``; gate order i, f, g, o as in PyTorch) and
``fc`` (Linear hidden -> classes).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["LSTMClassifier"]


class LSTMClassifier(nn.Module):
    """Input ``[B, L, input_size]`` -> logits ``[B, num_classes]`` from the last time step."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, num_classes: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=num_layers,
                            batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
        self.fc = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.lstm(x)  # [B, L, hidden]: the top layer's output at every step
        return self.fc(out[:, -1])

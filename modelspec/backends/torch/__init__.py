"""The PyTorch backend: `emit_torch` writes one standalone module per spec.

Importing this package does not import torch; only running the emitted code does.
"""

from .context import TorchContext, TorchEmitError
from .emit import Emitted, emit, emit_torch

__all__ = ["Emitted", "TorchContext", "TorchEmitError", "emit", "emit_torch"]

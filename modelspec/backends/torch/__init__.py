"""The PyTorch backend: `emit_torch` writes one standalone module per spec.

Importing this package does not import torch; only running the emitted code does.
"""

from . import check  # noqa: F401 - `build --check`; imports torch only when it runs
from .context import TorchContext, TorchEmitError
from .emit import Emitted, emit, emit_torch

__all__ = ["Emitted", "TorchContext", "TorchEmitError", "emit", "emit_torch"]

"""The op catalog (docs/language.md, section 8), its typed backend contract, and the registry plugins extend."""

from .base import (
    Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules, backends_of, jax_rules, torch_rules,
)
from .registry import PluginError, adapter, all_ops, get_op, index_bound, register

__all__ = [
    "Attrs", "JaxCtx", "JaxRules", "Op", "PluginError", "ShapeError", "TorchCtx", "TorchRules", "adapter",
    "all_ops", "backends_of", "get_op", "index_bound", "jax_rules", "register", "torch_rules",
]

"""The op catalog (docs/language.md, section 8), its typed backend contract, and the registry plugins extend."""

from .attrs import Field, field_validator, model_validator
from .base import (
    Attrs, JaxCtx, JaxRules, Op, ShapeError, TorchCtx, TorchRules, backends_of, jax_rules, torch_rules,
)
from .registry import PluginError, adapter, all_ops, get_op, index_bound, register

__all__ = [
    "Attrs", "Field", "JaxCtx", "JaxRules", "Op", "PluginError", "ShapeError", "TorchCtx", "TorchRules", "adapter",
    "all_ops", "backends_of", "field_validator", "get_op", "index_bound", "jax_rules", "model_validator",
    "register", "torch_rules",
]

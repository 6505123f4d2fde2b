"""The op catalog (docs/language.md, section 8) and the registry plugins extend."""

from .base import Attrs, Op, ShapeError
from .registry import all_ops, get_op, register

__all__ = ["Attrs", "Op", "ShapeError", "all_ops", "get_op", "register"]

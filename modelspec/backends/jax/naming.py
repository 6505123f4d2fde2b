"""Names and literals in emitted JAX source: nothing a spec says can become code.

Locals are derived from node paths by keeping ``[A-Za-z0-9_]`` only, checked
against a reserved set and de-duplicated first come, first served, so the same
spec always gets the same names.  Strings reach the source only through `q`
(a quoted literal) or the comment/docstring helpers.
"""

from __future__ import annotations

import builtins
import keyword
import re
from typing import Any

from ...exceptions import ModelspecError
from ...ops import kit
from ..source import docstring, printable, q, rename_symbols, symbols_in  # noqa: F401

#: module-level names of an emitted JAX module (imports, constants, functions).
MODULE_NAMES = frozenset({
    "annotations", "math", "np", "jax", "jnp", "lax", "NAME", "PARAMS", "STATE", "INPUTS",
    "OUTPUTS", "TIME", "init", "init_state", "apply", "split_state_dict", "state_dict",
})

#: locals ``apply`` and its step function use for themselves.
APPLY_NAMES = frozenset({
    "params", "state", "inputs", "train", "key", "keys", "key_t", "t", "carry", "bufs", "step",
    "xs", "ys", "dtype", "steps", "outputs", "seqs", "start",
})

_NON_IDENT = re.compile(r"[^0-9A-Za-z_]")


class JaxEmitError(ModelspecError):
    """The graph cannot be written as JAX source (an op without JAX code, ...)."""


def reserved_locals() -> set[str]:
    return set(keyword.kwlist) | set(dir(builtins)) | MODULE_NAMES | APPLY_NAMES


def sanitize(text: str) -> str:
    """An identifier from a node path; never starting with ``_`` (helpers own those)."""
    name = _NON_IDENT.sub("_", text).lstrip("_") or "v"
    return f"n_{name}" if name[0].isdigit() else name


class Namer:
    """Hands out unique, deterministic identifiers."""

    def __init__(self, reserved: set[str] | frozenset[str]) -> None:
        self.taken: set[str] = set(reserved)

    def fresh(self, hint: str) -> str:
        base = sanitize(hint)
        name, k = base, 1
        while name in self.taken or keyword.iskeyword(name):
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name




def literal(value: Any) -> str:
    """Python source for a plain attribute value (`modelspec.ops.kit.literal`, which the
    op rules use too); a JaxEmitError for anything else."""
    try:
        return kit.literal(value)
    except ValueError as exc:
        raise JaxEmitError(str(exc)) from None








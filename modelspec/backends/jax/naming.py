"""Names and literals in emitted JAX source: nothing a spec says can become code.

Locals come from `modelspec.backends.source.Namer` (shared with Torch), checked
against the reserved set below.  Strings reach the source only through `q`
(a quoted literal) or the comment/docstring helpers.
"""

from __future__ import annotations

import builtins
import keyword

from ...exceptions import ModelspecError
from ..source import Namer, docstring, printable, q, rename_symbols, sanitize, symbols_in  # noqa: F401

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


class JaxEmitError(ModelspecError):
    """The graph cannot be written as JAX source (an op without JAX code, ...)."""


def reserved_locals() -> set[str]:
    return set(keyword.kwlist) | set(dir(builtins)) | MODULE_NAMES | APPLY_NAMES

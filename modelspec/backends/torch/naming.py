"""Names and literals in the emitted source: nothing a spec says can become code.

Spec names are validated identifiers (or child numbers), but the emitter does not
rely on that: every local is derived from a node path by keeping only
``[A-Za-z0-9_]``, checked against a reserved set (keywords, builtins, the names the
emitted module defines) and de-duplicated in a fixed order, so the same spec
always gets the same names.  Every string that reaches the source goes through
`q` (a quoted literal) or `comment` (a printable one-line comment).
"""

from __future__ import annotations

import builtins
import keyword

from ..source import Namer, docstring, printable, q, rename_symbols, sanitize, symbols_in  # noqa: F401

#: names the emitted module itself defines or imports at module level.
MODULE_NAMES = frozenset({
    "annotations", "math", "torch", "nn", "F", "Tensor", "Scope", "Params",
})

#: locals the emitted ``forward`` uses for itself.
FORWARD_NAMES = frozenset({"self", "t", "steps"})

#: attributes of ``nn.Module`` (and so of ``Scope``) that a child name must not shadow;
#: children with these names are reached through ``_modules[...]`` instead.
MODULE_ATTRS = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
    "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad",
})

def reserved_locals() -> set[str]:
    """Every name a local of the emitted code must avoid."""
    return set(keyword.kwlist) | set(dir(builtins)) | MODULE_NAMES | FORWARD_NAMES


def local_hint(path: str) -> str:
    """A node path shortened for a local name: edge scaffolding (``edges``, ``via``) dropped.

    ``V1.edges.recurrence.via`` -> ``V1.recurrence``; `Namer` keeps the results unique.
    """
    parts = [p for p in path.split(".") if p not in ("edges", "via")]
    return ".".join(parts) or path


def is_attr_name(name: str) -> bool:
    """Whether ``module.<name>`` reaches the child of that name (else use ``[...]``)."""
    return (name.isidentifier() and name.isascii() and not keyword.iskeyword(name)
            and not name.startswith("_") and name not in MODULE_ATTRS)


def comment_lines(text: str) -> list[str]:
    """Free text (a spec's doc, a file name) as safe comment bodies, one per line."""
    return [printable(line).rstrip() for line in text.splitlines()] or [""]

"""Names that become code: one rule, checked where each name is written.

Every name of a spec ends up in emitted source: the model name is a class,
nodes and blocks are attributes and scopes, inputs are parameters of
``forward``, params and loop variables are expression names.  The emitters
sanitise anyway, but a name that would need sanitising is a mistake in the
spec, so lint says so (MS014) at the name itself.
"""

from __future__ import annotations

import keyword
from typing import Any

from ..diagnostics import Diagnostics
from ..shapes.dims import is_symbol
from .context import Src

NAME_RULE = "use letters, digits and underscores, not starting with a digit, and no Python keyword"


def is_identifier(name: Any) -> bool:
    """An ASCII identifier (the dim-symbol rule) that is not a Python keyword."""
    return is_symbol(name) and not keyword.iskeyword(name)


def shown(name: Any) -> str:
    """A name as a message may quote it: escaped, and cut when long."""
    text = name if isinstance(name, str) else repr(name)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= 60 else text[:57] + "..."


def listing(names: Any, limit: int = 20) -> str:
    """Names for a hint, in order, cut after `limit` (a spec may define thousands)."""
    shown_names = [f"`{shown(n)}`" for n in list(names)[:limit + 1]]
    more = len(names) - limit
    return ", ".join(shown_names[:limit]) + (f" and {more:,} more" if more > 0 else "")


def check_identifier(name: Any, what: str, src: Src, diags: Diagnostics, *, key: bool = True,
                     owner: str = "") -> bool:
    """True for a good name; else MS014 at ``src`` (the key that holds it, by default)."""
    if is_identifier(name):
        return True
    diags.add("MS014", f"{owner}{what} `{shown(name)}` is not a valid name: {NAME_RULE}", src.pos(key=key))
    return False


def check_block_names(name: Any, raw: Any, src: Src, diags: Diagnostics) -> None:
    """A block's own name, its params and its ports (``src`` is the block's definition)."""
    check_identifier(name, "block name", src, diags)
    if not isinstance(raw, dict):
        return
    params = raw.get("params")
    owner = f"block `{shown(name)}`: "
    for p in params if isinstance(params, dict) else ():
        check_identifier(p, "param name", src.at("params", p), diags, owner=owner)
    inputs = raw.get("inputs")
    for k, port in enumerate(inputs if isinstance(inputs, list) else ()):
        check_identifier(port, "input port", src.at("inputs", k), diags, key=False, owner=owner)
    outputs = raw.get("outputs")
    for port in outputs if isinstance(outputs, dict) else ():
        check_identifier(port, "output port", src.at("outputs", port), diags, owner=owner)


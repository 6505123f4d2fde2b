"""The JAX backend: emit a pure-JAX module for a checked graph, or build it in memory.

`emit_jax(graph)` returns the source; `build_module(graph)` executes that same
source in a fresh module object, so the generated file and the in-memory model
are the same code.  Importing this package does not import jax; building does.
"""

from __future__ import annotations

import linecache
import types

from ...ir.graph import Graph
from .emit import emit_jax
from .naming import JaxEmitError

__all__ = ["JaxEmitError", "build_module", "emit_jax"]


def build_module(g: Graph, source: str | None = None) -> types.ModuleType:
    """Execute the emitted source in a new module named after the model."""
    code = source if source is not None else emit_jax(g)
    name = f"modelspec_jax_{''.join(c if c.isalnum() else '_' for c in g.name)}"
    mod = types.ModuleType(name)
    mod.__file__ = f"<modelspec jax {g.name}>"
    mod.__dict__["__source__"] = code
    linecache.cache[mod.__file__] = (len(code), None, code.splitlines(True), mod.__file__)  # readable tracebacks
    exec(compile(code, mod.__file__, "exec"), mod.__dict__)  # noqa: S102 - our own emitted code
    return mod


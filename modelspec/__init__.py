"""modelspec: a declarative model-spec compiler for deep learning.

``modelspec.load(path, overrides=None)`` gives the checked IR of a spec and
``modelspec.build(path, backend="torch", overrides=None)`` the model built from
its emitted source.  Neither imports torch or jax until it is called.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

# The loaders subpackage shares the name `load`: import it first, so that the
# function defined below is what `modelspec.load` stays (importing a subpackage
# later would otherwise rebind the package attribute to it).  It needs no torch.
from . import load as _loaders  # noqa: F401

if TYPE_CHECKING:
    from .ir.graph import Graph

__version__ = "0.1.0"

__all__ = ["__version__", "build", "load"]


def load(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None, trust: Any = None) -> Graph:
    """The checked IR of a spec; raises `modelspec.diagnostics.SpecError` listing every problem.

    ``trust`` (a `modelspec.trust.Trust`) names the plugins the spec may import; none by default.
    """
    from .pipeline import load as load_spec

    return load_spec(path, overrides, trust)


def __getattr__(name: str) -> Any:
    if name == "build":
        from .build import build

        globals()["build"] = build  # the function, not the submodule of the same name
        return build
    raise AttributeError(f"module 'modelspec' has no attribute {name!r}")

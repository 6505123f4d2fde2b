"""modelspec: a declarative model-spec compiler for deep learning.

``modelspec.load(path, overrides=None)`` gives the checked IR of a spec and
``modelspec.build(path, backend="torch", overrides=None)`` the model built from
its emitted source.  Neither imports torch or jax until it is called.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

# The subpackage `load` and the module `build` share the names of the two
# functions below.  Importing a submodule binds it as an attribute of the
# package, but only the first time it is loaded: so both are loaded here,
# before the functions are defined, and no later `import modelspec.build`
# (in any order) can rebind `modelspec.build` to the module.  Both are light
# (no pydantic, torch or jax).
from . import build as _build_module
from . import load as _loaders  # noqa: F401
from .version import __version__

if TYPE_CHECKING:
    from .ir.graph import Graph

__all__ = ["__version__", "build", "load"]


def load(path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None, trust: Any = None) -> Graph:
    """The checked IR of a spec; raises `modelspec.diagnostics.SpecError` listing every problem.

    ``trust`` (a `modelspec.trust.Trust`) names the plugins the spec may import; none by default.
    """
    from .pipeline import load as load_spec  # lazy: `import modelspec.<submodule>` stays free of the front end

    return load_spec(path, overrides, trust)


def build(path: str | os.PathLike[str], backend: str = "torch",
          overrides: Mapping[str, Any] | None = None, stateful: bool = False) -> Any:
    """The model of a spec, built from exactly the source ``modelspec build`` writes (see `modelspec.build.build`);
    ``stateful``: the source of ``modelspec build --stateful``."""
    return _build_module.build(path, backend, overrides, stateful)

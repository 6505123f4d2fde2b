"""`modelspec.build`: spec -> emitted source -> a live model made from exactly that source.

Backends are looked up in `BACKENDS` by name; each emits source for a checked
graph and turns the imported module into the object ``build`` returns.  The
source is executed into a fresh module registered in ``sys.modules`` under a
name derived from the source itself, so the same spec always gets the same
module name and pickling / ``torch.save(model)`` work within the process.  The
module is the same code ``modelspec build -o FILE`` writes, and that file also
imports standalone.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .exceptions import ModelspecError
from .ir.graph import Graph


@dataclass(frozen=True)
class Backend:
    """How one framework is targeted: emit source, and make the object `build` returns."""

    emit: Callable[[Graph], str]
    #: the imported module -> what `build` returns (an nn.Module instance for torch)
    instantiate: Callable[[types.ModuleType], Any]
    #: ``build --check``: (graph, imported module, sizes such as {"B": 8}) -> a one-line
    #: verdict; raises on failure.  None: the backend has no check.
    check: Callable[[Graph, types.ModuleType, dict[str, int]], str] | None = None
    #: ``summary --backend``: (graph, built model, sizes) -> list of differences from the IR
    verify: Callable[[Graph, Any, dict[str, int]], list[str]] | None = None
    #: ``build --stateful``: source whose forward/apply takes and returns the time loop's
    #: state, so a stream can be fed in chunks.  None: the backend cannot.
    emit_stateful: Callable[[Graph], str] | None = None
    #: ``build --stateful --check``: like ``check``, for the stateful module (chunks vs one run)
    check_stateful: Callable[[Graph, types.ModuleType, dict[str, int]], str] | None = None


def _torch() -> types.ModuleType:
    from .backends import torch  # lazy: a backend (its emitter) loads when first used

    return torch


def _jax() -> types.ModuleType:
    from .backends import jax  # lazy: a backend (its emitter) loads when first used

    return jax


def _torch_emit(g: Graph) -> str:
    return _torch().emit_torch(g)


def _torch_emit_stateful(g: Graph) -> str:
    return _torch().emit_torch(g, stateful=True)


def _torch_instantiate(mod: types.ModuleType) -> Any:
    """An instance of the module's model class (the one name in ``__all__``)."""
    return getattr(mod, mod.__all__[0])()


def _jax_emit(g: Graph) -> str:
    return _jax().emit_jax(g)


def _jax_emit_stateful(g: Graph) -> str:
    return _jax().emit_jax(g, stateful=True)


def _jax_checks() -> types.ModuleType:
    from .backends.jax import check  # lazy: numpy (and jax when it runs)

    return check


def _jax_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    return _jax_checks().run_check(g, mod, dims)


def _jax_verify(g: Graph, mod: Any, dims: dict[str, int]) -> list[str]:
    return _jax_checks().verify(g, mod, dims)


def _torch_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    return _torch().check.run_check(g, mod, dims)


def _torch_stream_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    return _torch().check.run_stream_check(g, mod, dims)


def _jax_stream_check(g: Graph, mod: types.ModuleType, dims: dict[str, int]) -> str:
    return _jax_checks().run_stream_check(g, mod, dims)


def _torch_verify(g: Graph, model: Any, dims: dict[str, int]) -> list[str]:
    return _torch().check.verify(g, model, dims)


#: backend name -> Backend.  Other backends add one entry here.
BACKENDS: dict[str, Backend] = {
    "torch": Backend(_torch_emit, _torch_instantiate, _torch_check, _torch_verify, _torch_emit_stateful,
                     _torch_stream_check),
    # jax: the module itself (init, init_state, apply, split_state_dict); see docs/jax.md
    "jax": Backend(_jax_emit, lambda mod: mod, _jax_check, _jax_verify, _jax_emit_stateful, _jax_stream_check),
}


class BuildError(ModelspecError):
    """A usage problem: an unknown backend, a missing dimension, ..."""


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise BuildError(f"unknown backend {name!r}; choose from {', '.join(sorted(BACKENDS))}")
    return BACKENDS[name]


def emit(g: Graph, backend_name: str = "torch", stateful: bool = False) -> str:
    """The source ``modelspec build`` writes for a checked graph (``--stateful``: see `Backend`)."""
    backend = get_backend(backend_name)
    if not stateful:
        return backend.emit(g)
    if backend.emit_stateful is None:
        raise BuildError(f"the {backend_name} backend has no stateful mode")
    return backend.emit_stateful(g)


def module_name(source: str, backend_name: str) -> str:
    """A stable ``sys.modules`` name for a source: equal sources share it."""
    import hashlib  # lazy: `import modelspec` loads this module, and lint never builds

    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    return f"_modelspec_{backend_name}_{digest}"


def import_source(source: str, name: str, filename: str | None = None) -> types.ModuleType:
    """Execute ``source`` as a fresh module registered under ``name``.

    The source is registered with ``linecache`` so tracebacks and ``inspect``
    show the generated lines.
    """
    filename = filename or f"<modelspec {name}>"
    mod = types.ModuleType(name)
    mod.__file__ = filename
    import linecache  # lazy: as hashlib above

    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    sys.modules[name] = mod
    try:
        exec(compile(source, filename, "exec"), mod.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


def load_module(g: Graph, backend_name: str = "torch", stateful: bool = False) -> types.ModuleType:
    """The emitted module of ``g``, imported (reused when the same source was imported)."""
    source = emit(g, backend_name, stateful)
    name = module_name(source, backend_name)
    mod = sys.modules.get(name)
    if mod is None or getattr(mod, "__modelspec_source__", None) != source:
        mod = import_source(source, name, f"<modelspec {os.path.basename(g.file) or g.name}>")
        mod.__modelspec_source__ = source  # type: ignore[attr-defined]
    return mod


def build_graph(g: Graph, backend_name: str = "torch", stateful: bool = False) -> Any:
    """The model of a checked graph: a fresh instance (torch) of the emitted code."""
    return get_backend(backend_name).instantiate(load_module(g, backend_name, stateful))


def build(path: str | os.PathLike[str], backend: str = "torch",
          overrides: Mapping[str, Any] | None = None, stateful: bool = False) -> Any:
    """Compile a spec and return its model, built from exactly the source ``build`` writes.

    For ``backend="torch"`` that is an ``nn.Module`` instance with PyTorch's default
    initialisation.  ``stateful``: a time model's forward (JAX: ``apply``) takes and
    returns the time loop's state (docs/commands.md, build --stateful).  Raises
    `modelspec.diagnostics.SpecError` for a spec with errors.
    """
    from .pipeline import load  # lazy: `import modelspec` (which loads this module) stays free of the front end

    return build_graph(load(path, overrides), backend, stateful)

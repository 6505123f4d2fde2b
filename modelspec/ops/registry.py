"""The op registry: built-ins, `plugins:` modules and the `modelspec.ops` entry points.

Importing a module runs its code, so `load_plugin` is only called for modules
the user trusts (see `modelspec.trust`).  Entry points are packages the user
installed and registered under `modelspec.ops`; they are trusted like any
installed package.  The registry remembers which `plugins:` module registered
which ops, so a spec only sees the plugin ops of the modules it names.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, Iterable, Sequence

from ..exceptions import ModelspecError
from ..shapes.dims import Shape
from .base import Op, contract_problems

_REGISTRY: dict[str, Op] = {}
_BUILTINS_LOADED = False
_ENTRY_POINTS_LOADED = False
#: `plugins:` module -> the ops its import registered
_PLUGIN_OPS: dict[str, frozenset[str]] = {}

BUILTIN_MODULES = (
    "dense", "conv", "pool", "norm", "activation", "shape_ops", "sequence", "dynamics", "recurrence",
)


class PluginError(ModelspecError):
    pass


def register(cls: type[Op]) -> type[Op]:
    """Class decorator: add an op to the registry (plugins use it too).

    The class is checked against the op contract first (`contract_problems`): an op
    that lacks a rule one of its backends needs is refused here, naming the op and
    the backend, rather than failing later inside an emitter.
    """
    problems = contract_problems(cls)
    if problems:
        raise PluginError("; ".join(problems))
    _REGISTRY[cls.name] = cls()
    return cls


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for mod in BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{mod}")


def load_entry_points() -> list[str]:
    """Import the `modelspec.ops` entry points once; returns failures as messages."""
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return []
    _ENTRY_POINTS_LOADED = True
    if not _may_have_entry_points():
        return []
    from importlib.metadata import entry_points  # lazy: 20 ms of imports, for an installed plugin only

    errors = []
    for ep in entry_points(group="modelspec.ops"):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not break the compiler
            errors.append(f"entry point `{ep.name}` ({ep.value}): {exc}")
    return errors


_GROUP = re.compile(rb"^\s*\[\s*modelspec\.ops\s*\]", re.MULTILINE)


def _may_have_entry_points() -> bool:
    """Whether an installed distribution on ``sys.path`` may declare a `modelspec.ops` entry point.

    Reads the ``entry_points.txt`` of each ``*.dist-info`` / ``*.egg-info`` folder, as
    `importlib.metadata` would, without importing it (and the email, zipfile and socket
    modules it loads): most installations have no such plugin.  True when unsure (a path
    entry that is not a plain directory, such as a zip file).
    """
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except NotADirectoryError:
            return True
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(entry or ".", name, "entry_points.txt"), "rb") as fh:
                        if _GROUP.search(fh.read()):
                            return True
                except OSError:
                    continue
    return False


def load_plugin(module: str, search: Sequence[str] = ()) -> None:
    """Import a trusted `plugins:` module; its import registers its ops.

    ``search`` (the spec's directory, the tree's root) is put in front of
    ``sys.path`` for this import only, so a plugin beside the spec is found
    without `PYTHONPATH` and later imports do not see those directories.
    """
    if module in _PLUGIN_OPS and module in sys.modules and _PLUGIN_OPS[module] <= _REGISTRY.keys():
        return
    before = set(_REGISTRY)
    saved = list(sys.path)
    sys.path[:0] = [d for d in search if d not in sys.path]
    try:
        importlib.import_module(module)
    except Exception as exc:
        raise PluginError(f"cannot import plugin module `{module}`: {exc}") from exc
    finally:
        sys.path[:] = saved
    _PLUGIN_OPS[module] = frozenset(set(_REGISTRY) - before)


def plugin_of(op_name: str) -> str | None:
    """The `plugins:` module whose import registered ``op_name``, if any."""
    for module, names in _PLUGIN_OPS.items():
        if op_name in names:
            return module
    return None


def get_op(name: str) -> Op | None:
    _load_builtins()
    return _REGISTRY.get(name)


def all_ops() -> dict[str, Op]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def builtin_ops() -> dict[str, Op]:
    """The catalog without plugins (the committed JSON Schema lists only these)."""
    return {k: v for k, v in all_ops().items() if type(v).__module__.startswith(f"{__package__}.")}


def adapter(kind: str, want: Shape) -> tuple[Op, Any] | None:
    """The built-in op (and its validated attributes) an edge adapter of ``kind`` uses.

    ``kind`` is ``channels`` (map axis 1 to ``want[1]``) or ``resize`` (the spatial
    axes to ``want[2:]``); each op says for which ranks it serves
    (`Op.channel_adapter`, `Op.resize_adapter`), so no pass names an op.
    """
    for op in builtin_ops().values():
        offer = op.channel_adapter(want) if kind == "channels" else op.resize_adapter(want)
        if offer is not None:
            return op, op.Attrs(**offer)
    return None


def index_bound(nodes: Iterable[Any], source: str) -> int | None:
    """The exclusive bound on the integer indices that value ``source`` must hold: the
    smallest any reading op declares (`Op.index_inputs`), or None if none reads it as
    indices.  ``nodes`` are IR nodes (``op``, ``attrs``, ``inputs`` with ``source``)."""
    bounds = []
    for n in nodes:
        op = get_op(n.op)
        if op is None or n.attrs is None:
            continue
        for i, bound in op.index_inputs(n.attrs).items():
            if i < len(n.inputs) and n.inputs[i].source == source:
                bounds.append(bound)
    return min(bounds) if bounds else None


def op_names() -> Iterable[str]:
    return all_ops().keys()

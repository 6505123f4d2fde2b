"""A spec's `plugins:`: import the trusted ones, refuse the rest, and say which ops that leaves unchecked.

An untrusted plugin is never imported, so its ops are unknown.  Reporting
each use as MS030 "unknown op" would bury the one real problem (MS038), so
those nodes are kept with no attributes: references to them still resolve,
shape inference treats them (and what depends on them) as unknown, and the
MS038 diagnostic lists the ops left unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostic, Diagnostics, Pos
from ..ops.base import Op
from ..ops.registry import PluginError, get_op, load_entry_points, load_plugin, plugin_of
from ..trust import SpecTrust
from .context import Src


@dataclass
class PluginScope:
    """The plugins one spec named, and what became of them."""

    loaded: set[str] = field(default_factory=set)
    missing: list[Diagnostic] = field(default_factory=list)
    #: the modules behind ``missing``
    missing_names: set[str] = field(default_factory=set)
    #: op name -> how many nodes use it, for ops left unchecked by a refused plugin
    unchecked: dict[str, int] = field(default_factory=dict)

    def lookup(self, name: str) -> tuple[Op | None, str | None]:
        """The op called ``name`` as this spec sees it, or None and a hint."""
        op = get_op(name)
        module = plugin_of(name) if op is not None else None
        if module is not None and module not in self.loaded:
            if module in self.missing_names:  # named but not loaded here (untrusted): left unchecked
                return None, None
            return None, f"`{name}` comes from the plugin `{module}`; add it to this spec's `plugins:`"
        return op, None

    def defer(self, name: str) -> bool:
        """Count a use of an unknown op when a plugin not loaded may provide it; True if so."""
        if not self.missing:
            return False
        self.unchecked[name] = self.unchecked.get(name, 0) + 1
        return True

    def finish(self) -> None:
        """Tell, on the first MS038/MS037 diagnostic, which ops were left unchecked."""
        if not self.unchecked or not self.missing:
            return
        uses = ", ".join(f"`{n}` ({k} node{'s' if k > 1 else ''})" for n, k in sorted(self.unchecked.items()))
        self.missing[0].notes.append(f"not checked, as they may come from a plugin that was not loaded: {uses}")


def load_plugins(modules: list[Any], root: Src, trust: SpecTrust, diags: Diagnostics,
                 scope: PluginScope | None = None, near: str | None = None) -> PluginScope:
    """Import the trusted modules of a file's `plugins:`; MS038 for the others, MS037 for failures.

    ``scope`` is the spec's, when the file is a library it imports: the
    library's plugins serve the blocks the spec expands from it.  ``near``: a
    directory searched first (the library's own).
    """
    if scope is None:
        scope = PluginScope()
        for msg in load_entry_points():
            diags.add("MS037", msg, None)
        trust.report_problems(diags)
    for k, mod in enumerate(modules):
        at: Pos = root.at("plugins", k).pos()
        name = str(mod)
        if not trust.trusts(name):
            scope.missing_names.add(name)
            scope.missing.append(diags.add(
                "MS038", f"plugin `{name}` is not trusted, so it was not imported (a spec cannot enable code)",
                at, suggestion=trust.how_to_trust(name)))
            continue
        try:
            load_plugin(name, [near, *trust.search_path] if near else trust.search_path)
            scope.loaded.add(name)
        except PluginError as exc:
            scope.missing_names.add(name)
            scope.missing.append(diags.add("MS037", str(exc), at))
    return scope

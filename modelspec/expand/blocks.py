"""Block definitions, from the spec itself and from imported files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..diagnostics import Diagnostics, Pos
from ..load import inside, load_document
from ..load.document import Document
from ..trust import SpecTrust
from ..validate.structure import check_file
from .context import Src
from .params import ParamDecl, block_params
from .plugins import PluginScope, load_plugins


@dataclass
class BlockDef:
    name: str  # as written where it is defined
    qualname: str  # as the user names it (``lib.Residual``)
    raw: dict[str, Any]
    src: Src
    params: dict[str, ParamDecl]
    inputs: list[str]
    #: top-level params of the file that defines the block
    file_params: dict[str, Any]
    #: how names of other blocks resolve inside this block's body
    namespace: dict[str, "BlockDef"] = field(default_factory=dict)


def collect_blocks(raw: dict[str, Any], src: Src, file_params: dict[str, Any], prefix: str,
                   namespace: dict[str, BlockDef]) -> dict[str, BlockDef]:
    """The blocks a file defines, added to ``namespace`` under ``prefix``."""
    local: dict[str, BlockDef] = {}
    for name, body in (raw.get("blocks") or {}).items():
        if not isinstance(body, dict):
            continue
        d = BlockDef(name, prefix + name, body, src.at("blocks", name), block_params(body.get("params") or {}),
                     list(body.get("inputs") or ["x"]), file_params)
        local[name] = d
        namespace[prefix + name] = d
    return local


class Importer:
    """Loads ``imports:`` files once each, detecting import cycles.

    An import is untrusted input like the spec: it must be a relative path
    that resolves (symlinks followed) inside ``root``, the tree being checked.
    """

    def __init__(self, diags: Diagnostics, root: str | None = None, trust: SpecTrust | None = None,
                 plugins: PluginScope | None = None) -> None:
        self.diags = diags
        self.root = root
        #: a library's `plugins:` are loaded under the importing spec's trust, into its scope
        self.trust = trust
        self.plugins = plugins
        self._loaded: dict[str, dict[str, BlockDef]] = {}
        self._active: list[str] = []

    def import_file(self, alias: str, rel: str, src: Src, base_dir: str,
                    namespace: dict[str, BlockDef]) -> None:
        pos = src.pos()
        if not self._allowed(str(rel), base_dir, pos):
            return
        path = os.path.normpath(os.path.join(base_dir, rel))
        if path in self._active:
            chain = " -> ".join(self._active + [path])
            self.diags.add("MS034", f"import cycle: {chain}", pos)
            return
        if path not in self._loaded:
            self._active.append(path)
            try:
                self._loaded[path] = self._load(path, pos)
            finally:
                self._active.pop()
        for name, d in self._loaded[path].items():
            namespace[f"{alias}.{name}"] = d

    def _allowed(self, rel: str, base_dir: str, pos: Pos) -> bool:
        """MS006 for an absolute import or one that leaves the tree; True when it may be read."""
        if os.path.isabs(rel) or os.path.splitdrive(rel)[0]:
            self.diags.add("MS006", f"import `{rel}` is an absolute path", pos,
                           suggestion="write imports relative to the importing file, inside the repository")
            return False
        path = os.path.normpath(os.path.join(base_dir, rel))
        if self.root is not None and not inside(path, self.root):
            target = os.path.realpath(path)
            self.diags.add("MS006", f"import `{rel}` resolves to `{target}`, outside the tree being checked, "
                           f"`{self.root}`", pos,
                           suggestion="keep imported files inside the repository, or pass `--root DIR` to widen "
                           "the tree")
            return False
        return True

    def _load(self, path: str, pos: Pos) -> dict[str, BlockDef]:
        inner = Diagnostics()
        local = self.load_library(path, inner)
        if local is None:
            refused = [d for d in inner if d.code == "MS006"]
            if refused:  # a special file: report it where the import names it
                self.diags.add("MS006", f"imported file {refused[0].message}", pos, suggestion=refused[0].suggestion)
                return {}
            self._fail(path, pos, inner, "has errors" if len(inner) else "is not a spec file")
            return {}
        self.diags.extend(d for d in inner if d.code in ("MS037", "MS038"))  # located in the library
        return local

    def load_library(self, path: str, inner: Diagnostics, doc: Document | None = None) -> dict[str, BlockDef] | None:
        """Load and check a file's blocks (or those of ``doc``, already loaded); problems go to ``inner``."""
        doc = doc if doc is not None else load_document(path, inner, root=self.root)
        if doc is None or not isinstance(doc.data, dict):
            if doc is not None:
                inner.add("MS010", "a block library is a mapping with `modelspec: 1` and `blocks`", doc.pos(()))
            return None
        check_file(doc, inner)
        if inner.has_errors:
            return None
        src = Src(doc, ())
        if doc.data.get("plugins") and self.trust is not None:
            if self.plugins is None:  # a library linted on its own
                self.plugins = load_plugins([], src, self.trust, inner)
            load_plugins(list(doc.data["plugins"]), src, self.trust, inner, self.plugins,
                         near=os.path.dirname(os.path.abspath(path)))
        file_params = dict(doc.data.get("params") or {})
        namespace: dict[str, BlockDef] = {}
        local = collect_blocks(doc.data, src, file_params, "", namespace)
        for alias, rel in (doc.data.get("imports") or {}).items():
            self.import_file(alias, rel, src.at("imports", alias), os.path.dirname(os.path.abspath(path)),
                             namespace)
        for d in local.values():
            d.namespace = namespace
        return local

    def _fail(self, path: str, pos: Pos, inner: Diagnostics, what: str) -> None:
        notes = [f"{d.pos}: {d.code} {d.message}" for d in inner.sorted()[:5]]
        self.diags.add("MS034", f"imported file `{path}` {what}", pos, notes=notes)

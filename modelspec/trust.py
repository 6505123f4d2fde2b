"""What a spec may reach: the tree its files must stay in, and the plugins it may import.

A spec is untrusted input (CI lints specs that strangers wrote), so the trust
never comes from the spec itself.  It comes from the command line
(``--allow-plugins``, ``--plugin MOD``, ``--root DIR``) or from the
repository's own ``pyproject.toml`` (``[tool.modelspec] plugins = [...]``).

The *tree* of a spec is ``--root`` when given, else the nearest directory at
or above the spec that holds ``.git`` or ``pyproject.toml``, else the
directory the spec was found in.  Spec files, imports and symlinks must
resolve inside it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field

from .diagnostics import Diagnostics, Pos
from .load.files import read_bytes

ROOT_MARKERS = (".git", "pyproject.toml")
MAX_PYPROJECT_BYTES = 1 << 20


@dataclass(frozen=True)
class Trust:
    """The command line's word on trust; `for_spec` turns it into one spec's `SpecTrust`."""

    #: trust every module a spec names in `plugins:` (``--allow-plugins``)
    allow_plugins: bool = False
    #: modules trusted by name (``--plugin MOD``)
    plugins: frozenset[str] = frozenset()
    #: the tree every file must stay in (``--root``); None: found per spec
    root: str | None = None
    #: read ``[tool.modelspec] plugins`` from the tree's pyproject.toml
    project_config: bool = True

    def for_spec(self, spec: str | os.PathLike[str], fallback: str | None = None) -> "SpecTrust":
        """The trust for the spec file at ``spec`` (``fallback``: the directory argument it was found under)."""
        spec_dir = os.path.dirname(os.path.abspath(os.fspath(spec)))
        root = os.path.abspath(self.root) if self.root else find_root(spec_dir, fallback)
        project, problems = project_plugins(root) if self.project_config else ((), ())
        return SpecTrust(root, spec_dir, self.allow_plugins, self.plugins | frozenset(project),
                         project_file=os.path.join(root, "pyproject.toml"), problems=tuple(problems))


@dataclass(frozen=True)
class SpecTrust:
    """The trust one spec runs under."""

    root: str
    spec_dir: str
    allow_plugins: bool = False
    plugins: frozenset[str] = frozenset()
    project_file: str | None = None
    #: problems reading the project's configuration, reported with the spec
    problems: tuple[tuple[str, str, Pos], ...] = field(default=())

    def trusts(self, module: str) -> bool:
        return self.allow_plugins or module in self.plugins

    @property
    def search_path(self) -> list[str]:
        """Where a trusted plugin module is looked for first: beside the spec, then the tree's root."""
        return list(dict.fromkeys([self.spec_dir, self.root]))

    def how_to_trust(self, module: str) -> str:
        where = os.path.relpath(self.project_file) if self.project_file else "pyproject.toml"
        return (f"plugins run code, so a spec alone cannot enable them: pass `--plugin {module}` "
                f"(or `--allow-plugins`), or list it under `[tool.modelspec] plugins` in {where}")

    def report_problems(self, diags: Diagnostics) -> None:
        for code, message, pos in self.problems:
            diags.add(code, message, pos)


def untrusted(spec: str | os.PathLike[str]) -> SpecTrust:
    """The default: no plugins beyond the project's configuration, files inside the spec's tree."""
    return Trust().for_spec(spec)


def find_root(start: str, fallback: str | None = None) -> str:
    """The nearest directory at or above ``start`` holding a root marker, else ``fallback`` or ``start``."""
    d = os.path.abspath(start)
    while True:
        if any(os.path.exists(os.path.join(d, m)) for m in ROOT_MARKERS):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return os.path.abspath(fallback) if fallback else os.path.abspath(start)
        d = parent


def project_plugins(root: str) -> tuple[tuple[str, ...], tuple[tuple[str, str, Pos], ...]]:
    """``[tool.modelspec] plugins`` of ``root/pyproject.toml``, with any problem reading it."""
    path = os.path.join(root, "pyproject.toml")
    if not os.path.lexists(path):
        return (), ()
    shown = os.path.relpath(path)
    diags = Diagnostics()
    raw = read_bytes(path, shown, diags, limit=MAX_PYPROJECT_BYTES, root=root)
    if raw is not None and len(raw) > MAX_PYPROJECT_BYTES:
        diags.add("MS037", f"`{shown}` is larger than 1 MiB; its plugin list was not read", Pos(shown, 1, 1))
        raw = None
    value: object = None
    if raw is not None:
        try:
            value = tomllib.loads(raw.decode("utf-8")).get("tool", {}).get("modelspec", {}).get("plugins", [])
        except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError, AttributeError) as exc:
            diags.add("MS037", f"cannot read `[tool.modelspec]` from `{shown}`: {exc}", Pos(shown, 1, 1))
    if value is None or value == []:
        return (), tuple((d.code, d.message, d.pos) for d in diags if d.pos is not None)
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        return (), (("MS037", f"`[tool.modelspec] plugins` in `{shown}` must be a list of module names",
                     Pos(shown, 1, 1)),)
    return tuple(value), ()

"""Name scopes and reference resolution.

References are collected during expansion as `Ref`s and resolved once every
name of the scope exists, so a feedback connection may name a node that is
defined further down.  A scope is one ``layers`` list with its unnamed and
named groups; block instances open a scope of their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostics, Pos
from .expressions import Meter, suggest


@dataclass
class Ref:
    """An unresolved reference: ``name`` (dotted) looked up in ``table``."""

    name: str
    table: "Table"
    pos: Pos | None = None


@dataclass
class NodeT:
    path: str


@dataclass
class AliasT:
    """A name standing for another reference (a port, a dropped node)."""

    ref: "Ref | str"
    delay: int = 0


@dataclass
class InstT:
    """A block instance or named group: a sub-namespace with an output."""

    table: "Table"
    output: "Ref | str | None"
    outputs: dict[str, "Ref | str"] = field(default_factory=dict)
    path: str = ""  # the scope's path (what `share:` of a scope pairs with)


@dataclass
class CopiesT:
    """``repeat``/``foreach`` copies: ``name.K`` is copy K, ``name`` the last."""

    copies: list["Target"]


@dataclass
class AmbiguousT:
    """A short name that several named groups of one scope share: only their paths are clear."""

    name: str
    paths: list[str]


Target = NodeT | AliasT | InstT | CopiesT | AmbiguousT


@dataclass
class Table:
    label: str  # for messages: "the top level", "block `Residual`"
    names: dict[str, Target] = field(default_factory=dict)
    #: the enclosing scope whose names stay visible (groups and copies; never blocks)
    parent: "Table | None" = None
    #: where each name was defined (for the duplicate message)
    first_pos: dict[str, Pos | None] = field(default_factory=dict)
    #: names of nodes dropped by `when: false`: a pass-through that a kept node of the name replaces
    weak: set[str] = field(default_factory=set)
    #: names inside this scope's named groups, as (path from here, target): visible here by the
    #: short name while exactly one group has it (docs/language.md, section 3)
    shared: dict[str, list[tuple[str, Target]]] = field(default_factory=dict)

    def define(self, name: str, target: Target, pos: Pos | None, diags: Diagnostics, *,
               weak: bool = False) -> bool:
        """Add a name; False (and MS035) when the scope has it already.

        A `weak` name (a node dropped by `when: false`) gives way: a kept node of the same
        name replaces it, and it never replaces a name that is there already.
        """
        if name in self.names and (weak or name in self.weak):
            if name in self.weak and not weak:
                self.weak.discard(name)
                self.names[name] = target
                self.first_pos[name] = pos
            return not weak
        if name in self.names:
            first = self.first_pos.get(name)
            where = f" (first defined at {first})" if first else ""
            diags.add("MS035", f"duplicate name `{name}` in {self.label}{where}", pos,
                      suggestion="give one of them another name, or use `${i}` in names inside repeated groups")
            return False
        self.names[name] = target
        self.first_pos[name] = pos
        if weak:
            self.weak.add(name)
        return True

    def share(self, group: str, sub: "Table") -> None:
        """Make the names of the named group `group` (its table `sub`) visible here by their short names."""
        for inner, target in sub.names.items():
            if not inner.isdigit():  # child numbers (``downsample.0``) stay inside the group
                self.shared.setdefault(inner, []).append((f"{group}.{inner}", target))
        for inner, entries in sub.shared.items():
            self.shared.setdefault(inner, []).extend((f"{group}.{path}", t) for path, t in entries)

    def member(self, name: str) -> Target | None:
        """`name` in this scope alone: its own names first, then those its named groups share."""
        if name in self.names:
            return self.names[name]
        entries = self.shared.get(name)
        if not entries:
            return None
        if len(entries) == 1:
            return entries[0][1]
        return AmbiguousT(name, [path for path, _ in entries])

    def lookup(self, name: str) -> Target | None:
        table: Table | None = self
        while table is not None:
            found = table.member(name)
            if found is not None:
                return found
            table = table.parent
        return None

    def known(self) -> list[str]:
        """Every name visible in this scope alone (for did-you-mean hints)."""
        return list(self.names) + [n for n in self.shared if n not in self.names]


class Resolver:
    """Resolves `Ref`s to node paths (or input terminal names)."""

    def __init__(self, diags: Diagnostics, meter: Meter | None = None) -> None:
        self.diags = diags
        self.meter = meter  # shared budget of did-you-mean comparisons
        #: id of a Ref -> what it resolved to (None: it failed, and was reported)
        self._done: dict[int, tuple[str, int] | None] = {}

    def resolve(self, ref: "Ref | str") -> tuple[str, int] | None:
        """The node path (or input terminal) and the delay accumulated on the way.

        A loop, not recursion, and remembered per `Ref`: a chain of thousands of
        pass-throughs (ports, nodes dropped by `when`) must neither exhaust the
        stack nor be walked again for every node that reads its end.
        """
        delay = 0
        trail: list[tuple[Ref, int]] = []  # the refs walked, with the delay before each
        link: Ref | str = ref
        result: tuple[str, int] | None = None
        while True:
            if isinstance(link, str):
                result = (link, delay)
                break
            known = self._done.get(id(link), False)
            if known is not False:
                result = None if known is None else (known[0], delay + known[1])
                break
            if any(r is link for r, _ in trail):
                self.diags.add("MS040", f"`{link.name}` refers to itself through aliases", link.pos)
                break
            trail.append((link, delay))
            target = self._target(link)
            got = self._value_of(target, link) if target is not None else None
            if got is None:
                break
            nxt, extra, is_node = got
            if is_node:
                result = (str(nxt), delay + extra)
                break
            link, delay = nxt, delay + extra
        for r, before in trail:
            self._done[id(r)] = None if result is None else (result[0], result[1] - before)
        return result

    def scope_of(self, ref: Ref) -> str | None:
        """The scope path ``ref`` names (a block instance, a named group, the last of copies), else None."""
        target = self._target(ref)
        while isinstance(target, CopiesT) and target.copies:
            target = target.copies[-1]
        return target.path if isinstance(target, InstT) and target.path else None

    def _target(self, ref: Ref) -> Target | None:
        parts = ref.name.split(".")
        target: Target | None = ref.table.lookup(parts[0])
        if target is None:
            self._unknown(parts[0], ref.table, ref)
            return None
        for i, part in enumerate(parts[1:], start=1):
            target = self._step(target, part, ref, ".".join(parts[:i]))
            if target is None:
                return None
        return target

    def _step(self, target: Target, part: str, ref: Ref, so_far: str) -> Target | None:
        if isinstance(target, CopiesT):
            if part.isdigit() and int(part) < len(target.copies):
                return target.copies[int(part)]
            self.diags.add("MS040", f"`{so_far}` has copies 0..{len(target.copies) - 1}; `{part}` is not one of them",
                           ref.pos)
            return None
        if isinstance(target, InstT):
            if part in target.outputs and part not in target.table.names:
                return AliasT(target.outputs[part])
            nxt = target.table.member(part)
            if nxt is None:
                self._unknown(part, target.table, ref, inside=so_far)
            return nxt
        if isinstance(target, AmbiguousT):
            self._ambiguous(target, ref)
            return None
        if isinstance(target, AliasT):
            self.diags.add("MS040", f"`{so_far}` is a port or pass-through, it has no member `{part}`", ref.pos)
            return None
        self.diags.add("MS040", f"`{so_far}` is a single node, it has no member `{part}`", ref.pos)
        return None

    def _value_of(self, target: Target, ref: Ref) -> tuple["Ref | str", int, bool] | None:
        """(path, delay, True) for a node; (link to follow, delay, False) for anything else."""
        while isinstance(target, CopiesT):
            if not target.copies:
                return None
            target = target.copies[-1]
        if isinstance(target, NodeT):
            return target.path, 0, True
        if isinstance(target, AliasT):
            return target.ref, target.delay, False
        if isinstance(target, AmbiguousT):
            self._ambiguous(target, ref)
            return None
        if target.output is None:
            self.diags.add("MS040", f"`{ref.name}` has no output to read", ref.pos)
            return None
        return target.output, 0, False

    def _unknown(self, name: str, table: Table, ref: Ref, inside: str | None = None) -> None:
        where = f"inside `{inside}`" if inside else f"in {table.label}"
        self.diags.add("MS040", f"`{ref.name}` names nothing: no node, port or input `{name}` {where}", ref.pos,
                       suggestion=suggest(name, table.known(), self.meter))

    def _ambiguous(self, target: AmbiguousT, ref: Ref) -> None:
        paths = ", ".join(f"`{p}`" for p in target.paths[:10]) + (" ..." if len(target.paths) > 10 else "")
        self.diags.add("MS029", f"`{target.name}` is ambiguous here: {len(target.paths)} named groups have it "
                       f"({paths})", ref.pos, suggestion=f"write the group's path, e.g. `{target.paths[0]}`")

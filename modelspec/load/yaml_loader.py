"""YAML text -> `Document`: plain JSON-like data with a position for every key and value.

Why not `yaml.safe_load`: it forgets positions, silently keeps the last of two
duplicate keys, turns `2024-01-01` into a date, and expands a "billion laughs"
alias bomb until memory runs out.  So we compose nodes from PyYAML's event
stream ourselves (iteratively, so deep nesting cannot overflow the stack; a
node with an alias can only point at a finished node, so the graph is acyclic),
count the alias-expanded size and depth of every node as it is finished (an
alias adds the counts of the node it names, so a billion laughs costs one
count per distinct node), and only then build the data.  Tags that would build objects are refused, never
constructed, so a spec can never run code.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (AliasEvent, DocumentEndEvent, MappingEndEvent, MappingStartEvent, ScalarEvent,
                         SequenceEndEvent, SequenceStartEvent)
from yaml.nodes import ScalarNode

from ..diagnostics import Diagnostics, Pos
from ..exceptions import ModelspecError
from .document import Document, Path

MAX_TEXT_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 100
MAX_VALUES = 1_000_000

_T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = _T + "str", _T + "int", _T + "float", _T + "bool", _T + "null"
SEQ, MAP, MERGE = _T + "seq", _T + "map", _T + "merge"
_SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL})
# YAML 1.1 needs a dot in a float; `lr: 1e-3` reading as a string surprises
# everyone, so plain scalars in YAML 1.2 exponent form are floats too.
_EXP_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+")
_FAST_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RETRY_LIMIT = 1024 * 1024  # re-read errors this early with pure Python (same codes, clearer text)
_RETRY_SLACK = 4096  # look-ahead the pure-Python scanner may need past libyaml's error point
_CONSTRUCTOR = SafeConstructor()
_SCALAR_CACHE = 4096  # distinct plain scalars whose resolution is remembered per document

_pos = tuple.__new__  # `Pos(...)` without the call of its __new__: one per key and value


def check_text_size(text: str, file: str, diags: Diagnostics) -> bool:
    """MS004 when `text` is over 8 MiB of UTF-8 (shared with the TOML loader)."""
    too_big = len(text) > MAX_TEXT_BYTES or (
        len(text) * 4 > MAX_TEXT_BYTES
        and len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES
    )
    if too_big:
        diags.add("MS004", "file is larger than the 8 MiB limit for spec files", Pos(file, 1, 1))
    return not too_big


def short_tag(tag: str) -> str:
    """`tag:yaml.org,2002:binary` -> `!!binary`, as the user wrote it."""
    return "!!" + tag[len(_T):] if tag.startswith(_T) else tag


class _Node:
    """A composed YAML node: kind is "scalar", "seq", "map" or "bad" (-> None).

    ``size`` (values below it, aliases expanded, itself included) and ``depth``
    (levels below it) are counted while composing, so the limits need no pass
    of their own; a node an alias points to is finished, so its counts are final.
    """

    __slots__ = ("kind", "tag", "value", "text", "pos", "size", "depth")

    def __init__(self, kind: str, tag: str, value: Any, text: str, pos: Pos, depth: int = 0) -> None:
        self.kind, self.tag, self.value, self.text, self.pos = kind, tag, value, text, pos
        self.size, self.depth = 1, depth


class _Stop(ModelspecError):
    """Composition cannot go on (a limit); the diagnostic is already added."""


_TOO_DEEP = f"nesting is deeper than {MAX_DEPTH} levels (after expanding aliases)"
_TOO_MANY = f"the document has more than {MAX_VALUES:,} values (keys and items, with aliases expanded)"


class _Composer:
    """Events -> `_Node` graph, with tags checked, scalars converted once and the alias-expanded
    size and depth counted on the way.

    ``limit`` is the first node found over the size or depth limit (and why): the same node a
    depth-first walk of the finished graph would stop at, since nodes are counted in document
    order.  Composition goes on to the end, so a later syntax error is still the one reported.
    """

    def __init__(self, loader: Any, file: str, diags: Diagnostics) -> None:
        self.loader, self.file, self.diags = loader, file, diags
        self.anchors: dict[str, _Node | None] = {}  # None: still being composed
        self.limit: tuple[_Node, str] | None = None
        self.root: _Node | None = None
        #: a plain scalar's text -> (tag, value), for texts an implicit resolver may claim (numbers,
        #: booleans, null): they repeat; bounded, so distinct values cost no memory past it
        self.scalars: dict[str, tuple[str, Any]] = {}
        resolvers = loader.yaml_implicit_resolvers
        #: first characters some implicit resolver looks at; any other plain scalar is a string
        self.claimed = None if resolvers.get(None) or loader.yaml_path_resolvers else frozenset(resolvers)

    def pos(self, mark: Any) -> Pos:
        return Pos(self.file, mark.line + 1, mark.column + 1)

    def compose(self) -> _Node | None:
        """The single document's root node, None for an empty stream."""
        ld = self.loader
        get = ld.get_event
        get()  # StreamStart
        if ld.check_event(yaml.StreamEndEvent):
            return None
        get()  # DocumentStart
        anchors = self.anchors
        scalar, add = self._scalar, self._add
        stack: list[list[Any]] = []  # [node, anchor, pending key node or None, is_seq]
        root: _Node | None = None
        while True:
            ev = get()
            cls = type(ev)
            if cls is ScalarEvent:
                node = scalar(ev)
                if ev.anchor is not None:
                    anchors[ev.anchor] = node
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                if len(stack) >= MAX_DEPTH:
                    self.diags.add("MS004", f"nesting is deeper than {MAX_DEPTH} levels",
                                   self.pos(ev.start_mark))
                    raise _Stop
                is_seq = cls is SequenceStartEvent
                node = self._collection(ev, is_seq)
                if ev.anchor is not None:
                    anchors[ev.anchor] = None
                stack.append([node, ev.anchor, None, is_seq])
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                node, anchor, _, _ = stack.pop()
                node.depth += 1
                if anchor is not None:
                    anchors[anchor] = node
            elif cls is AliasEvent:
                node = self._alias(ev)
            elif cls is DocumentEndEvent:
                break
            else:  # pragma: no cover - the parser emits no other event inside a document
                raise yaml.YAMLError(f"unexpected {cls.__name__}")
            if not stack:
                root = node
                continue
            top = stack[-1]
            if top[3]:
                top[0].value.append(node)
            elif top[2] is None:
                top[2] = node
            else:
                top[0].value.append((top[2], node))
                top[2] = None
            if self.limit is None:
                add(top[0], node, len(stack))
        if root is not None and self.limit is None and root.depth > MAX_DEPTH:
            self.limit = (root, _TOO_DEEP)
        nxt = ld.peek_event()
        if isinstance(nxt, yaml.DocumentStartEvent):
            self.diags.add("MS002", "only one YAML document per file", self.pos(nxt.start_mark),
                           suggestion="remove the second `---` or split the file")
            raise _Stop
        return root

    def _add(self, parent: _Node, kid: _Node, level: int) -> None:
        """Count a finished child (an item, a key or a value) into its parent at ``level``."""
        if level + kid.depth > MAX_DEPTH:  # a shared (aliased) node nests too deep here
            self.limit = (parent, _TOO_DEEP)
            return
        parent.size += kid.size
        if kid.depth > parent.depth:
            parent.depth = kid.depth
        if parent.size > MAX_VALUES:
            self.limit = (parent, _TOO_MANY)

    def _bad_tag(self, tag: str, mark: Any) -> None:
        hint = ("quote the value to keep it as a string"
                if tag in (_T + "timestamp", _T + "binary") else "remove the tag")
        self.diags.add("MS003", f"unsupported YAML tag `{short_tag(tag)}`: specs are plain data "
                       "(strings, numbers, booleans, null, lists and mappings)",
                       self.pos(mark), suggestion=hint)

    def _collection(self, ev: Any, is_seq: bool) -> _Node:
        pos = self.pos(ev.start_mark)
        tag = ev.tag
        if tag is not None and tag != "!" and tag != (SEQ if is_seq else MAP):
            self._bad_tag(tag, ev.start_mark)
            # children are still composed (and checked), but the value is None
            return _Node("bad", tag, [], "", pos)
        return _Node("seq" if is_seq else "map", SEQ if is_seq else MAP, [], "", pos)

    def _alias(self, ev: Any) -> _Node:
        if ev.anchor not in self.anchors:
            self.diags.add("MS002", f"alias `*{ev.anchor}` names no anchor defined before it",
                           self.pos(ev.start_mark))
        elif self.anchors[ev.anchor] is None:
            self.diags.add("MS004", f"alias `*{ev.anchor}` refers to a node that contains it; "
                           "recursive structures are not allowed", self.pos(ev.start_mark))
        else:
            return self.anchors[ev.anchor]  # type: ignore[return-value]
        return _Node("bad", NULL, None, "", self.pos(ev.start_mark), 1)

    def _scalar(self, ev: Any) -> _Node:
        text: str = ev.value
        tag = ev.tag
        mark = ev.start_mark
        pos = Pos(self.file, mark.line + 1, mark.column + 1)
        cache = False
        if tag is None or tag == "!":
            plain = ev.implicit[0]
            if self.claimed is not None and (not plain or (text and text[0] not in self.claimed)):
                return _Node("scalar", STR, text, text, pos)  # what `resolve` would say, without asking
            hit = self.scalars.get(text)
            if hit is not None:
                return _Node("scalar", hit[0], hit[1], text, pos)
            cache = len(self.scalars) < _SCALAR_CACHE
            tag = self.loader.resolve(ScalarNode, text, ev.implicit)
            if tag == STR and _EXP_FLOAT.fullmatch(text):
                tag = FLOAT
            elif tag not in _SCALAR_TAGS and tag != MERGE:
                tag = STR  # implicit timestamps, `=`: specs are JSON-like, keep the text
        elif tag not in _SCALAR_TAGS:
            self._bad_tag(tag, mark)
            return _Node("bad", tag, None, text, pos, 1)
        if tag in (STR, MERGE):
            value: Any = text
        else:
            try:
                value = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, ScalarNode(tag, text))
            except (ValueError, KeyError, TypeError, yaml.YAMLError):
                self.diags.add("MS012", f"`{text}` is not a valid {short_tag(tag)}", pos)
                return _Node("bad", tag, None, text, pos, 1)
        if cache:
            self.scalars[text] = (tag, value)
        return _Node("scalar", tag, value, text, pos)


class _Builder:
    """Node graph -> plain data, recording positions and checking keys."""

    def __init__(self, doc: Document, diags: Diagnostics) -> None:
        self.doc, self.diags = doc, diags
        self.entries: dict[int, dict[str, tuple[_Node, _Node]]] = {}

    def build(self, node: _Node, path: Path) -> Any:
        self.doc.values[path] = node.pos
        if node.kind == "scalar":
            return node.value
        if node.kind == "seq":
            return [self.build(kid, path + (i,)) for i, kid in enumerate(node.value)]
        if node.kind == "map":
            out: dict[str, Any] = {}
            for key, (knode, vnode) in self._entries(node).items():
                sub = path + (key,)  # one tuple for both tables
                self.doc.keys[sub] = knode.pos
                out[key] = self.build(vnode, sub)
            return out
        return None

    def _entries(self, node: _Node) -> dict[str, tuple[_Node, _Node]]:
        """Key -> (key node, value node): merged keys first, explicit keys override."""
        done = self.entries.get(id(node))
        if done is not None:
            return done
        merged: dict[str, tuple[_Node, _Node]] = {}
        explicit: dict[str, tuple[_Node, _Node]] = {}
        for knode, vnode in node.value:
            if knode.kind == "scalar" and knode.tag == MERGE:
                for src in self._merge_sources(vnode):
                    for key, pair in self._entries(src).items():
                        merged.setdefault(key, pair)
                continue
            key = self._key(knode)
            if key is None:
                continue
            if key in explicit:
                first = explicit[key][0]
                self.diags.add("MS005", f"duplicate key `{key}` (first defined at line {first.pos.line})",
                               knode.pos, suggestion="remove one of the two entries")
                continue
            explicit[key] = (knode, vnode)
        result = {**merged, **explicit}
        self.entries[id(node)] = result
        return result

    def _merge_sources(self, vnode: _Node) -> list[_Node]:
        if vnode.kind == "map":
            return [vnode]
        if vnode.kind == "seq" and all(k.kind in ("map", "bad") for k in vnode.value):
            return [k for k in vnode.value if k.kind == "map"]
        if vnode.kind != "bad":
            self.diags.add("MS012", "a `<<` merge key needs a mapping or a list of mappings", vnode.pos)
        return []

    def _key(self, knode: _Node) -> str | None:
        if knode.kind == "scalar":
            # non-string scalars keep their text: `1:` -> "1", as in TOML
            return knode.value if knode.tag == STR else knode.text
        if knode.kind in ("seq", "map"):
            what = "a list" if knode.kind == "seq" else "a mapping"
            self.diags.add("MS012", f"mapping keys must be strings, not {what}", knode.pos)
        return None


def _offset_pos(text: str, index: int, file: str) -> Pos:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return Pos(file, line, index - (text.rfind("\n", 0, index) + 1) + 1)


def _parse_error(exc: yaml.YAMLError, text: str, file: str, diags: Diagnostics) -> None:
    """MS002 at the parser's mark, with PyYAML's problem text as the message."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        pos = Pos(file, mark.line + 1, mark.column + 1)
        notes = []
        if exc.context:
            where = exc.context_mark
            notes.append(exc.context + (f" started at line {where.line + 1}" if where else ""))
        message = exc.problem or "syntax error"
        hint = ("YAML indentation must use spaces, not tabs"
                if "'\\t'" in message or "tab" in message else None)
        diags.add("MS002", message, pos, suggestion=hint, notes=notes)
    elif isinstance(exc, yaml.reader.ReaderError):
        char = exc.character
        code = f"#x{char:04x}" if isinstance(char, int) else repr(char)
        diags.add("MS002", f"unacceptable character {code}: {exc.reason}",
                  _offset_pos(text, exc.position, file))
    else:
        diags.add("MS002", str(exc).splitlines()[0] if str(exc) else "syntax error", Pos(file, 1, 1))


def _compose(text: str, file: str, diags: Diagnostics, loader_cls: type) -> _Composer:
    """The composer after reading all of ``text`` (its ``root`` and ``limit``)."""
    loader = loader_cls(text)
    try:
        composer = _Composer(loader, file, diags)
        composer.root = composer.compose()
        return composer
    finally:
        loader.dispose()


def _error_index(exc: yaml.YAMLError) -> int | None:
    """Character offset where the parser gave up, when it says."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None and getattr(mark, "index", None) is not None:
        return int(mark.index)
    position = getattr(exc, "position", None)  # ReaderError
    return int(position) if isinstance(position, int) else None


def _retry_pure(text: str, file: str, exc: yaml.YAMLError) -> tuple[Diagnostics, yaml.YAMLError | None] | None:
    """Re-read the text before libyaml's error with the pure-Python parser.

    libyaml stops at its own limits (1,000 nested flow levels, found while it
    scans ahead for a simple key) before our composer sees depth 101, and its
    messages are terser.  The pure-Python parser is slower, so it reads only
    the text up to libyaml's error (plus a little for its look-ahead): the cost
    is bounded by where the problem is, not by the size of the file.  Returns
    what it found first (its diagnostics and, for a syntax error, the error),
    or None when it found nothing before libyaml's error point.
    """
    where = _error_index(exc)
    if where is None or where > _RETRY_LIMIT:
        return None
    found = Diagnostics()
    try:
        _compose(text[: where + _RETRY_SLACK], file, found, yaml.SafeLoader)
    except _Stop:
        return found, None
    except yaml.YAMLError as py_exc:
        at = _error_index(py_exc)
        if at is not None and at <= where:
            return found, py_exc
    return None


class _Unusual(ModelspecError):
    """The one-pass reading met something only the composer handles (see `_one_pass`)."""


def _one_pass(text: str, file: str, loader_cls: type) -> Document | None:
    """The document in one walk over the events, for plain data; None when it is not plain.

    Plain means what almost every spec is: one document, no anchors or aliases, no `<<` merge,
    no explicit tags, only scalar keys and none twice, under the depth and size limits, no scalar
    that fails to convert.  Nothing here reports: whatever is not plain (every case that could
    give a diagnostic) is read again, from the start, by the composer and `_Builder`, so every
    message, limit and position is theirs.  For plain data both give the same `Document`:
    positions and keys in the same (document) order.
    """
    try:
        loader = loader_cls(text)  # the pure-Python reader checks the characters here
    except yaml.YAMLError:
        return None
    try:
        return _walk_plain(loader, file)
    except (_Unusual, yaml.YAMLError):
        return None  # a syntax error too: the full reading reports it
    finally:
        loader.dispose()


def _walk_plain(ld: Any, file: str) -> Document | None:
    get = ld.get_event
    get()  # StreamStart
    if type(get()) is yaml.StreamEndEvent:
        return Document(file, None)
    resolvers = ld.yaml_implicit_resolvers
    if resolvers.get(None) or ld.yaml_path_resolvers:
        raise _Unusual
    claimed = frozenset(resolvers)  # first characters some implicit resolver looks at
    resolve = ld.resolve
    construct = _CONSTRUCTOR.yaml_constructors
    cache: dict[str, Any] = {}  # a plain scalar an implicit resolver may claim -> its value
    values: dict[Path, Pos] = {}
    keys: dict[Path, Pos] = {}
    # the open collection: `cur` (None before the root), its `path`, whether it is a list, and
    # `at`: the next index of a list, or the path of a mapping's pending key (None: a key is next)
    cur: Any = None
    path: Path = ()
    is_seq = False
    at: Any = None
    stack: list[tuple[Any, Path, bool, Any]] = []
    root: Any = None
    while True:
        ev = get()
        cls = type(ev)
        if cls is ScalarEvent:
            tag = ev.tag
            if ev.anchor is not None or (tag is not None and tag != "!"):
                raise _Unusual
            text = ev.value
            mark = ev.start_mark
            pos = _pos(Pos, (file, mark.line + 1, mark.column + 1))
            if not ev.implicit[0] or (text and text[0] not in claimed):  # as `_Composer._scalar`
                value: Any = text
            else:
                value = cache.get(text, cache)
                if value is cache:
                    value = _plain_scalar(text, resolve(ScalarNode, text, ev.implicit), construct)
                    if len(cache) < _SCALAR_CACHE:
                        cache[text] = value
                if at is None and not is_seq and cur is not None and type(value) is not str:
                    value = text  # non-string keys keep their text: `1:` -> "1"
            if is_seq:
                values[path + (at,)] = pos
                cur.append(value)
                at += 1
            elif at is not None:
                values[at] = pos
                cur[at[-1]] = value
                at = None
            elif cur is None:
                values[()] = pos
                root = value
            elif value in cur:
                raise _Unusual  # a duplicate key: reported by the full reading
            else:
                at = path + (value,)
                keys[at] = pos
                cur[value] = None  # holds the key's place until its value comes
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            seq = cls is SequenceStartEvent
            tag = ev.tag
            if ev.anchor is not None or len(stack) >= MAX_DEPTH - 1 or (
                    tag is not None and tag != "!" and tag != (SEQ if seq else MAP)):
                raise _Unusual
            mark = ev.start_mark
            pos = _pos(Pos, (file, mark.line + 1, mark.column + 1))
            new: Any = [] if seq else {}
            if is_seq:
                sub: Path = path + (at,)
                cur.append(new)
                at += 1
            elif at is not None:
                sub = at
                cur[at[-1]] = new
                at = None
            elif cur is None:
                sub = ()
                root = new
            else:
                raise _Unusual  # a mapping or list as a key
            values[sub] = pos
            stack.append((cur, path, is_seq, at))
            cur, path, is_seq, at = new, sub, seq, (0 if seq else None)
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            cur, path, is_seq, at = stack.pop()
        elif cls is DocumentEndEvent:
            break
        else:  # an alias, or a document's start: shared nodes and their limits are the composer's
            raise _Unusual
    if type(ld.peek_event()) is not yaml.StreamEndEvent or len(values) + len(keys) > MAX_VALUES:
        raise _Unusual
    return Document(file, root, values=values, keys=keys)


def _plain_scalar(text: str, tag: str, construct: Any) -> Any:
    """An implicitly resolved scalar's value, as `_Composer._scalar` gives it; `_Unusual` for a merge key
    or a text that does not convert."""
    if tag == STR:
        if not _EXP_FLOAT.fullmatch(text):
            return text
        tag = FLOAT
    elif tag not in _SCALAR_TAGS:
        if tag == MERGE:
            raise _Unusual
        return text  # implicit timestamps, `=`: keep the text
    try:
        return construct[tag](_CONSTRUCTOR, ScalarNode(tag, text))
    except (ValueError, KeyError, TypeError, yaml.YAMLError):
        raise _Unusual from None


def load_yaml(text: str, file: str, diags: Diagnostics) -> Document | None:
    """Load one YAML document; None (with diagnostics) when nothing usable came out."""
    if not check_text_size(text, file, diags):
        return None
    doc = _one_pass(text, file, _FAST_LOADER)
    if doc is not None:
        doc.text = text
        return doc
    fast = Diagnostics()
    try:
        composed = _compose(text, file, fast, _FAST_LOADER)
    except _Stop:
        diags.extend(fast)
        return None
    except yaml.YAMLError as exc:
        retried = _retry_pure(text, file, exc) if _FAST_LOADER is not yaml.SafeLoader else None
        if retried is not None:
            found, py_exc = retried  # the pure-Python reading, so both loaders give the same codes
            diags.extend(found)
            if py_exc is not None:
                _parse_error(py_exc, text, file, diags)
            return None
        diags.extend(fast)
        _parse_error(exc, text, file, diags)
        return None
    diags.extend(fast)
    doc = Document(file, None, text=text)
    if composed.root is None:
        return doc
    if composed.limit is not None:
        node, message = composed.limit
        diags.add("MS004", message, node.pos)
        return None
    doc.data = _Builder(doc, diags).build(composed.root, ())
    return doc

"""Expansion: params, expressions, blocks, repeat, foreach, when, groups -> IR.

Every node of the result has a dotted path mirroring the spec's scopes and a
source position.  References are collected as `Ref`s and resolved at the
end, once every name exists.  Problems are reported, never raised, and
expansion goes on so that one run finds as many as it can.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..diagnostics import Diagnostics, did_you_mean
from ..ir.graph import Conn, Graph, Node, Scope
from ..ops.registry import get_op, op_names
from ..validate.errors import data_path
from ..validate.limits import MAX_INT, MAX_STEPS, big_ints, fmt_int
from .blocks import BlockDef
from .budget import MAX_NESTING, Budget
from .context import Bindings, Evaluator, Src, layered
from .edges import EdgeDecl
from .estimate import Estimator
from .expressions import suggest
from .instances import expand_instance
from .names import NAME_RULE, is_identifier, shown
from .params import duration_ms, is_duration_text
from .plugins import PluginScope
from .scope import AliasT, CopiesT, InstT, NodeT, Ref, Table

RESERVED = {"name", "op", "block", "layers", "in", "repeat", "foreach", "when", "doc", "share", "params_at"}
MAX_COPIES = 100_000

Link = Ref | str  # a reference to resolve later, or an already known path


def snake(name: str) -> str:
    """``LeakyReLU`` -> ``leaky_relu``, ``BatchNorm2d`` -> ``batch_norm2d``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])(?=[a-z])", r"_\1", name.split(".")[-1]).lower()


def valid_name(name: Any) -> bool:
    """An identifier, or a child number as torch.nn.Sequential uses (``downsample.0``)."""
    if isinstance(name, int) and not isinstance(name, bool):
        return name >= 0
    return isinstance(name, str) and (name.isdigit() or is_identifier(name))


@dataclass
class PendingShare:
    """A `share:` whose target is still a reference; ``scope``: the sharing side is a scope."""

    site: str
    ref: Ref
    scope: bool


@dataclass
class PendingIn:
    """A connection whose source is still a reference."""

    conn: Conn
    link: Link


class Expander:
    def __init__(self, graph: Graph, blocks: dict[str, BlockDef], diags: Diagnostics, ev: Evaluator,
                 plugins: PluginScope | None = None) -> None:
        self.g = graph
        self.plugins = plugins or PluginScope()
        self.blocks = blocks
        self.diags = diags
        self.ev = ev
        self.pending: list[PendingIn] = []
        self.edges: list[EdgeDecl] = []
        self.shares: list[PendingShare] = []
        self._stack: list[str] = []
        self._counters: dict[int, dict[str, int]] = {}
        self.creation: dict[str, int] = {}
        self.budget = Budget(diags)
        self.estimate = Estimator(self.budget.max_work + 1)
        #: ids of the block definitions whose names were checked (MS014)
        self.checked_blocks: set[int] = set()
        self._depth = 0  # `layers` lists being expanded, one inside the other
        #: id of each pending connection -> the link it will resolve to (for `in.shape`, expand/inshape.py)
        self.link_of: dict[int, Link] = {}
        self.peek: Any = None  # the ShapePeek of this expansion, made on the first `in.shape`
        self.shape_reads: list[Any] = []  # the InputShapes read, checked once every name is final

    # ---- lists -------------------------------------------------------------
    def expand_list(self, items: Any, src: Src, table: Table, prefix: str, env: Mapping[str, Any],
                    prev: Link | None, namespace: dict[str, BlockDef]) -> Link | None:
        """Expand a ``layers`` list; returns the link to its last value."""
        if not isinstance(items, list):
            return prev
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                self.budget.stop(src, f"groups and blocks nest more than {MAX_NESTING} levels deep here",
                                 "flatten the nesting: a block may use a block, but not a hundred deep")
            for k, item in enumerate(items):
                prev = self.expand_item(item, src.at(k), table, prefix, env, prev, namespace)
        finally:
            self._depth -= 1
        return prev

    def expand_item(self, item: Any, src: Src, table: Table, prefix: str, env: Mapping[str, Any],
                    prev: Link | None, namespace: dict[str, BlockDef]) -> Link | None:
        self.budget.charge(src, "this item")
        if isinstance(item, str):
            item = {"op": item}
            bare = True
        elif isinstance(item, dict):
            bare = False
        else:
            self.diags.add("MS012", f"a node must be an op name or a mapping, got {item!r}", src.pos())
            return prev
        name = item.get("name")
        if isinstance(name, str) and "${" in name:
            ok, name = self.ev.value(name, env, src.at("name"))
            if not ok:
                return prev
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if name is not None:
            item = dict(item, name=name)
        if "when" in item:
            ok, keep = self.ev.value(item["when"], env, src.at("when"))
            if ok and not isinstance(keep, bool):
                self.diags.add("MS012", f"`when` must be true or false, got {keep!r}", src.at("when").pos())
            if ok and keep is False:
                through = prev
                if "in" in item and not isinstance(item["in"], list):
                    got = self.in_item(item["in"], src.at("in"), table, env)
                    through = got[0] if got else prev
                if valid_name(name) and through is not None:  # a kept node of the name replaces it
                    table.define(name, AliasT(through), src.pos(), self.diags, weak=True)
                return prev
        if "repeat" in item or "foreach" in item:
            return self._copies(item, src, table, prefix, env, prev, namespace)
        return self._single(item, src, table, prefix, env, prev, namespace, bare=bare)

    # ---- repeat and foreach ---------------------------------------------
    def _copies(self, item: dict[str, Any], src: Src, table: Table, prefix: str, env: Mapping[str, Any],
                prev: Link | None, namespace: dict[str, BlockDef]) -> Link | None:
        bindings = self._copy_bindings(item, src, env)
        if bindings is None:
            return prev
        body = {k: v for k, v in item.items() if k not in ("repeat", "foreach", "when")}
        name = item.get("name")
        if name is not None and not self._check_name(name, src):
            return prev
        what = "this `repeat`" if "repeat" in item else "this `foreach`"
        at = src.at("repeat" if "repeat" in item else "foreach")
        self.budget.ahead(at, what, len(bindings) * (1 + self.estimate.body(body, namespace)))
        # copies that cannot differ: the first one's cost is every one's (see _copy_done)
        n = len(bindings) if bindings and self.estimate.uniform(body, set(bindings[0])) else 0
        if name is None:
            if "layers" in body:  # unnamed group: copies inline into this scope
                for k, b in enumerate(bindings):
                    start = self._copy_start(at, what)
                    prev = self._group_body(body, src, table, prefix, layered(b, env), prev, namespace)
                    self._copy_done(at, what, start, k, n)
                return prev
            name = self._auto_name(table, body, env, src)
        copies = []
        self.g.scopes[prefix + name] = Scope(prefix + name, "repeat", "", src.pos(), item.get("doc"))
        for k, b in enumerate(bindings):
            start = self._copy_start(at, what)
            sub = Table(f"copy `{prefix}{name}.{k}`", parent=table)
            copy = dict(body, name=str(k))
            prev = self._single(copy, src, sub, f"{prefix}{name}.", layered(b, env), prev, namespace, copy_of=name)
            copies.append(sub.names.get(str(k)) or AliasT(prev if prev is not None else Ref(name, table)))
            self._copy_done(at, what, start, k, n)
        table.define(name, CopiesT(copies), src.pos(), self.diags)
        return prev

    def _copy_start(self, at: Src, what: str) -> tuple[int, int]:
        self.budget.charge(at, what)
        return self.budget.work, self.budget.nodes

    def _copy_done(self, at: Src, what: str, start: tuple[int, int], k: int, n: int) -> None:
        """After the first of `n` alike copies: fail now if the others, as costly, cannot fit."""
        if k == 0 and n > 1:
            self.budget.fits(at, what, n - 1, self.budget.work - start[0] + 1, self.budget.nodes - start[1])

    def _copy_bindings(self, item: dict[str, Any], src: Src, env: Mapping[str, Any]) -> list[Bindings] | None:
        if "repeat" in item and "foreach" in item:
            self.diags.add("MS036", "a node takes `repeat` or `foreach`, not both", src.at("foreach").pos(key=True))
            return None
        if "repeat" in item:
            raw_n, at = item["repeat"], src.at("repeat")
            index = "i"
            if isinstance(raw_n, dict):  # {count: N, index: j}
                raw_n, index, at = raw_n.get("count"), raw_n.get("index", "i"), at.at("count")
                if not is_identifier(index):
                    self.diags.add("MS014", f"copy index `{shown(index)}` is not a valid name: {NAME_RULE}",
                                   src.at("repeat", "index").pos())
                    return None
            ok, n = self.ev.value(raw_n, env, at)
            if not ok:
                return None
            if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n > MAX_COPIES:
                self.diags.add("MS012", f"`repeat` must be an integer from 0 to {MAX_COPIES}, got {n!r}", at.pos())
                return None
            what = {index: f"the copy index of the `repeat` at line {src.at('repeat').pos(key=True).line}"}
            return [Bindings({index: k}, what, env) for k in range(n)]
        spec = item["foreach"]
        index = "i"
        if isinstance(spec, dict) and len(spec) == 2 and isinstance(spec.get("index"), str):
            index = spec["index"]  # {VAR: LIST, index: j}
            if not is_identifier(index):
                self.diags.add("MS014", f"copy index `{shown(index)}` is not a valid name: {NAME_RULE}",
                               src.at("foreach", "index").pos())
                return None
            spec = {k: v for k, v in spec.items() if k != "index"}
        if not isinstance(spec, dict) or len(spec) != 1:
            self.diags.add("MS012", "`foreach` takes one mapping VAR: LIST, e.g. `foreach: {h: \"${hidden}\"}`, "
                           "and may name its index: `{h: \"${hidden}\", index: j}`", src.at("foreach").pos())
            return None
        (var, raw), = spec.items()
        if var == index and "index" in item["foreach"]:  # without `index:`, `{i: LIST}` keeps its old meaning
            self.diags.add("MS012", f"`foreach` binds `{shown(var)}` twice: as its variable and as its index",
                           src.at("foreach", "index").pos())
            return None
        ok, values = self.ev.value(raw, env, src.at("foreach", var))
        if not ok:
            return None
        if not isinstance(values, list) or len(values) > MAX_COPIES:
            self.diags.add("MS012", f"`foreach` needs a list to loop over, got {values!r}",
                           src.at("foreach", var).pos())
            return None
        if not is_identifier(var):
            self.diags.add("MS014", f"loop variable `{shown(var)}` is not an identifier",
                           src.at("foreach", var).pos(key=True))
            return None
        line = src.at("foreach").pos(key=True).line
        what = {var: f"the variable of the `foreach` at line {line}", index: f"the index of the `foreach` at line {line}"}
        return [Bindings({var: v, index: k}, what, env) for k, v in enumerate(values)]

    # ---- one node ----------------------------------------------------------
    def _single(self, item: dict[str, Any], src: Src, table: Table, prefix: str, env: Mapping[str, Any],
                prev: Link | None, namespace: dict[str, BlockDef], *, bare: bool = False,
                copy_of: str | None = None) -> Link | None:
        # `layers` beside `op` is the op's attribute (LSTM{features, layers})
        kinds = [k for k in ("op", "block", "layers") if k in item and not (k == "layers" and "op" in item)]
        if len(kinds) > 1:
            self.diags.add("MS036", "a node is an op, a block instance or a group, but this one has "
                           + " and ".join(f"`{k}`" for k in kinds), src.pos())
            return prev
        if not kinds:
            self.diags.add("MS010", "missing required key `op` (or `block`, or `layers` for a group)", src.pos(),
                           suggestion=self._attr_hint(item))
            return prev
        name = item.get("name")
        if name is not None and copy_of is None and not self._check_name(name, src):
            return prev
        if kinds[0] == "layers":
            return self._group(item, src, table, prefix, env, prev, namespace)
        field = kinds[0]
        what = item[field]
        if not isinstance(what, str) or "${" in what:  # a plain name is its own value (most nodes)
            ok, what = self.ev.value(what, env, src.at(field) if not bare else src)
            if not ok:
                return prev
        if not isinstance(what, str):
            self.diags.add("MS012", f"`{field}` must name an op or block, got {what!r}", src.at(field).pos())
            return prev
        if field == "block" or (what in namespace and get_op(what) is None):
            return self._instance(what, item, src, table, prefix, env, prev, namespace, field)
        return self._op_node(what, item, src, table, prefix, env, prev, namespace, field, bare)

    def _attr_hint(self, item: dict[str, Any]) -> str | None:
        for k in item:
            hint = did_you_mean(k, ["op", "block", "layers"]) if k not in RESERVED else None
            if hint:
                return hint
        return None

    def _op_node(self, op_name: str, item: dict[str, Any], src: Src, table: Table, prefix: str,
                 env: Mapping[str, Any], prev: Link | None, namespace: dict[str, BlockDef], field: str,
                 bare: bool) -> Link | None:
        op, hint = self.plugins.lookup(op_name)
        if op is None and (hint or not self.plugins.defer(op_name)):
            where = src if bare else src.at(field)
            self.diags.add("MS030", f"unknown op `{op_name}`", where.pos(),
                           suggestion=hint or suggest(op_name, list(op_names()) + list(namespace), self.ev.meter))
        # an unknown op still makes a node (without attrs): references to it resolve, and shape
        # inference treats it and what it feeds as unknown instead of reporting follow-on errors
        name = item.get("name")
        if name is None:
            name = self._auto_name(table, item, env, src, op_name)
        path = prefix + str(name)
        raw_attrs = {k: v for k, v in item.items() if k not in RESERVED or k == "layers"}
        attrs = self.op_attrs(op, raw_attrs, src, env) if op is not None else None  # None: left unchecked
        at = src.pos()
        inputs = self._inputs(item, src, table, env, prev, path, at)
        node = Node(path, op_name, attrs, [], at, item.get("doc"))
        for link, delay, pos in inputs:
            conn = Conn("", self.delay_steps(delay, pos), pos)
            node.inputs.append(conn)
            self.pending.append(PendingIn(conn, link))
            self.link_of[id(conn)] = link
        if table.define(str(name), NodeT(path), at, self.diags):
            self.add_node(node)
            self.weight_keys(item, src, table, env, prefix, path, None)
        return path

    def weight_keys(self, item: dict[str, Any], src: Src, table: Table, env: Mapping[str, Any], prefix: str,
                    path: str, scope: Scope | None) -> None:
        """`share:` and `params_at:` of an op node (``scope`` None) or of a block instance or group."""
        if "share" in item and "params_at" in item:
            self.diags.add("MS074", "a node takes `share` (use another node's parameters) or `params_at` (where "
                           "its own live), not both", src.at("params_at").pos(key=True))
            return
        if "share" in item:
            ok, target = self.ev.value(item["share"], env, src.at("share"))
            if ok and (not isinstance(target, str) or not all(valid_name(q) for q in target.split("."))):
                self.diags.add("MS070", f"`share` names the node (or block instance) whose parameters to use, "
                               f"got {target!r}", src.at("share").pos())
            elif ok:
                self.shares.append(PendingShare(path, Ref(target, table, src.at("share").pos()), scope is not None))
        if "params_at" in item:
            at = self.params_path(item["params_at"], src.at("params_at"), env, prefix, scope is None)
            if at is None:
                return
            if scope is None:
                node = self.g.nodes[path]
                node.params_at, node.params_at_pos = at, src.at("params_at").pos()
            else:
                scope.params_at = at

    def params_path(self, raw: Any, src: Src, env: Mapping[str, Any], prefix: str, named: bool) -> str | None:
        """An absolute module path from a `params_at` value, relative to ``prefix`` (``.``: the scope itself)."""
        ok, rel = self.ev.value(raw, env, src)
        if not ok:
            return None
        if rel == ".":
            at = prefix[:-1]
            if not at and named:
                self.diags.add("MS074", "`params_at: .` names the model itself, which cannot hold one op's "
                               "parameters", src.pos(), suggestion="give them a name: `params_at: NAME`")
                return None
            return at
        if not isinstance(rel, str) or not rel or not all(valid_name(q) for q in rel.split(".")):
            self.diags.add("MS074", f"`params_at` is a dotted path of names, relative to the enclosing scope "
                           f"(`.` for the scope itself), got {rel!r}", src.pos())
            return None
        return prefix + rel

    def delay_steps(self, value: Any, pos: Any) -> int:
        """A delay in steps from an int or a duration (divided by ``time.dt``)."""
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 0:
                self.diags.add("MS045", f"a delay cannot be negative, got {value}", pos)
                return 0
            if value > MAX_STEPS:
                self.diags.add("MS045", f"a delay of {fmt_int(value)} steps is more than the {MAX_STEPS:,} "
                               "steps a time model may have", pos)
                return 0
            return value
        ms = duration_ms(value) if isinstance(value, str) else None
        if ms is None or not math.isfinite(ms):
            self.diags.add("MS045", f"a delay is a whole number of steps or a duration such as \"6ms\", got {value!r}",
                           pos)
            return 0
        if self.g.time is None:
            self.diags.add("MS042", f"the duration {value!r} needs `time: {{dt: ...}}` to become steps", pos)
            return 0
        steps = ms / self.g.time.dt
        if not math.isfinite(steps) or abs(steps) > MAX_STEPS:
            self.diags.add("MS045", f"the duration {value!r} is {steps:g} steps of dt={self.g.time.dt:g} ms, more "
                           f"than the {MAX_STEPS:,} steps a time model may have", pos)
            return 0
        if abs(steps - round(steps)) > 1e-9:
            self.diags.add("MS043", f"the duration {value!r} is {steps:g} steps of dt={self.g.time.dt:g} ms; "
                           f"rounded to {round(steps)}", pos)
        if steps < 0:
            self.diags.add("MS045", f"a delay cannot be negative, got {value!r}", pos)
            return 0
        return int(round(steps))

    def add_node(self, node: Node) -> None:
        self.budget.node(node.pos)
        if node.path in self.g.nodes:
            self.diags.add("MS035", f"two nodes have the path `{node.path}`", node.pos)
            return
        self.creation[node.path] = len(self.creation)
        self.g.nodes[node.path] = node

    def op_attrs(self, op: Any, raw: dict[str, Any], src: Src, env: Mapping[str, Any]) -> Any:
        ok, values = self.ev.value(raw, env, src)
        if not ok:
            return None
        huge = list(big_ints(values))
        for path, v in huge:
            self.diags.add("MS012", f"`{path[0]}` of {op.name}: {fmt_int(v)} is larger than {MAX_INT:,} "
                           "(2**63-1), the largest size torch and jax can hold", src.at(*path).pos())
        if huge:
            return None
        for k, v in list(values.items()):
            if is_duration_text(v) and "float" in str(op.Attrs.annotation(k)):
                values[k] = duration_ms(v)
        try:
            return op.Attrs.model_validate(values)
        except Exception as exc:
            from pydantic import ValidationError  # lazy: only a wrong attribute needs pydantic's errors

            if not isinstance(exc, ValidationError):
                raise
            fields = op.Attrs.field_names()
            unknown = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden" and e["loc"]]
            meant = {did_you_mean(k, list(fields)) for k in unknown}
            for err in exc.errors():
                if err["type"] == "missing" and err["loc"] and f"did you mean `{err['loc'][0]}`?" in meant:
                    continue  # the misspelt key's own message says it
                path = data_path(values, err["loc"])
                key = str(path[0]) if path else (str(err["loc"][0]) if err["loc"] else "")
                if err["type"] == "extra_forbidden":
                    self.diags.add("MS011", f"`{key}` is not an attribute of {op.name}", src.at(key).pos(key=True),
                                   suggestion=did_you_mean(key, list(fields)) or _attr_list(op))
                elif err["type"] == "missing":
                    self.diags.add("MS010", f"{op.name} needs the attribute `{key}`", src.pos(),
                                   suggestion=_attr_list(op))
                else:
                    msg = err["msg"]
                    label = f"`{key}` of {op.name}" if key else op.name
                    self.diags.add("MS012", f"{label}: {msg[0].lower() + msg[1:]}, got {err.get('input')!r}",
                                   src.at(*path).pos() if path else src.pos())
            return None

    def _inputs(self, item: dict[str, Any], src: Src, table: Table, env: Mapping[str, Any],
                prev: Link | None, path: str, at: Any) -> list[tuple[Link, int | str, Any]]:
        """The node's inputs as (link, delay, position); ``at`` is the node's own position (``src.pos()``),
        where the input of a node that reads the one before it is."""
        if "in" not in item:
            if prev is None:
                self.diags.add("MS040", f"`{path}` has no input: nothing comes before it and it has no `in`", at)
                return []
            return [(prev, 0, at)]
        raw = item["in"]
        s = src.at("in")
        if isinstance(raw, dict) and "from" not in raw:
            self.diags.add("MS012", "`in` of an op is a name or a list of names; ports (`{x: a}`) are for blocks",
                           s.pos())
            return []
        items = raw if isinstance(raw, list) else [raw]
        out = []
        for k, it in enumerate(items):
            s_k = s.at(k) if isinstance(raw, list) else s
            got = self.in_item(it, s_k, table, env)
            if got:
                out.append(got)
        return out

    def in_item(self, it: Any, s: Src, table: Table, env: Mapping[str, Any]) -> tuple[Link, Any, Any] | None:
        """One ``in`` entry: ``NAME`` or ``{from: NAME, delay: D}``."""
        delay: Any = 0
        if isinstance(it, dict):
            extra = set(it) - {"from", "delay"}
            for k in sorted(extra):
                self.diags.add("MS011", f"unknown key `{k}` in an input", s.at(k).pos(key=True),
                               suggestion=did_you_mean(k, ["from", "delay"]))
            if "from" not in it:
                self.diags.add("MS010", "missing required key `from` in an input", s.pos())
                return None
            ok, delay = self.ev.value(it.get("delay", 0), env, s.at("delay"))
            if not ok:
                return None
            name_src, it = s.at("from"), it["from"]
        else:
            name_src = s
        ok, name = self.ev.value(it, env, name_src)
        if not ok:
            return None
        if not isinstance(name, str) or not all(valid_name(p) or p.isdigit() for p in name.split(".")):
            self.diags.add("MS012", f"an input must name a node, got {name!r}", name_src.pos())
            return None
        return Ref(name, table, name_src.pos()), delay, s.pos()

    # ---- groups and block instances --------------------------------------
    def _group(self, item: dict[str, Any], src: Src, table: Table, prefix: str, env: Mapping[str, Any],
               prev: Link | None, namespace: dict[str, BlockDef]) -> Link | None:
        name = item.get("name")
        if name is None:
            return self._group_body(item, src, table, prefix, env, prev, namespace)
        sub = Table(f"group `{prefix}{name}`", parent=table)
        scope = Scope(prefix + str(name), "group", "", src.pos(), item.get("doc"))
        self.g.scopes[prefix + str(name)] = scope
        self.weight_keys(item, src, table, env, prefix, scope.path, scope)
        first = self._group_in(item, src, table, env, prev)
        last = self.expand_list(item["layers"], src.at("layers"), sub, f"{prefix}{name}.", env, first, namespace)
        # a named group is a scope (`stem.conv`), and its names are visible in the enclosing
        # scope by their short names while no other group there has them (docs/language.md, section 3)
        table.share(str(name), sub)
        table.define(str(name), InstT(sub, last, path=scope.path), src.pos(), self.diags)
        return last

    def _group_body(self, item: dict[str, Any], src: Src, table: Table, prefix: str, env: Mapping[str, Any],
                    prev: Link | None, namespace: dict[str, BlockDef]) -> Link | None:
        for key in ("share", "params_at"):
            if key in item:
                self.diags.add("MS070" if key == "share" else "MS074", f"`{key}` on an unnamed group: it has no "
                               "scope of its own", src.at(key).pos(key=True),
                               suggestion="name the group, or put the key on its nodes")
        first = self._group_in(item, src, table, env, prev)
        return self.expand_list(item["layers"], src.at("layers"), table, prefix, env, first, namespace)

    def _group_in(self, item: dict[str, Any], src: Src, table: Table, env: Mapping[str, Any],
                  prev: Link | None) -> Link | None:
        if "in" not in item:
            return prev
        raw = item["in"]
        if isinstance(raw, list):
            self.diags.add("MS012", "a group takes one input; name it in `in` or in its first node",
                           src.at("in").pos())
            return prev
        got = self.in_item(raw, src.at("in"), table, env)
        if got is None:
            return prev
        if got[1] != 0:
            self.diags.add("MS012", "a group's `in` cannot carry a delay; put it on the first node's `in`",
                           src.at("in").pos())
        return got[0]

    def _instance(self, bname: str, item: dict[str, Any], src: Src, table: Table, prefix: str,
                  env: Mapping[str, Any], prev: Link | None, namespace: dict[str, BlockDef],
                  field: str) -> Link | None:
        return expand_instance(self, bname, item, src, table, prefix, env, prev, namespace, field)

    # ---- names -------------------------------------------------------------
    def _check_name(self, name: Any, src: Src) -> bool:
        if valid_name(name):
            return True
        self.diags.add("MS014", f"`{shown(name)}` is not a valid name: {NAME_RULE}", src.at("name").pos())
        return False

    def _auto_name(self, table: Table, item: dict[str, Any], env: Mapping[str, Any], src: Src,
                   op_name: str | None = None) -> str:
        base = op_name or item.get("op") or item.get("block") or "group"
        if isinstance(base, str) and "${" in base:
            ok, base = self.ev.value(base, env, src)
            base = base if ok and isinstance(base, str) else "node"
        stem = snake(str(base)) or "node"
        counters = self._counters.setdefault(id(table), {})
        while True:
            n = counters.get(stem, 0)
            counters[stem] = n + 1
            candidate = f"{stem}_{n}"
            if candidate not in table.names and candidate not in table.shared:
                return candidate


def _attr_list(op: Any) -> str | None:
    names = op.Attrs.field_names()
    return ("attributes of " + op.name + ": " + ", ".join(f"`{n}`" for n in names)) if names \
        else f"{op.name} takes no attributes"

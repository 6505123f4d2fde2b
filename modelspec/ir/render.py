"""`modelspec render`: the fully expanded spec, every default filled in.

The output is itself a valid spec that compiles to the same IR: the same node
paths, ops, attributes, shapes, parameter names and edges.  Params,
expressions, `repeat`, `foreach`, `when` and imports are gone; what remains is
every node with every attribute and an explicit `in`.

Why generated blocks: paths such as `layer1.0.conv1` need scopes, and only a
block instance gives a scope its own names (two areas may both have a
`conv`).  So every scope of the IR (block instance, group, repeat, an edge's
`via` block) becomes one block, named after its path (`BasicBlock_layer1_0`);
whatever a scope reads from outside comes in through a port, so each block
is self-contained.  A repeat becomes a block whose nodes are named 0, 1, ...;
that is also why a re-compiled render reports every scope as kind `block`.
Adapters are not written: `adapt: auto` creates them again, with the same names.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from typing import Any

import yaml

from ..ir.graph import Edge, Graph
from ..shapes.dims import is_symbol
from .infer import full_output_shape

class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line (`{name: conv, op: Conv2d, ...}`) in YAML."""


class _FlowList(list):  # type: ignore[type-arg]
    """A list written on one line (`inputs: [x, y]`) in YAML."""


class _Dumper(yaml.SafeDumper):
    pass


def _str(d: yaml.SafeDumper, s: str) -> yaml.Node:
    """Text with line breaks (docs) as a literal block, everything else as PyYAML would."""
    if "\n" in s:
        return d.represent_scalar("tag:yaml.org,2002:str", s, style="|")
    return d.represent_str(s)


_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                                                    flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, data: d.represent_sequence("tag:yaml.org,2002:seq", data,
                                                                        flow_style=True))
_Dumper.add_representer(str, _str)


def _plain(v: Any) -> Any:
    """JSON/YAML-safe values: tuples become lists, mappings plain dicts."""
    if isinstance(v, _Flow):
        return _Flow((k, _plain(x)) for k, x in v.items())
    if isinstance(v, _FlowList):
        return _FlowList(_plain(x) for x in v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        items = [_plain(x) for x in v]
        return _FlowList(items) if all(not isinstance(x, (dict, list)) for x in items) else items
    return v


def _inside(scope: str, path: str) -> bool:
    return scope == "" or path.startswith(scope + ".")


def _local(scope: str, path: str) -> str:
    return path[len(scope) + 1:] if scope else path


def _name_value(name: str) -> int | str:
    """Child numbers (`downsample.0`) are written as ints, as a spec author would."""
    return int(name) if name.isdigit() else name


class _Renderer:
    def __init__(self, g: Graph) -> None:
        self.g = g
        self.via_of = {f"{e.name}.via": e for e in g.edges}
        self.members: dict[str, list[str]] = {"": [], **{s: [] for s in g.scopes}}
        self.declared: dict[str, list[Edge]] = {s: [] for s in self.members}
        for p, n in g.nodes.items():
            if n.role == "adapter" or p in self.via_of:
                continue
            self.members[self._parent(p)].append(p)
        for s in g.scopes:
            if s not in self.via_of:
                self.members[self._parent(s)].append(s)
        for e in g.edges:
            self.declared[self._declaring_scope(e)].append(e)
        key = {p: g.creation.get(p, len(g.creation)) for p in g.nodes}
        for p in g.nodes:  # a scope sorts where its first node was made
            q = p
            while "." in q:
                q = q.rpartition(".")[0]
                if q in g.scopes:
                    key[q] = min(key.get(q, key[p]), key[p])
        for m in self.members.values():
            m.sort(key=lambda p: (key.get(p, len(g.creation)), p))
        self.ports: dict[str, dict[str, str]] = {}
        self.offset: dict[str, dict[str, int]] = {}
        self.block_names: dict[str, str] = {}
        self.blocks: dict[str, Any] = {}
        self._external: dict[str, list[str]] = {}

    def _parent(self, path: str) -> str:
        p = path
        while "." in p:
            p = p.rpartition(".")[0]
            if p in self.g.scopes:
                return p
        return ""

    @staticmethod
    def _declaring_scope(e: Edge) -> str:
        head = e.name.rpartition(".")[0]  # "V1.edges" or "edges"
        return head.rpartition(".")[0] if "." in head else ""

    # ---- ports -------------------------------------------------------------
    def external(self, space: str) -> list[str]:
        """Sources a scope reads from outside itself, in first-use order (its ports)."""
        if space in self._external:
            return self._external[space]
        out: dict[str, None] = {}
        via = self.via_of.get(space)
        if via is not None:
            out[via.source] = None  # the via port comes first: the edge binds it
        for m in self.members[space]:
            if m in self.g.nodes:
                n = self.g.nodes[m]
                srcs = [c.source for c in n.inputs] + ([n.owner] if n.owner and n.params_at is None else [])
            else:
                srcs = self.external(m)
            for p in srcs:
                if not _inside(space, p):
                    out[p] = None
        for e in self.declared[space]:
            for p in (e.source, e.target):
                if not _inside(space, p):
                    out[p] = None
        self._external[space] = list(out)
        return self._external[space]

    def _port_names(self, space: str, parent: str, sources: list[str]) -> dict[str, str]:
        """A port is named after what it reads, as the parent scope names it (`add`, `relu_1`)."""
        taken = {_local(space, m).split(".")[0] for m in self.members[space]}
        names: dict[str, str] = {}
        for src in sources:
            base = re.sub(r"\W", "_", self.ref(parent, src))
            if not is_symbol(base) or keyword.iskeyword(base):
                base = "in_" + base
            name, k = base, 1
            while name in taken:
                k += 1
                name = f"{base}_in" if k == 2 else f"{base}_in{k - 1}"
            taken.add(name)
            names[src] = name
        return names

    def ref(self, space: str, path: str) -> str:
        """How ``space``'s body names ``path``: a relative path inside, a port outside."""
        if _inside(space, path):
            return _local(space, path)
        return self.ports[space][path]

    def conn(self, space: str, source: str, delay: int) -> Any:
        delay -= self.offset[space].get(source, 0) if not _inside(space, source) else 0
        r = self.ref(space, source)
        return {"from": r, "delay": delay} if delay else r

    # ---- bodies ------------------------------------------------------------
    def space(self, space: str, offset: dict[str, int]) -> tuple[list[Any], list[Any]]:
        """The `layers` and `edges` of one scope; child scopes become blocks on the way."""
        self.offset[space] = offset
        layers: list[Any] = []
        for m in self.members[space]:
            if m in self.g.nodes:
                layers.append(self.node(space, m))
            else:
                layers.append(self.instance(space, m, offset))
        edges = [self.edge(space, e) for e in self.declared[space]]
        return layers, edges

    def node(self, space: str, path: str) -> _Flow:
        n = self.g.nodes[path]
        item = _Flow(name=_name_value(_local(space, path)), op=n.op)
        item.update(n.attrs.model_dump(mode="json") if n.attrs is not None else {})
        ins = [self.conn(space, c.source, c.delay) for c in n.inputs]
        if ins:
            item["in"] = ins[0] if len(ins) == 1 else ins
        if n.owner and n.params_at is None:  # placed nodes share by their path alone
            item["share"] = self.ref(space, n.owner)
        if n.params_at is not None:
            item["params_at"] = self.placed(space, n.params_at)
        if n.doc:
            item["doc"] = n.doc
        return item

    @staticmethod
    def placed(space: str, at: str) -> str:
        """An absolute `params_at` as the spec wrote it: relative to ``space``, `.` for ``space`` itself."""
        return "." if at == space else _local(space, at)

    def define_block(self, space: str, parent: str, offset: dict[str, int]) -> str:
        """Write the block for a scope (its ports first) and return its name."""
        sources = self.external(space)
        self.ports[space] = self._port_names(space, parent, sources)
        via = self.via_of.get(space)
        inner = dict(offset)
        if via is not None:
            inner[via.source] = via.delay  # the edge delays what comes through the via port
        sc = self.g.scopes[space]
        stem = re.sub(r"\W", "_", f"{sc.label or sc.kind.capitalize()}_{space}")
        name, k = stem, 1
        while name in self.blocks:
            k += 1
            name = f"{stem}_{k}"
        self.block_names[space] = name
        self.blocks[name] = None  # reserve: children are written after their parent
        layers, edges = self.space(space, inner)
        body: dict[str, Any] = {}
        if sc.doc:
            body["doc"] = sc.doc
        body["inputs"] = _FlowList(self.ports[space].values() or ["unused_in"])
        body["layers"] = layers
        if edges:
            body["edges"] = edges
        self.blocks[name] = body
        return name

    def instance(self, parent: str, space: str, offset: dict[str, int]) -> _Flow:
        name = self.define_block(space, parent, offset)
        item = _Flow(name=_name_value(_local(parent, space)), block=name)
        ports = {port: self.ref(parent, src) for src, port in self.ports[space].items()}
        if ports:
            item["in"] = ports
        at = self.g.scopes[space].params_at
        if at is not None:
            item["params_at"] = self.placed(parent, at)
        return item

    def edge(self, space: str, e: Edge) -> _Flow:
        delay = e.delay - (0 if _inside(space, e.source) else self.offset[space].get(e.source, 0))
        item = _Flow(name=e.name.rpartition(".")[2], **{"from": self.ref(space, e.source)},
                     to=self.ref(space, e.target), delay=delay)
        via = f"{e.name}.via"
        if via in self.g.scopes:
            item["via"] = {"block": self.define_block(via, space, self.offset[space])}
        elif via in self.g.nodes:
            n = self.g.nodes[via]
            item["via"] = {"op": n.op, **(n.attrs.model_dump(mode="json") if n.attrs is not None else {})}
        item["adapt"] = e.adapt
        item["kind"] = e.kind
        if e.params_at is not None:
            item["params_at"] = self.placed(space, e.params_at)
        return item


def expanded(g: Graph) -> dict[str, Any]:
    """The expanded spec as plain data (key order as in docs/language.md, section 1)."""
    r = _Renderer(g)
    out: dict[str, Any] = {"modelspec": 1, "name": g.name}
    if g.doc:
        out["doc"] = g.doc
    if g.params:
        out["params"] = g.params
    if g.plugins:
        out["plugins"] = list(g.plugins)
    if g.time is not None:
        out["time"] = _Flow(steps=g.time.steps, dt=g.time.dt, idle=g.time.idle)
    inputs: dict[str, Any] = {}
    for t in g.inputs.values():
        term: dict[str, Any] = {"shape": list(t.shape), "dtype": t.dtype}
        if g.time is not None:
            term["static"] = t.static
        if t.doc:
            term["doc"] = t.doc
        inputs[t.name] = _Flow(term)
    out["inputs"] = inputs
    outputs: dict[str, Any] = {}
    for o in g.outputs.values():
        term = {"from": o.source}
        if o.shape is not None:
            full = full_output_shape(g, o.shape, o.steps)
            if all(isinstance(d, int) or is_symbol(d) for d in full):
                term["shape"] = list(full)
        if g.time is not None:
            term["steps"] = o.steps
        outputs[o.name] = _Flow(term)
    out["outputs"] = outputs
    r.ports[""] = {}
    layers, edges = r.space("", {})
    if r.blocks:
        out["blocks"] = r.blocks
    out["layers"] = layers
    if edges:
        out["edges"] = edges
    if g.train:
        out["train"] = g.train
    return _plain(out)


def render_spec(g: Graph, fmt: str) -> str:
    """The expanded spec as YAML (one node per line) or JSON."""
    data = expanded(g)
    if fmt == "json":
        return json.dumps(data, indent=2, default=str)
    if fmt != "yaml":
        print(f"error: --format must be one of yaml, json, not {fmt!r}", file=sys.stderr)
        raise SystemExit(2)
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110,
                     default_flow_style=False)
    return text.rstrip("\n")

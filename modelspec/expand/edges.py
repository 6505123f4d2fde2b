"""Edges (docs/language.md, section 6): a `via` chain of nodes and a pending `Edge`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from ..ir.graph import Edge
from .blocks import BlockDef
from .context import Src
from .names import check_identifier
from .scope import AliasT, Ref, Table

if TYPE_CHECKING:
    from .expander import Expander

@dataclass
class EdgeDecl:
    """An `edges:` entry with the scope it was written in, resolved after every node exists."""

    raw: dict[str, Any]
    src: Src
    table: Table
    prefix: str
    env: Mapping[str, Any]
    namespace: dict[str, BlockDef]


EDGE_KEYS = {"from", "to", "delay", "via", "adapt", "kind", "name", "when", "doc", "params_at"}


@dataclass
class PendingEdge:
    edge: Edge
    source: Ref
    target: Ref
    out: Ref | str | None


def expand_edge(x: "Expander", decl: "EdgeDecl") -> PendingEdge | None:
    raw, src = decl.raw, decl.src
    x.budget.charge(src, "this edge")
    if raw.get("name") is not None and not check_identifier(raw["name"], "edge name", src.at("name"), x.diags,
                                                            key=False):
        return None
    if "when" in raw:
        ok, keep = x.ev.value(raw["when"], decl.env, src.at("when"))
        if ok and not isinstance(keep, bool):
            x.diags.add("MS012", f"`when` must be true or false, got {keep!r}", src.at("when").pos())
        if not ok or keep is not True:
            return None
    ok1, frm = x.ev.value(raw.get("from"), decl.env, src.at("from"))
    ok2, to = x.ev.value(raw.get("to"), decl.env, src.at("to"))
    ok3, delay_raw = x.ev.value(raw.get("delay", 0), decl.env, src.at("delay"))
    if not (ok1 and ok2 and ok3) or not isinstance(frm, str) or not isinstance(to, str):
        if ok1 and ok2 and (frm is not None and to is not None):
            x.diags.add("MS012", "an edge's `from` and `to` must name nodes", src.pos())
        return None
    delay = x.delay_steps(delay_raw, src.at("delay").pos() if "delay" in raw else src.pos())
    name = raw.get("name") or f"{frm}_to_{to}".replace(".", "_")
    base = f"{decl.prefix}edges.{name}"
    source = Ref(frm, decl.table, src.at("from").pos())
    target = Ref(to, decl.table, src.at("to").pos())
    edge = Edge(name=base, source="", target="", delay=delay, out="", kind="skip",
                declared_kind=raw.get("kind"), adapt=raw.get("adapt", "auto"), pos=src.pos())
    out: Ref | str | None = None
    chain: list[str] = []
    if raw.get("via") is not None:
        via = raw["via"]
        item: dict[str, Any] = {"op": via} if isinstance(via, str) else dict(via)
        item["name"] = "via"
        sub = Table(f"edge `{base}`")
        sub.define("__source", AliasT(source, delay), src.pos(), x.diags)
        before = set(x.g.nodes)
        if "in" in item:
            x.diags.add("MS011", "a `via` takes its input from the edge's source; remove `in`",
                        src.at("via", "in").pos(key=True))
            item.pop("in")
        out = x.expand_item(item, src.at("via"), sub, base + ".", decl.env, Ref("__source", sub), decl.namespace)
        chain = [p for p in x.g.nodes if p not in before]
        for p in chain:
            x.g.nodes[p].role = "via"
            x.g.nodes[p].edge = base
    edge.chain = chain
    if raw.get("params_at") is not None:
        if raw.get("via") is None:
            x.diags.add("MS074", "`params_at` places the parameters of an edge's `via`, and this edge has none",
                        src.at("params_at").pos(key=True), suggestion="remove it (adapters stay at `.adapt`)")
        else:
            via_is_op = f"{base}.via" in x.g.nodes
            edge.params_at = x.params_path(raw["params_at"], src.at("params_at"), decl.env, decl.prefix, via_is_op)
    return PendingEdge(edge, source, target, out)

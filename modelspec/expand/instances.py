"""Block instances: bind params and ports, expand the body in its own scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..diagnostics import did_you_mean
from ..ir.graph import Scope
from .blocks import BlockDef
from .context import Src, layered
from .edges import EdgeDecl
from .expressions import IN_KEY, suggest
from .inshape import InputShape
from .names import check_block_names, listing
from .params import TYPES, check_type
from .scope import AliasT, InstT, Ref, Table

if TYPE_CHECKING:
    from .expander import Expander, Link

RESERVED = {"name", "op", "block", "layers", "in", "repeat", "foreach", "when", "doc", "share", "params_at"}


def expand_instance(x: "Expander", bname: str, item: dict[str, Any], src: Src, table: Table, prefix: str,
                    env: Mapping[str, Any], prev: "Link | None", namespace: dict[str, BlockDef],
                    field: str) -> "Link | None":
    d = namespace.get(bname)
    where = src.at(field) if field in item else src
    if d is None:
        x.diags.add("MS031", f"unknown block `{bname}`", where.pos(),
                    suggestion=suggest(bname, namespace, x.ev.meter) or _known(namespace))
        return prev
    if d.qualname in x._stack or id(d) in {id(namespace.get(s)) for s in x._stack}:
        chain = " -> ".join(x._stack[x._stack.index(d.qualname):] + [d.qualname]) if d.qualname in x._stack \
            else " -> ".join(x._stack + [d.qualname])
        x.diags.add("MS032", f"block `{d.qualname}` uses itself: {chain}", where.pos(),
                    suggestion="a block cannot contain itself; use `repeat` to chain copies")
        return prev
    x.budget.charge(where, "this block instance")
    x.budget.ahead(where, f"this instance of block `{d.qualname}`", x.estimate.block(d))
    if id(d) not in x.checked_blocks:  # imported blocks too, located in their own file
        x.checked_blocks.add(id(d))
        check_block_names(d.name, d.raw, d.src, x.diags)
    name = item.get("name")
    if name is None:
        name = x._auto_name(table, item, env, src, d.name)
    path = prefix + str(name)
    bound = _bind_params(x, d, item, src, env)
    if bound is None:
        return prev
    sub = Table(f"block `{d.qualname}` (instance `{path}`)")
    ports = _bind_ports(x, d, item, src, table, env, prev, path)
    first_port = ports.get(d.inputs[0]) if d.inputs else None
    bound[IN_KEY] = InputShape(x, first_port[0] if first_port else None, src.pos(),
                               f"block `{d.qualname}` (instance `{path}`)")
    body_env = layered(bound, d.file_params)
    for port, (link, delay) in ports.items():
        sub.define(port, AliasT(link, delay), src.pos(), x.diags)
    scope = Scope(path, "block", d.qualname, src.pos(), item.get("doc") or d.raw.get("doc"))
    x.g.scopes[path] = scope
    x.weight_keys(item, src, table, env, prefix, path, scope)
    first = _first_link(ports, d, sub)
    x._stack.append(d.qualname)
    try:
        last = x.expand_list(d.raw.get("layers"), d.src.at("layers"), sub, path + ".", body_env, first,
                             d.namespace or namespace)
        for k, e in enumerate(d.raw.get("edges") or []):
            if isinstance(e, dict):
                x.edges.append(EdgeDecl(e, d.src.at("edges", k), sub, path + ".", body_env, d.namespace or namespace))
    finally:
        x._stack.pop()
    outputs: dict[str, Ref | str] = {}
    for port, target in (d.raw.get("outputs") or {}).items():
        outputs[port] = Ref(str(target), sub, d.src.at("outputs", port).pos())
    output = next(iter(outputs.values())) if outputs else last
    table.define(str(name), InstT(sub, output, outputs, path), src.pos(), x.diags)
    return output


def _bind_params(x: "Expander", d: BlockDef, item: dict[str, Any], src: Src,
                 env: Mapping[str, Any]) -> dict[str, Any] | None:
    bound: dict[str, Any] = {}
    ok_all = True
    given = {k: v for k, v in item.items() if k not in RESERVED}
    for k in given:
        if k not in d.params:
            x.diags.add("MS011", f"`{k}` is not a param of block `{d.qualname}`", src.at(k).pos(key=True),
                        suggestion=suggest(k, d.params, x.ev.meter) or _param_list(d))
            ok_all = False
    for pname, decl in d.params.items():
        if decl.type is not None and (not isinstance(decl.type, str) or decl.type not in TYPES):
            x.diags.add("MS012", f"param `{pname}` of block `{d.qualname}` has type {decl.type!r}; types are "
                        + ", ".join(sorted(TYPES)), d.src.at("params", pname, "type").pos(),
                        suggestion=did_you_mean(str(decl.type), TYPES))
            ok_all = False
            continue
        if pname in given:
            ok, value = x.ev.value(given[pname], env, src.at(pname))
            if not ok:
                ok_all = False
                continue
            problem = check_type(decl, value)
            if problem:
                x.diags.add("MS012", f"param `{pname}` of block `{d.qualname}` takes {problem}, got {value!r}",
                            src.at(pname).pos())
                ok_all = False
            bound[pname] = value
        elif decl.required:
            x.diags.add("MS033", f"block `{d.qualname}` needs the param `{pname}`", src.pos(),
                        suggestion=f"add `{pname}: ...` to this node")
            ok_all = False
        else:
            bound[pname] = decl.default
    return bound if ok_all else None


def _bind_ports(x: "Expander", d: BlockDef, item: dict[str, Any], src: Src, table: Table,
                env: Mapping[str, Any], prev: "Link | None", path: str) -> dict[str, "Link"]:
    ports: dict[str, Link] = {}
    raw = item.get("in")
    s = src.at("in")
    if raw is None:
        if prev is None:
            x.diags.add("MS040", f"`{path}` has no input: nothing comes before it and it has no `in`", src.pos())
        elif d.inputs:
            ports[d.inputs[0]] = (prev, 0)
    elif isinstance(raw, dict) and "from" not in raw:
        for port, it in raw.items():
            if port not in d.inputs:
                x.diags.add("MS033", f"block `{d.qualname}` has no input port `{port}`", s.at(port).pos(key=True),
                            suggestion=suggest(port, d.inputs, x.ev.meter) or f"ports: {listing(d.inputs)}")
                continue
            got = x.in_item(it, s.at(port), table, env)
            if got:
                ports[port] = _delayed(x, got)
    else:
        items = raw if isinstance(raw, list) else [raw]
        if len(items) > len(d.inputs):
            x.diags.add("MS033", f"block `{d.qualname}` has {len(d.inputs)} input port(s) "
                        f"({', '.join(d.inputs)}) but `in` gives {len(items)}", s.pos())
        for k, (port, it) in enumerate(zip(d.inputs, items)):
            got = x.in_item(it, s.at(k) if isinstance(raw, list) else s, table, env)
            if got:
                ports[port] = _delayed(x, got)
    missing = [p for p in d.inputs if p not in ports]
    if missing and (raw is not None or prev is not None):
        x.diags.add("MS033", f"block `{d.qualname}` needs input(s) {', '.join(f'`{p}`' for p in missing)}",
                    src.pos(), suggestion=f"connect them with `in: [{', '.join(d.inputs)}]`")
    return ports


def _delayed(x: "Expander", got: tuple[Any, Any, Any]) -> tuple["Link", int]:
    link, delay, pos = got
    return link, x.delay_steps(delay, pos)


def _first_link(ports: dict[str, tuple["Link", int]], d: BlockDef, sub: Table) -> "Link | None":
    """The default input of the body's first node: the first port, by name."""
    if not d.inputs or d.inputs[0] not in ports:
        return None
    return Ref(d.inputs[0], sub)


def _known(namespace: Mapping[str, Any]) -> str | None:
    return ("blocks defined here: " + listing(sorted(namespace))) if namespace else "this spec defines no blocks"


def _param_list(d: BlockDef) -> str:
    return ("params of " + d.qualname + ": " + listing(d.params)) if d.params \
        else f"block `{d.qualname}` takes no params"

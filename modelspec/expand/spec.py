"""From a loaded document to an unchecked IR graph."""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

from ..diagnostics import Diagnostics
from ..ir.graph import Graph, InputTerm, OutputTerm, Time
from ..load.document import Document
from ..trust import SpecTrust, untrusted
from ..validate.limits import MAX_INT, MAX_STEPS, big_ints, fmt_int, too_big
from ..validate.structure import check_spec
from ..validate.typed import TopLevel, top_level
from .blocks import BlockDef, Importer, collect_blocks
from .context import Evaluator, Src, layered
from .edges import PendingEdge, expand_edge
from .expander import EdgeDecl, Expander
from .expressions import FAILED, IN_KEY
from .inshape import InputShape
from .names import check_block_names, check_identifier, shown
from .params import apply_overrides
from .plugins import load_plugins
from .scope import NodeT, Ref, Resolver, Table


def validate(doc: Document, diags: Diagnostics) -> TopLevel | None:
    """Structure check (`validate.structure`): the typed view `expand` reads, None when it failed."""
    if not isinstance(doc.data, dict):
        diags.add("MS010", "a spec is a mapping with at least `modelspec`, `name`, `inputs` and `layers`",
                  doc.pos(()))
        return None
    return check_spec(doc, diags)


def expand(doc: Document, diags: Diagnostics, overrides: Mapping[str, Any] | None = None,
           trust: SpecTrust | None = None, top: TopLevel | None = None) -> Graph:
    """Expand a document; problems go to ``diags``.

    ``top`` is `validate`'s typed result; for a spec that failed validation (None)
    each top-level section is typed on its own, so expansion can still report
    what else is wrong.  ``trust`` says which `plugins:` may be imported and
    which tree imports must stay in; by default no plugin beyond the project's
    own configuration.
    """
    trust = trust or untrusted(doc.file)
    data: dict[str, Any] = doc.data
    spec = top or top_level(data, None)
    root = Src(doc, ())
    if spec.name is not None:
        check_identifier(spec.name, "model name", root.at("name"), diags, key=False)
    g = Graph(name=spec.name if spec.name is not None else "Model", doc=spec.doc, file=doc.file)
    ev = Evaluator(diags)
    g.params = _params(data, root, overrides or {}, ev, diags)
    g.time = _time(data, root, g.params, ev, diags)
    g.plugins = list(spec.plugins)
    g.train = dict(data.get("train") or {})
    plugins = load_plugins(g.plugins, root, trust, diags)
    namespace: dict[str, BlockDef] = {}
    local = collect_blocks(data, root, g.params, "", namespace)
    importer = Importer(diags, trust.root, trust, plugins)
    base_dir = os.path.dirname(os.path.abspath(doc.file))
    for alias, rel in spec.imports.items():
        importer.import_file(alias, rel, root.at("imports", alias), base_dir, namespace)
    for d in local.values():
        d.namespace = namespace
    x = Expander(g, namespace, diags, ev, plugins)
    for d in local.values():
        check_block_names(d.name, d.raw, d.src, diags)
        x.checked_blocks.add(id(d))
    top = Table("the top level")
    first = _inputs(x, data, root, top)
    # `in` at the top level is the model's first input, as a block's is its first port
    env = layered({IN_KEY: InputShape(x, first, root.at("layers").pos(key=True), "the model")}, g.params)
    last = x.expand_list(data.get("layers"), root.at("layers"), top, "", env, first, namespace)
    for k, e in enumerate(data.get("edges") or []):
        if isinstance(e, dict):
            x.edges.append(EdgeDecl(e, root.at("edges", k), top, "", env, namespace))
    pending_edges = [p for p in (expand_edge(x, d) for d in x.edges) if p is not None]
    outputs = _outputs(x, data, root, top, last)
    _resolve(x, pending_edges, outputs)
    x.g.order = list(g.nodes)
    if not any(v is FAILED for v in g.params.values()):  # uses of a failed param were never evaluated
        _unused_params(data, root, ev, diags)
    g.creation = x.creation
    plugins.finish()
    return g


def _params(data: dict[str, Any], root: Src, overrides: Mapping[str, Any], ev: Evaluator,
            diags: Diagnostics) -> dict[str, Any]:
    raw = dict(data.get("params") or {})
    for name in raw:
        check_identifier(name, "param name", root.at("params", name), diags)
    merged = apply_overrides(raw, overrides, root.doc.file, diags)
    docs = getattr(overrides, "docs", {})
    env: dict[str, Any] = {}
    for name, value in merged.items():  # a param may use the params before it
        src = Src(docs[name], ()) if name in docs and name in overrides else root.at("params", name)
        ok, v = ev.value(value, env, src)
        huge = list(big_ints(v)) if ok else []
        for path, n in huge:
            diags.add("MS012", f"param `{name}`: {fmt_int(n)} is larger than {MAX_INT:,} (2**63-1), the largest "
                      "integer a spec may use", src.at(*path).pos())
        # a failed param fails its uses quietly: one mistake, one message
        env[name] = v if ok and not huge else FAILED
    return env


def _time(data: dict[str, Any], root: Src, env: Mapping[str, Any], ev: Evaluator,
          diags: Diagnostics) -> Time | None:
    raw = data.get("time")
    if not isinstance(raw, dict):
        return None
    vals: dict[str, Any] = {}
    for key, default, kind in (("steps", None, int), ("dt", 1.0, float), ("idle", 0, int)):
        ok, v = ev.value(raw.get(key, default), env, root.at("time", key))
        if not ok:
            return None
        good = isinstance(v, (int, float)) and not isinstance(v, bool) and not too_big(v) and math.isfinite(v) \
            and (kind is float or float(v).is_integer())
        if not good or (key != "idle" and v <= 0) or v < 0:
            diags.add("MS060", f"`time.{key}` must be a finite {'positive' if key != 'idle' else 'non-negative'} "
                      f"{'number' if kind is float else 'integer'}, got {shown(repr(v))}", root.at("time", key).pos())
            return None
        if kind is int and v > MAX_STEPS:
            diags.add("MS060", f"`time.{key}` is {fmt_int(int(v))} steps; a time model may have at most "
                      f"{MAX_STEPS:,}", root.at("time", key).pos(),
                      suggestion="the time loop, its outputs ([B, T, ...]) and training all grow with the steps; "
                      "use fewer, longer steps (a larger `dt`)")
            return None
        vals[key] = kind(v)
    return Time(vals["steps"], vals["dt"], vals["idle"])


def _inputs(x: Expander, data: dict[str, Any], root: Src, top: Table) -> str | None:
    first = None
    for name, spec in (data.get("inputs") or {}).items():
        s = root.at("inputs", name)
        if not check_identifier(name, "input name", s, x.diags):
            continue
        long = spec if isinstance(spec, dict) else {"shape": spec}
        ok, shape = x.ev.value(long.get("shape"), x.g.params, s.at("shape") if isinstance(spec, dict) else s)
        if not ok:
            continue
        dims = _dims(x, shape, s.at("shape") if isinstance(spec, dict) else s)
        if dims is None:
            continue
        ok, static = x.ev.value(long.get("static", False), x.g.params, s.at("static"))
        term = InputTerm(name, dims, long.get("dtype", "float32"), bool(static), s.pos(key=True), long.get("doc"))
        if term.static and x.g.time is None:
            x.diags.add("MS061", f"input `{name}` is `static`, but the spec has no `time:`", s.at("static").pos())
        x.g.inputs[name] = term
        top.define(name, NodeT(name), s.pos(key=True), x.diags)
        first = first or name
    return first


def _dims(x: Expander, shape: Any, s: Src) -> tuple[Any, ...] | None:
    if not isinstance(shape, list) or not shape:
        x.diags.add("MS012", f"a shape is a non-empty list of dims, got {shape!r}", s.pos())
        return None
    dims = []
    for k, d in enumerate(shape):
        if isinstance(d, bool) or not (isinstance(d, (int, str))):
            x.diags.add("MS012", f"a dim is a positive integer or a symbol such as B, got {d!r}", s.at(k).pos())
            return None
        if isinstance(d, int) and d <= 0:
            x.diags.add("MS055", f"a dim must be positive, got {d}", s.at(k).pos())
            return None
        if isinstance(d, int) and d > MAX_INT:
            x.diags.add("MS012", f"a dim of {fmt_int(d)} is larger than {MAX_INT:,} (2**63-1), the largest size "
                        "torch and jax can hold", s.at(k).pos())
            return None
        if isinstance(d, str) and not d.strip():
            x.diags.add("MS012", "a dim symbol cannot be empty", s.at(k).pos())
            return None
        if isinstance(d, str) and not check_identifier(d, "dim symbol", s.at(k), x.diags, key=False):
            return None
        dims.append(d)
    return tuple(dims)


def _outputs(x: Expander, data: dict[str, Any], root: Src, top: Table, last: Any) -> dict[str, Ref | str]:
    raw = data.get("outputs")
    links: dict[str, Ref | str] = {}
    if raw is None:
        if last is not None:
            x.g.outputs["output"] = OutputTerm("output", "", pos=root.at("layers").pos(key=True))
            links["output"] = last
        return links
    for name, spec in raw.items():
        s = root.at("outputs", name)
        if not check_identifier(name, "output name", s, x.diags):
            continue
        long = spec if isinstance(spec, dict) else {"from": spec}
        src_at = s.at("from") if isinstance(spec, dict) else s
        ok, frm = x.ev.value(long.get("from"), x.g.params, src_at)
        ok2, steps = x.ev.value(long.get("steps", "all"), x.g.params, s.at("steps"))
        declared = None
        if long.get("shape") is not None:
            ok3, shp = x.ev.value(long["shape"], x.g.params, s.at("shape"))
            declared = _dims(x, shp, s.at("shape")) if ok3 else None
        if not (ok and ok2) or not isinstance(frm, str):
            continue
        if "steps" in long and x.g.time is None:
            x.diags.add("MS061", f"output `{name}` sets `steps`, but the spec has no `time:`", s.at("steps").pos())
        x.g.outputs[name] = OutputTerm(name, "", declared, str(steps), s.pos(key=True))
        links[name] = Ref(frm, top, src_at.pos())
    return links


def _resolve(x: Expander, edges: list[PendingEdge], outputs: dict[str, Ref | str]) -> None:
    r = Resolver(x.diags, x.ev.meter)
    for p in x.pending:
        got = r.resolve(p.link)
        if got:
            p.conn.source, extra = got
            p.conn.delay += extra
    for pe in edges:
        s, t = r.resolve(pe.source), r.resolve(pe.target)
        if not (s and t):
            continue
        if t[0] in x.g.inputs:
            x.diags.add("MS047", f"an edge cannot add into the input `{t[0]}`; target a node", pe.target.pos)
            continue
        pe.edge.source, pe.edge.target = s[0], t[0]
        pe.edge.delay += s[1]
        if pe.out is not None:
            o = r.resolve(pe.out)
            pe.edge.out = o[0] if o else s[0]
        else:
            pe.edge.out = s[0]
        x.g.edges.append(pe.edge)
    for read in x.shape_reads:  # `in.shape` answered early: the finished graph must agree (ir.infer)
        final = read.final(r)
        if final is not None:
            x.g.shape_reads.append(final)
    _shares(x, r)
    for name, link in outputs.items():
        got = r.resolve(link)
        if got:
            x.g.outputs[name].source = got[0]
        else:
            x.g.outputs.pop(name, None)


def _shares(x: Expander, r: Resolver) -> None:
    """`share:` targets -> `Node.share`; a shared scope pairs its nodes by path with the other's."""
    for ps in x.shares:
        scope = r.scope_of(ps.ref)
        if not ps.scope:
            if scope is not None:
                x.diags.add("MS070", f"`share` of an op names a node, but `{ps.ref.name}` is a block instance or "
                            "group", ps.ref.pos, suggestion=f"name one of its nodes (`{ps.ref.name}.NAME`), or "
                            "put `share` on a block instance")
                continue
            got = r.resolve(ps.ref)
            if got is None:
                continue
            if got[0] in x.g.inputs:
                x.diags.add("MS070", f"`share` names the input `{got[0]}`, which has no parameters", ps.ref.pos)
                continue
            node = x.g.nodes[ps.site]
            node.share, node.share_pos = got[0], ps.ref.pos
            continue
        if scope is None:
            if r.resolve(ps.ref) is not None:
                x.diags.add("MS070", f"`share` of a block instance or group names another one, but "
                            f"`{ps.ref.name}` is a single node", ps.ref.pos)
            continue
        if scope == ps.site:
            continue  # sharing with itself is owning (copy 0 of `share: layer.0`)
        for p, n in x.g.nodes.items():
            if p.startswith(ps.site + ".") and n.share is None:
                n.share, n.share_pos, n.share_scope = scope + p[len(ps.site):], ps.ref.pos, True


def _unused_params(data: dict[str, Any], root: Src, ev: Evaluator, diags: Diagnostics) -> None:
    meant = {d.suggestion for d in diags if d.code == "MS021" and d.suggestion}
    for name in data.get("params") or {}:
        if name not in ev.used and f"did you mean `{name}`?" not in meant:
            diags.add("MS025", f"param `{name}` is never used", root.at("params", name).pos(key=True),
                      suggestion="remove it, or check the spelling where you meant to use it")

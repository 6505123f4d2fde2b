"""Where parameters live: placement (`params_at:`) and weight sharing (`share:`).

Runs after shape inference, when every node knows its parameter shapes.  Each
node's parameters get a module path, `Node.holder`: its own path, or the path
its `params_at` (or that of an enclosing scope or edge) names, or the holder of
the node it shares.  Nodes that end up at one path use one set of parameters:
the first of them (in spec order) owns it, the others keep their shapes in
`Node.shared` and hold nothing, so the model's parameter count, the Torch
state_dict and the JAX params pytree have them once.  They must be the same op
with the same parameter shapes, and agree in every attribute but the ones the
op's call alone reads (`Op.call_attrs`: a convolution may change its stride).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..diagnostics import Diagnostics, Pos
from ..ops.registry import get_op
from ..shapes.dims import fmt_shape
from .graph import Graph, Node, evolve


def _rerooted(path: str, roots: list[tuple[str, str]]) -> str:
    """``path`` after every enclosing re-root (innermost first): scope prefix -> new root."""
    for scope, root in roots:
        if path == scope or path.startswith(scope + "."):
            rest = path[len(scope):]
            path = root + rest if root else rest.lstrip(".")
    return path


def _roots(g: Graph) -> list[tuple[str, str]]:
    """(scope path, absolute new root) of every scope and edge `via` that declares `params_at`."""
    out = [(p, s.params_at) for p, s in g.scopes.items() if s.params_at is not None]
    out += [(f"{e.name}.via", e.params_at) for e in g.edges if e.params_at is not None]
    return sorted(out, key=lambda r: -len(r[0]))  # innermost first


def _where(n: Node) -> Pos | None:
    return n.share_pos or n.params_at_pos or n.pos


def _owners(g: Graph, diags: Diagnostics) -> dict[str, str]:
    """Sharing node -> the node whose parameters it uses, chains followed."""
    out: dict[str, str] = {}
    for p, n in g.nodes.items():
        if n.share is None or n.share == p or (n.share_scope and not (n.params or n.buffers)):
            continue  # a scope shares what its nodes hold; its ReLUs have nothing to share
        seen = [p]
        q = n.share
        while q in g.nodes and g.nodes[q].share not in (None, q):
            if q in seen:
                diags.add("MS070", f"`{p}` shares parameters in a circle: {' -> '.join(seen + [q])}", n.share_pos,
                          suggestion="let one of them own its parameters (remove its `share`)")
                break
            seen.append(q)
            q = g.nodes[q].share  # type: ignore[assignment]
        else:
            if q in g.nodes:
                out[p] = q
            elif n.params:  # a node of a shared scope without a counterpart
                diags.add("MS073", f"`{p}` ({n.op}) has parameters but no counterpart `{q}` to share them with",
                          n.share_pos, suggestion="share between instances of one block (or groups of the same "
                          "nodes), so that every node with parameters has one")
    return out


def _differs(a: Any, b: Any, allowed: frozenset[str]) -> str | None:
    """The first attribute (outside ``allowed``) in which two attrs differ, or None."""
    da, db = a.model_dump(), b.model_dump()
    for k in da:
        if k not in allowed and da[k] != db.get(k):
            return k
    return None


def _check(site: Node, own: Node, holder: str, diags: Diagnostics) -> bool:
    where, what = _where(site), f"`{site.path}` shares the parameters of `{own.path}`"
    if site.op != own.op:
        diags.add("MS071", f"{what}, but it is a {site.op} and `{own.path}` a {own.op}", where,
                  suggestion="share only between nodes of the same op")
        return False
    if site.attrs is None or own.attrs is None:
        return False  # an unknown op or bad attributes, reported already
    op = get_op(site.op)
    allowed = op.call_attrs if op is not None else frozenset()
    key = _differs(site.attrs, own.attrs, allowed)
    if key is not None:
        a, b = getattr(site.attrs, key), getattr(own.attrs, key)
        free = f" (they may differ only in {', '.join(f'`{k}`' for k in sorted(allowed))})" if allowed else ""
        diags.add("MS071", f"{what}, but its `{key}` is {a!r} and theirs {b!r}{free}", where,
                  suggestion=f"give both the same `{key}`, or do not share")
        return False
    if own.buffers or site.buffers:
        diags.add("MS070", f"{what}, but a {site.op} keeps buffers ({', '.join(own.buffers or site.buffers)}): "
                  "state cannot be shared", where, suggestion="give each its own; share the layers around it")
        return False
    if not own.params:
        diags.add("MS070", f"{what}, but {own.op} `{own.path}` has no parameters to share", where,
                  suggestion="remove the `share`")
        return False
    if site.params != own.params:
        diff = next(k for k in sorted(set(site.params) | set(own.params))
                    if site.params.get(k) != own.params.get(k))
        mine, theirs = site.params.get(diff), own.params.get(diff)
        at = f" (at `{holder}`)" if holder != own.path else ""
        diags.add("MS072", f"{what}{at}, but its `{diff}` would be "
                  f"{fmt_shape(mine) if mine else 'absent'} and theirs {fmt_shape(theirs) if theirs else 'absent'}",
                  where, notes=[f"inputs: {', '.join(fmt_shape(s) for s in site.in_shapes)} here, "
                                f"{', '.join(fmt_shape(s) for s in own.in_shapes)} there"],
                  suggestion="shared parameters need inputs of the same size (channels, features)")
        return False
    return True


def place_params(g: Graph, diags: Diagnostics) -> Graph:
    """``g`` with `Node.holder` and `Node.owner` set on every node (``g`` itself is not changed);
    what cannot be shared or placed goes to ``diags``.

    Only the nodes whose placement differs from what they carry are copied: in most
    specs every node holds its own parameters at its own path, and the result then
    shares every node with ``g`` (a fresh node dict, the same nodes)."""
    nodes = g.nodes
    roots = _roots(g)
    owners = _owners(g, diags)
    base = {p: _rerooted(n.params_at or p, roots) for p, n in nodes.items()}
    groups: dict[str, list[str]] = {}
    for p, n in nodes.items():
        if p in owners:
            groups.setdefault(base[owners[p]], []).append(p)
        elif n.params or n.buffers:
            groups.setdefault(base[p], []).append(p)
        elif n.params_at is not None:
            diags.add("MS074", f"`params_at` places the parameters of `{p}`, but {n.op} has none",
                      n.params_at_pos, suggestion="remove `params_at`")
    for p, o in owners.items():  # an owner without parameters still meets its sharers (MS070)
        if o not in groups[base[o]]:
            groups[base[o]].insert(0, o)
    # placement: path -> (holder, owner); a sharer's own parameter shapes move to `shared`
    placed: dict[str, tuple[str, str | None]] = {}
    for holder, members in groups.items():
        own = next((m for m in members if m not in owners), members[0])
        placed[own] = (holder, None)
        for m in members:
            if m != own and _check(nodes[m], nodes[own], holder, diags):
                placed[m] = (holder, own)
    out: dict[str, Node] = {}
    for p, n in nodes.items():
        holder, owner = placed.get(p, ("", None))
        if owner is None and holder == (n.params_at or p):
            holder = ""  # `Node.at` falls back to the same path
        if owner is not None:
            out[p] = evolve(n, holder=holder, owner=owner, shared=n.params, params={})
        elif n.holder != holder or n.owner is not None or n.shared:
            out[p] = evolve(n, holder=holder, owner=None, shared={})
        else:
            out[p] = n
    g = replace(g, nodes=out)
    _conflicts(g, diags)
    return g


def _conflicts(g: Graph, diags: Diagnostics) -> None:
    """A holder inside another holder (``a`` and ``a.b``) cannot be one module tree."""
    held = {n.at: n for n in g.nodes.values() if n.params or n.buffers}
    for h, n in held.items():
        parts = h.split(".")
        for k in range(1, len(parts)):
            outer = held.get(".".join(parts[:k]))
            if outer is not None:
                diags.add("MS074", f"the parameters of `{n.path}` would live at `{h}`, inside `{outer.at}`, "
                          f"which holds the parameters of `{outer.path}`", n.params_at_pos or _where(outer),
                          suggestion="place them at a path of their own")
                break

"""What a run trains, as canonical JSON, and a readable list of what changed between two.

A checkpoint stores the description of the checked IR and the resolved train
config it was made with; `--resume` compares them with the present ones, so a
changed activation, dropout rate, seed or learning rate is never taken in
silence.  The description keeps what decides the computation (nodes, ops,
attributes, connections, edges, time, terminals, parameter shapes) and leaves
out what does not (docs, source positions).  No torch, no jax: plain data.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

from ..ir.graph import Graph

MAX_LISTED = 20  # changes listed in a refusal; the rest are counted


def _attrs(node: Any) -> dict[str, Any]:
    return node.attrs.model_dump(mode="json") if node.attrs is not None else {}


def _shape(shape: Any) -> Any:
    return None if shape is None else [d if isinstance(d, (int, str)) else str(d) for d in shape]


def describe(graph: Graph) -> dict[str, Any]:
    """The canonical description of a checked graph (JSON-safe, deterministic)."""
    return {
        "name": graph.name,
        "time": None if graph.time is None else {"steps": graph.time.steps, "dt": graph.time.dt,
                                                  "idle": graph.time.idle},
        "plugins": list(graph.plugins),
        "inputs": {n: {"shape": _shape(t.shape), "dtype": t.dtype, "static": bool(t.static)}
                   for n, t in graph.inputs.items()},
        "outputs": {n: {"from": o.source, "steps": o.steps, "shape": _shape(o.shape)}
                    for n, o in graph.outputs.items()},
        "nodes": {p: {"op": n.op, **_attrs(n), "in": [[c.source, c.delay] for c in n.inputs],
                      "params": {k: list(s) for k, s in n.params.items()},
                      "buffers": {k: list(s) for k, s in n.buffers.items()},
                      "shape": _shape(n.shape), "role": n.role}
                  for p, n in graph.nodes.items()},
        "order": list(graph.nodes),
        "edges": {e.name: {"from": e.source, "to": e.target, "delay": e.delay, "value": e.out,
                           "chain": list(e.chain), "kind": e.kind, "adapt": e.adapt} for e in graph.edges},
    }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()


# -- differences --------------------------------------------------------------------------------------------

def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, default=str)


def _leaves(a: Any, b: Any, path: str, sep: str = ": ") -> Iterator[str]:
    """``key<sep>old -> new`` for every value that differs between two JSON values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            sub = f"{path}.{k}" if path else str(k)
            if k not in b:
                yield f"{sub}{sep}{_fmt(a[k])} -> (none)"
            elif k not in a:
                yield f"{sub}{sep}(none) -> {_fmt(b[k])}"
            else:
                yield from _leaves(a[k], b[k], sub, sep)
    elif a != b:
        yield f"{path}{sep}{_fmt(a)} -> {_fmt(b)}"


_SECTIONS = (("inputs", "input"), ("outputs", "output"), ("nodes", "node"), ("edges", "edge"))


def _pairs(old: dict[str, Any], new: dict[str, Any]) -> dict[str, str]:
    """New node name -> old one, for nodes that took the place of another (a `relu_0` that became
    `gelu_0` when ReLU was swapped for GELU): one change of op, not a removal and an addition."""
    a, b = old.get("nodes") or {}, new.get("nodes") or {}
    return {n: o for o, n in zip(old.get("order") or [], new.get("order") or []) if o not in b and n not in a}


def _renamed(desc: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``desc`` with node names replaced by ``names`` wherever a node is referred to."""
    def r(v: Any) -> Any:
        return names.get(v, v) if isinstance(v, str) else v

    out = dict(desc)
    out["nodes"] = {names.get(p, p): {**n, "in": [[r(c[0]), *c[1:]] for c in n.get("in", [])]}
                    for p, n in (desc.get("nodes") or {}).items()}
    out["outputs"] = {k: {**o, "from": r(o.get("from"))} for k, o in (desc.get("outputs") or {}).items()}
    out["edges"] = {k: {**e, "from": r(e.get("from")), "to": r(e.get("to")), "value": r(e.get("value")),
                        "chain": [r(c) for c in e.get("chain", [])]} for k, e in (desc.get("edges") or {}).items()}
    out["order"] = [names.get(p, p) for p in desc.get("order") or []]
    return out


def graph_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two `describe` results, one line per change, node by node."""
    pairs = _pairs(old, new)
    new = _renamed(new, pairs)
    shown = {o: f"{o} -> {n}" for n, o in pairs.items()}  # a node's name changed with its op
    out: list[str] = []
    for key in ("name", "time", "plugins"):
        out.extend(_leaves(old.get(key), new.get(key), key))
    for section, label in _SECTIONS:
        a, b = old.get(section) or {}, new.get(section) or {}
        for name in a:
            if name not in b:
                out.append(f"{label} {name}: removed" + (f" ({a[name]['op']})" if "op" in a[name] else ""))
        for name in b:
            if name not in a:
                out.append(f"{label} {name}: added" + (f" ({b[name]['op']})" if "op" in b[name] else ""))
        for name in a:
            if name not in b:
                continue
            who = shown.get(name, name) if label == "node" else name
            if "op" in a[name] and a[name].get("op") != b[name].get("op"):
                out.append(f"{label} {who}: op {a[name]['op']} -> {b[name]['op']}")  # its attributes follow
                continue
            out.extend(f"{label} {who}: {line}" for line in _leaves(a[name], b[name], "", " "))
    if not out and old.get("order") != new.get("order"):
        out.append("order of the nodes: changed (parameters are initialised in this order)")
    return out


def config_view(config: dict[str, Any], *, data: str | None, dims: dict[str, Any], world: int) -> dict[str, Any]:
    """The parts of a resolved train config (and run set-up) a resumed run must share.

    ``epochs`` may grow on resume (that is what resuming is for) unless the
    learning rate depends on the total number of steps (a cosine schedule);
    ``run_dir`` and ``log_every`` change nothing that is computed."""
    view = {k: v for k, v in config.items() if k not in ("run_dir", "log_every", "data")}
    return {"train": view, "data": data, "dims": dict(dims), "processes": world}


def _constant_lr(view: dict[str, Any]) -> bool:
    return ((view.get("train") or {}).get("schedule") or {}).get("name", "constant") in ("constant", "step")


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between two `config_view` results; ``epochs`` only where it moves the schedule."""
    if _constant_lr(old) and _constant_lr(new):
        old = {**old, "train": {k: v for k, v in (old.get("train") or {}).items() if k != "epochs"}}
        new = {**new, "train": {k: v for k, v in (new.get("train") or {}).items() if k != "epochs"}}
    return list(_leaves(old, new, ""))


def listing(changes: list[str]) -> str:
    """The changes as indented lines, the first `MAX_LISTED` of them."""
    lines = [f"  {c}" for c in changes[:MAX_LISTED]]
    if len(changes) > MAX_LISTED:
        lines.append(f"  ... and {len(changes) - MAX_LISTED} more")
    return "\n".join(lines)

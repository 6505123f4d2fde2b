"""`modelspec summary`: the model at a glance, read from the checked IR.

Rows follow the scope tree (block instances, groups, repeats, and an `edges`
folder per scope for the nodes that edges create), so subtotals add up the
same way parameter names nest (`V1.conv.weight` counts toward `V1`).  The
JSON format is the stable one for scripts; the table is for people.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..diagnostics import did_you_mean
from ..ir.graph import Graph, Node, enclosing
from ..ir.infer import full_output_shape
from ..ir.reach import Reach, Reaches, reach
from ..shapes.dims import Dim, add, concrete, fmt_shape, mul, product
from .bind import (  # noqa: F401 - bind_graph and input_size_dims are the command line's
    ACTIVATION_DTYPE, DTYPE_BYTES, activation_bytes, bind_dim, bind_graph, free_symbols, input_bytes,
    input_size_dims,
)
from .colour import console, wants_colour
from .graph import op_label

FORMATS = ("table", "markdown", "json")


# ---- numbers -----------------------------------------------------------------

def human(n: Dim) -> str:
    """1234567 -> 1.23M; a symbolic count is simplified to a polynomial (``256·L² + 82.43K·L``)."""
    if not concrete(n):
        return poly_text(str(n), pretty=True)
    v = int(n)  # type: ignore[arg-type]
    for unit, k in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(v) >= k:
            return f"{v / k:.2f}{unit}"
    return str(v)


Poly = dict[tuple[str, ...], int]
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _poly(node: ast.AST) -> Poly:
    """A dim expression (ints, symbols, + - * //) as {monomial: coefficient}; a `//` that does
    not divide evenly stays an opaque atom."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return {(): node.value}
    if isinstance(node, ast.Name):
        return {(node.id,): 1}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return {k: -v for k, v in _poly(node.operand).items()}
    if isinstance(node, ast.BinOp):
        a, b = _poly(node.left), _poly(node.right)
        if isinstance(node.op, (ast.Add, ast.Sub)):
            sign = 1 if isinstance(node.op, ast.Add) else -1
            out = dict(a)
            for k, v in b.items():
                out[k] = out.get(k, 0) + sign * v
            return {k: v for k, v in out.items() if v}
        if isinstance(node.op, ast.Mult):
            out = {}
            for ka, va in a.items():
                for kb, vb in b.items():
                    k = tuple(sorted(ka + kb))
                    out[k] = out.get(k, 0) + va * vb
            return {k: v for k, v in out.items() if v}
        if isinstance(node.op, ast.FloorDiv) and set(b) == {()} and all(v % b[()] == 0 for v in a.values()):
            return {k: v // b[()] for k, v in a.items()}
    return {(f"({ast.unparse(node)})",): 1}


def poly_text(expr: str, pretty: bool = False) -> str:
    """A symbolic count, simplified; ``pretty`` for people (``256·L²``), else Python (``256*L**2``)."""
    try:
        poly = _poly(ast.parse(expr, mode="eval").body)
    except (SyntaxError, RecursionError):
        return expr
    terms = []
    for mono, coef in sorted(poly.items(), key=lambda kv: (-len(kv[0]), kv[0])):
        atoms = [(a, mono.count(a)) for a in dict.fromkeys(mono)]
        if pretty:
            parts = [a + (str(e).translate(_SUP) if e > 1 else "") for a, e in atoms]
            c = human(coef) if coef >= 10**4 else str(coef)
            terms.append("·".join(([c] if coef != 1 or not parts else []) + parts))
        else:
            parts = [a + (f"**{e}" if e > 1 else "") for a, e in atoms]
            terms.append("*".join(([str(coef)] if coef != 1 or not parts else []) + parts))
    return (" + " if pretty else " + ").join(terms).replace("+ -", "- ") or "0"


def human_bytes(n: int) -> str:
    for unit, k in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= k:
            return f"{n / k:.2f} {unit}"
    return f"{n} B"


def n_buffers(n: Node) -> int:
    return sum(math.prod(s) for s in n.buffers.values())


def total(values: Iterable[Dim]) -> Dim:
    return functools.reduce(add, values, 0)


def delay_text(d: int) -> str:
    return f" (t-{d})" if d else ""


def seen_from(node: str, source: str) -> str:
    """``source`` named as a spec author would from ``node``: relative to the innermost path
    holding both (`relu` inside `V1`), else the full path."""
    p = node
    while "." in p:
        p = p.rpartition(".")[0]
        if source.startswith(p + "."):
            return source[len(p) + 1:]
    return source


def rel(path: str, scope: str) -> str:
    """A source name as seen from a node in ``scope``: relative inside it, full outside."""
    return path[len(scope) + 1:] if scope and path.startswith(scope + ".") else path


# ---- the scope tree ----------------------------------------------------------

@dataclass
class Folder:
    path: str
    label: str  # block name, "group", "repeat", "edges"
    children: list[str] = field(default_factory=list)  # node or folder paths, in order
    params: int = 0
    macs: Dim = 0
    last: str | None = None  # last layer node (its shape stands for the folder's output)
    buffers: int = 0
    act: Dim = 0  # bytes of the activations of its nodes, one step


def scope_tree(g: Graph) -> dict[str, Folder]:
    """Folders by path ("" is the model): scopes plus an `edges` folder per scope that declares edges."""
    folders: dict[str, Folder] = {"": Folder("", g.name)}
    for s in g.scopes.values():
        folders[s.path] = Folder(s.path, s.label or s.kind)
    for e in g.edges:
        if e.chain:
            p = e.name.rpartition(".")[0]
            folders.setdefault(p, Folder(p, "edges"))

    def parent(path: str) -> str:
        return enclosing(path, folders)

    key: dict[str, float] = {}
    for path in list(g.nodes) + [p for p in folders if p]:
        f = parent(path)
        folders[f].children.append(path)
    for path, n in g.nodes.items():
        k = float(g.creation.get(path, len(g.creation) + len(key)))
        key[path] = k
        f = parent(path)
        while True:
            fo = folders[f]
            key[f] = min(key.get(f, k), k)
            fo.params += n.n_params
            fo.macs = add(fo.macs, n.macs)
            fo.buffers += n_buffers(n)
            fo.act = add(fo.act, activation_bytes(n))
            if n.role == "layer" and (fo.last is None or g.creation.get(fo.last, 0) <= k):
                fo.last = path
            if not f:
                break
            f = parent(f)
    for fo in folders.values():
        fo.children.sort(key=lambda p: (key.get(p, float("inf")), p))
    return folders


@dataclass
class Row:
    depth: int
    name: str
    op: str
    inputs: list[str]
    shape: str
    params: int | None
    macs: Dim | None
    kind: str  # node | folder | collapsed | input | output
    #: the node, folder, input or output name the row stands for (the key of its reach)
    key: str = ""
    buffers: int = 0
    act: Dim | None = None  # bytes of the value(s) the row stands for, one step
    dtype: str = ACTIVATION_DTYPE


def _edge_into(g: Graph, target: str, scope: str) -> list[str]:
    out = []
    for e in g.edges_into(target):
        via = ""
        if e.chain:
            ops: list[str] = []
            for p in e.chain:
                s = p[len(e.name) + 1:].split(".")[0]
                sc = g.scopes.get(f"{e.name}.{s}")
                label = (sc.label or sc.kind) if sc else g.nodes[p].op
                if not ops or ops[-1] != label or s != "via":
                    ops.append(label)
            via = " via " + "→".join(dict.fromkeys(ops))
        out.append(f"+ {seen_from(target, e.source)}{delay_text(e.delay)}{via}")
    return out


def _weights(n: Node) -> list[str]:
    """Where a node's parameters are, when not at its own path: shared (counted at the owner) or placed."""
    if n.owner is not None:
        at = "" if n.at == n.owner else f" at {n.at}"
        return [f"= shares the params of {n.owner}{at} ({sum(math.prod(s) for s in n.shared.values()):,}, "
                "counted there)"]
    if n.at != n.path and (n.params or n.buffers):
        return [f"@ params at {n.at}"]
    return []


def rows(g: Graph, depth: int | None) -> list[Row]:
    """The table rows: terminals, then the scope tree (collapsed below ``depth``), then outputs."""
    folders = scope_tree(g)
    out: list[Row] = []
    for t in g.inputs.values():
        extra = (" static" if t.static else "") + ("" if t.dtype == "float32" else f" {t.dtype}")
        out.append(Row(0, t.name, "Input" + extra, [], fmt_shape(t.shape), None, None, "input", t.name,
                       act=mul(product(t.shape), DTYPE_BYTES.get(t.dtype, 4)), dtype=t.dtype))

    def walk(fpath: str, level: int) -> None:
        for child in folders[fpath].children:
            name = rel(child, fpath)
            if child in folders:
                fo = folders[child]
                last = g.nodes[fo.last].shape if fo.last else None
                collapsed = depth is not None and level >= depth
                if collapsed:
                    ins = _external_inputs(g, child)
                    out.append(Row(level, name, fo.label, ins, fmt_shape(last) if last else "",
                                   fo.params, fo.macs, "collapsed", fo.last or "", fo.buffers, fo.act))
                else:
                    out.append(Row(level, name, fo.label, [], "", fo.params, fo.macs, "folder", child,
                                   fo.buffers, fo.act))
                    walk(child, level + 1)
                continue
            n = g.nodes[child]
            ins = ", ".join(seen_from(n.path, c.source) + delay_text(c.delay) for c in n.inputs)
            out.append(Row(level, name, op_label(n), [ins] + _edge_into(g, child, n.scope) + _weights(n),
                           fmt_shape(n.shape), n.n_params, n.macs, "node", child, n_buffers(n),
                           activation_bytes(n)))

    walk("", 0)
    for o in g.outputs.values():
        shape = full_output_shape(g, o.shape, o.steps) if o.shape is not None else None
        op = "Output" + (" (last step)" if g.time is not None and o.steps == "last" else "")
        dtype = g.inputs[o.source].dtype if o.source in g.inputs else ACTIVATION_DTYPE
        out.append(Row(0, o.name, op, [o.source], fmt_shape(shape), None, None, "output", o.name, dtype=dtype))
    return out


def _external_inputs(g: Graph, folder: str) -> list[str]:
    inside = folder + "."
    seen: dict[str, None] = {}
    for n in g.nodes.values():
        if n.path.startswith(inside):
            for c in n.inputs:
                if not c.source.startswith(inside):
                    seen[c.source + delay_text(c.delay)] = None
    items = list(seen)
    return [", ".join(items[:3]) + (", …" if len(items) > 3 else "")] if items else []


# ---- time: when each row first sees the input ---------------------------------

#: the columns a time model adds (modelspec.ir.reach): the first step whose value depends on an
#: input, and how many steps back it reaches (∞: a recurrent loop or state on the way)
TIME_HEADERS = ("first step", "history")


def time_cells(g: Graph, all_rows: list[Row], reaches: Reaches | None = None) -> list[list[str]] | None:
    """Per row, the reach columns' cells; None for a model without time (no columns)."""
    if g.time is None:
        return None
    r = reaches if reaches is not None else reach(g)
    out = []
    for row in all_rows:
        if row.kind == "input":
            out.append(["0", "0"])
        elif row.kind == "output":
            out.append(list(r.outputs[row.key].text()))
        elif row.key in r.nodes:
            out.append(list(r.nodes[row.key].text()))
        else:
            out.append(["", ""])  # an open folder: its rows say it
    return out


def reach_lines(g: Graph) -> list[str]:
    """A footer line per output of a time model: the step at which it first sees the input."""
    if g.time is None or not g.order:
        return []
    out = []
    for name, r in reach(g).outputs.items():
        if r.first is None:
            out.append(f"Output {name}: no input reaches it")
            continue
        hist = "every earlier step (recurrent)" if r.history is None else f"{r.history} step(s) back"
        out.append(f"Output {name}: first sees the input at step {r.first} of {g.time.steps}; history: {hist}")
    return out


def reach_json(r: Reach) -> dict[str, object]:
    return r.as_json()


# ---- totals ------------------------------------------------------------------

def totals(g: Graph) -> dict[str, Any]:
    params = g.n_params
    buffers = sum(n_buffers(n) for n in g.nodes.values())
    macs = total(n.macs for n in g.nodes.values())
    delayed = sum(1 for n in g.nodes.values() if n.role == "layer" for c in n.inputs if c.delay) \
        + sum(1 for e in g.edges if e.delay)
    return {"params": params, "trainable": params, "non_trainable": 0, "buffers": buffers,
            "param_bytes": 4 * params, "macs": macs, "cycles": len(g.cycles), "delayed": delayed}


def activation_lines(g: Graph) -> list[str]:
    """What one forward pass holds: the activations (every node's output) and the inputs.

    Concrete once the free sizes are bound (`--dim B=32`); with only the batch free, per sample.
    """
    act = total(activation_bytes(n) for n in g.nodes.values())
    per = ""
    if not concrete(act) and free_symbols(g) == ["B"]:  # node by node: each expression stays small
        act, per = total(bind_dim(activation_bytes(n), {"B": 1}) for n in g.nodes.values()), " per sample"
    steps = g.time.steps if g.time is not None else None
    if concrete(act):
        tail = f"{per} per step (x {steps} steps = {human_bytes(act * steps)})" if steps else per  # type: ignore[operator]
        lines = [f"Activations: {human_bytes(act)}{tail} (float32, one forward pass)"]  # type: ignore[arg-type]
    else:
        lines = [f"Activations: {poly_text(str(act), pretty=True)} bytes" + (" per step" if steps else "")
                 + " (float32, one forward pass; `--dim NAME=SIZE` binds the sizes)"]
    size = input_bytes(g)
    if concrete(size):
        lines.append(f"Input size: {human_bytes(size)}")  # type: ignore[arg-type]
    return lines


def footer(g: Graph, dims: dict[str, int] | None = None) -> list[str]:
    t = totals(g)
    lines = [
        f"Total params: {t['params']:,}",
        f"Trainable params: {t['trainable']:,}",
        f"Non-trainable params: {t['non_trainable']:,}",
        f"Buffers: {t['buffers']:,}" + (" (running statistics, not params)" if t["buffers"] else ""),
        f"Param memory: {human_bytes(t['param_bytes'])} (float32)",
        *activation_lines(g),
        f"MACs per step: {human(t['macs'])}" + (f" (x {g.time.steps} steps = {human(t['macs'] * g.time.steps)})"
                                                 if g.time and concrete(t["macs"]) else ""),
    ]
    if g.time is not None:
        idle = f", {g.time.idle} idle" if g.time.idle else ""
        lines.append(f"Time: {g.time.steps} steps, dt {g.time.dt:g} ms{idle}")
    if g.time is not None or t["cycles"] or t["delayed"]:
        lines.append(f"Cycles: {t['cycles']}, delayed connections: {t['delayed']}")
    lines += reach_lines(g)
    if g.symbols:
        lines.append("Symbols: " + ", ".join(f"{k}={v}" for k, v in sorted(g.symbols.items())))
    if dims:
        lines.append("Sizes: " + ", ".join(f"{k}={v}" for k, v in dims.items()) + " (--dim)")
    return lines


# ---- formats -----------------------------------------------------------------

def summary_dict(g: Graph, dims: dict[str, int] | None = None) -> dict[str, Any]:
    """The JSON format: stable keys, plain values (shapes as lists, symbolic dims as strings).

    ``dims``: the sizes `--dim` bound (``g`` is already bound; they are recorded)."""
    t = totals(g)
    reaches = reach(g) if g.time is not None and g.order else None
    nodes = []
    for path in g.order or list(g.nodes):
        n = g.nodes[path]
        nodes.append({
            "path": n.path, "op": n.op, "role": n.role, "edge": n.edge,
            "attrs": n.attrs.model_dump(mode="json") if n.attrs is not None else {},
            "inputs": [{"from": c.source, "delay": c.delay} for c in n.inputs],
            "shape": list(n.shape) if n.shape is not None else None,
            "params": n.n_params, "param_shapes": {k: list(s) for k, s in n.params.items()},
            "buffers": n_buffers(n), "macs": _json_dim(n.macs),
            "trainable": n.n_params > 0, "dtype": ACTIVATION_DTYPE,
            "activation_bytes": _json_dim(activation_bytes(n)),
            **({"reach": reach_json(reaches.nodes[path])} if reaches is not None else {}),
            "params_at": n.at, "shares": n.owner,
            "shared_shapes": {k: list(s) for k, s in n.shared.items()},
        })
    return {
        "name": g.name, "doc": g.doc, "file": g.file,
        **{k: t[k] for k in ("params", "trainable", "non_trainable", "buffers", "param_bytes")},
        "macs": _json_dim(t["macs"]),
        "activation_bytes": _json_dim(total(activation_bytes(n) for n in g.nodes.values())),
        "input_bytes": _json_dim(input_bytes(g)), "dims": dict(dims or {}),
        "time": None if g.time is None else {"steps": g.time.steps, "dt": g.time.dt, "idle": g.time.idle},
        "cycles": g.cycles, "delayed": t["delayed"],
        "inputs": [{"name": i.name, "shape": list(i.shape), "dtype": i.dtype, "static": i.static}
                   for i in g.inputs.values()],
        "outputs": [{"name": o.name, "from": o.source, "steps": o.steps,
                     "shape": list(full_output_shape(g, o.shape, o.steps)) if o.shape is not None else None,
                     "step_shape": list(o.shape) if o.shape is not None else None,
                     **({"reach": reach_json(reaches.outputs[o.name])} if reaches is not None else {})}
                    for o in g.outputs.values()],
        "scopes": [{"path": s.path, "kind": s.kind, "label": s.label} for s in g.scopes.values()],
        "nodes": nodes,
        "edges": [{"name": e.name, "from": e.source, "to": e.target, "delay": e.delay, "kind": e.kind,
                   "adapt": e.adapt, "chain": list(e.chain)} for e in g.edges],
        "spec_params": g.params,
    }


def _json_dim(d: Dim) -> Dim:
    """An int, or a symbolic count as a simplified Python expression of the symbols."""
    return d if concrete(d) else poly_text(str(d))


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|")


# ---- columns -------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    header: str
    right: bool = False  # numbers are right-aligned
    #: (fewest, most) characters when the table must shrink to fit; (0, 99): never cut
    limits: tuple[int, int] = (0, 99)


#: every column `--columns` can name, in their order in the table
COLUMNS: dict[str, Column] = {
    "node": Column("node", limits=(10, 28)),
    "op": Column("op", limits=(12, 28)),
    "inputs": Column("inputs", limits=(12, 34)),
    "shape": Column("output shape", limits=(12, 20)),
    "dtype": Column("dtype"),
    "params": Column("params", True),
    "trainable": Column("trainable"),
    "macs": Column("MACs", True, (9, 20)),
    "activations": Column("activations", True),
    "first_step": Column(TIME_HEADERS[0], True),
    "history": Column(TIME_HEADERS[1], True),
}
DEFAULT_COLUMNS = ("node", "op", "inputs", "shape", "params", "macs")
_TIME_COLUMNS = ("first_step", "history")
#: which columns give way first: node, op and inputs together, then the shape, then MACs
_SHRINK_KEYS = (("node", "op", "inputs"), ("shape",), ("macs",))


def columns_for(g: Graph, wanted: list[str] | None) -> list[str]:
    """The column keys to show: ``wanted`` (validated by `parse_columns`) or the defaults, which a
    time model extends with its reach columns."""
    if wanted:
        return list(wanted)
    return [*DEFAULT_COLUMNS, *(_TIME_COLUMNS if g.time is not None else ())]


def parse_columns(text: str) -> list[str]:
    """``"node,shape,params"`` -> keys; raises ValueError naming an unknown column and the closest."""
    aliases = {"name": "node", "output_shape": "shape", "memory": "activations", "mem": "activations",
               "first": "first_step", "first step": "first_step"}
    out = []
    for item in (x.strip().lower().replace("-", "_") for x in text.split(",")):
        if not item:
            continue
        key = aliases.get(item, item)
        if key not in COLUMNS:
            hint = did_you_mean(key, [*COLUMNS, *aliases])
            raise ValueError(f"unknown column `{item}`" + (f"; {hint}" if hint else "")
                             + f" (columns: {', '.join(COLUMNS)})")
        if key not in out:
            out.append(key)
    if not out:
        raise ValueError(f"--columns names no column (columns: {', '.join(COLUMNS)})")
    return out


def _bytes_text(d: Dim | None) -> str:
    if d is None:
        return ""
    return human_bytes(d) if concrete(d) else poly_text(str(d), pretty=True) + " B"  # type: ignore[arg-type]


def _trainable(r: Row) -> str:
    if r.params:
        return "yes"  # the language has no frozen parameters: every parameter learns
    return "no" if r.buffers else ""


def row_cells(g: Graph, all_rows: list[Row], keys: list[str], *, tree_marks: bool = True) -> list[list[str]]:
    """The text of each row's cells for the columns ``keys``."""
    timed = time_cells(g, all_rows) if any(k in _TIME_COLUMNS for k in keys) else None
    out = []
    for k, r in enumerate(all_rows):
        mark = ("▾ " if r.kind == "folder" else "▸ ") if tree_marks and r.kind in ("folder", "collapsed") else ""
        cell = {
            "node": "  " * r.depth + mark + r.name, "op": r.op, "inputs": "\n".join(r.inputs), "shape": r.shape,
            "params": "" if r.params is None else f"{r.params:,}",
            "macs": "" if r.macs is None else human(r.macs),
            "dtype": "" if r.kind == "folder" else r.dtype, "trainable": _trainable(r),
            "activations": _bytes_text(r.act),
        }
        if timed is not None:
            cell["first_step"], cell["history"] = timed[k] if g.time is not None else ("", "")
        else:
            cell["first_step"] = cell["history"] = ""
        out.append([cell[key] for key in keys])
    return out


def markdown(g: Graph, depth: int | None, columns: list[str] | None = None,
             dims: dict[str, int] | None = None) -> str:
    """A GitHub pipe table; non-breaking spaces keep the tree indentation visible once rendered."""
    keys = columns_for(g, columns)
    all_rows = rows(g, depth)
    cells = row_cells(g, all_rows, keys, tree_marks=False)
    lines = [f"### {g.name}", "", "| " + " | ".join(COLUMNS[k].header for k in keys) + " |",
             "|" + "".join("--:|" if COLUMNS[k].right else "---|" for k in keys)]
    for r, row in zip(all_rows, cells):
        row = list(row)
        for j, key in enumerate(keys):
            if key == "node":
                name = f"**{r.name}**" if r.kind in ("folder", "collapsed") else r.name
                row[j] = "\u00a0\u00a0" * r.depth + name
            elif key == "op" and r.kind != "node":
                row[j] = f"*{r.op}*"
            elif key == "inputs":
                row[j] = "<br>".join(r.inputs)
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    lines.append("")
    lines += [f"- {line}" for line in footer(g, dims)]
    return "\n".join(lines)


def fit_widths(natural: list[int], width: int, overhead: int,
               keys: list[str] | tuple[str, ...] = DEFAULT_COLUMNS) -> list[int]:
    """Column widths that fit ``width`` (``overhead``: padding and rules): the natural ones when
    they do, else shrink the wordy columns first (inputs, op, node), never the parameter counts."""
    if sum(natural) + overhead <= width:
        return natural
    limits = [COLUMNS[k].limits for k in keys]
    widths = [min(n, hi) for n, (lo, hi) in zip(natural, limits)]
    for group_keys in _SHRINK_KEYS:  # level the widest of a group first, so no column alone pays
        group = [j for j, k in enumerate(keys) if k in group_keys]
        if not group:
            continue
        while sum(widths) + overhead > width:
            k = max(group, key=lambda j: (widths[j] - min(natural[j], limits[j][0]), -j))
            if widths[k] <= min(natural[k], limits[k][0]):
                break
            widths[k] -= 1
    return widths


@dataclass
class Layout:
    """The summary table laid out: what both renderers (rich, plain) draw."""

    title: str
    headers: list[str]
    widths: list[int]
    rows: list[Row]
    cells: list[list[str]]  # per row, one string per column ("\n" between the lines of a cell)
    width: int  # the console width it was laid out for
    keys: list[str] = field(default_factory=list)  # the `COLUMNS` shown

    @property
    def right(self) -> list[bool]:
        return [COLUMNS[k].right for k in self.keys]


#: padding and rules around the cells of the table (box SIMPLE_HEAD, padding 1, no edge padding)
def _overhead(n_cols: int) -> int:
    return 3 * (n_cols - 1) + 2


def layout(g: Graph, depth: int | None, width: int | None, columns: list[str] | None = None) -> Layout:
    """Rows, cells and column widths for a console ``width`` (None: not a terminal)."""
    keys = columns_for(g, columns)
    all_rows = rows(g, depth)
    cells = row_cells(g, all_rows, keys)
    natural = [max([len(COLUMNS[key].header)] + [max(len(x) for x in c[k].split("\n")) for c in cells])
               for k, key in enumerate(keys)]
    overhead = _overhead(len(keys))
    if width is None:  # not a terminal: as wide as the table wants, 100 to 200 columns
        width = max(100, min(200, sum(natural) + overhead))
    return Layout(g.name, [COLUMNS[k].header for k in keys], fit_widths(natural, width, overhead, keys),
                  all_rows, cells, width, keys)


def _table(lay: Layout) -> Any:
    """The rich table of a layout (the coloured one, on a terminal)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(title=lay.title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, expand=False)
    for k, h in enumerate(lay.headers):
        t.add_column(h, justify="right" if lay.right[k] else "left", overflow="ellipsis", no_wrap=True,
                     width=lay.widths[k])
    for r, c in zip(lay.rows, lay.cells):
        folder = r.kind in ("folder", "collapsed")
        styles = {"node": "bold" if folder else ("cyan" if r.kind in ("input", "output") else ""),
                  "op": "green" if r.kind == "node" else "dim italic", "params": "bold" if folder else ""}
        t.add_row(*(Text(x, style=styles.get(key, "")) for key, x in zip(lay.keys, c)))
    return t


def _simple(text: str) -> bool:
    """Printable, one terminal cell per character (as rich measures): where `len` is the width."""
    from rich.cells import cell_len  # lazy: rich's measure of a character, only for non-ASCII text

    return text.isprintable() and (text.isascii() or cell_len(text) == len(text))


def plain_table(lay: Layout) -> str | None:
    """The table without colour, exactly as rich draws it, at a fraction of the cost (a 2,000-row
    table takes rich seconds); None where rich would lay it out differently (wide or control
    characters, a zero width, a title wider than the table), so the caller uses rich."""
    n = len(lay.headers)
    total = sum(lay.widths) + _overhead(n)
    if min(lay.widths) < 1 or total > lay.width or len(lay.title) > total or not _simple(lay.title):
        return None
    right = lay.right

    def block(cells: list[str]) -> list[str] | None:
        cols = []
        for k, cell in enumerate(cells):
            w, lines = lay.widths[k], cell.split("\n")
            out = []
            for line in lines:
                if not _simple(line):
                    return None
                if len(line) > w:
                    line = line[: w - 1] + "…"
                out.append(line.rjust(w) if right[k] else line.ljust(w))
            cols.append(out)
        height = max(len(c) for c in cols)
        return [" " + "   ".join(c[i] if i < len(c) else " " * lay.widths[k] for k, c in enumerate(cols)) + " "
                for i in range(height)]

    lines = [lay.title.ljust(total), " " * total]
    head = block(list(lay.headers))
    if head is None:
        return None
    lines += head
    lines.append(" " + "─" * (total - 2) + " ")
    for c in lay.cells:
        got = block(c)
        if got is None:
            return None
        lines += got
    lines.append(" " * total)
    return "\n".join(lines) + "\n"


def render_summary(g: Graph, fmt: str, depth: int | None, columns: list[str] | None = None,
                   dims: dict[str, int] | None = None) -> None:
    """Print the summary of a checked graph in one of `FORMATS` to stdout.

    ``dims``: the sizes `bind_graph` bound in ``g`` (`--dim B=32`), named in the footer;
    ``columns`` picks the table's columns (`COLUMNS` keys, in the order given)."""
    if fmt == "json":
        print(json.dumps(summary_dict(g, dims), indent=2, default=str))
        return
    if fmt == "markdown":
        print(markdown(g, depth, columns, dims))
        return
    # the terminal's width on a tty; elsewhere $COLUMNS, else the table's natural width (100 to 200);
    # colour exactly when `colour.wants_colour` says (a terminal, no NO_COLOR)
    tty = sys.stdout.isatty()
    cols = os.environ.get("COLUMNS", "")
    if tty:
        from rich.console import Console  # lazy: rich only to ask a terminal its width

        width: int | None = Console().width
    else:
        width = max(100, int(cols)) if cols.isdigit() else None
    lay = layout(g, depth, width, columns)
    notes = footer(g, dims)
    if not wants_colour(sys.stdout):
        plain = plain_table(lay)
        if plain is not None and all(len(line) <= lay.width and _simple(line) for line in notes):
            sys.stdout.write(plain + "".join(line + "\n" for line in notes))
            return
    con = console(width=lay.width)
    con.print(_table(lay))
    for line in notes:
        con.print(line, markup=False, highlight=False)

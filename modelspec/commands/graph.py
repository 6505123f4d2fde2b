"""`modelspec graph`: the checked IR as Graphviz DOT and Mermaid text, and a picture via `dot`.

Both languages get the same drawing: a cluster per scope (block instance,
group, repeat), input terminals as inverted houses and outputs as houses,
delayed connections dashed and labelled `t-3`, in a time model each box's first
step seeing the input and its history (`t≥1 · history ∞`), edges (skip, feedback,
recurrence) coloured, and each edge's `via`/adapter chain folded into one
small node so a recurrent area stays readable.  Output is deterministic:
nodes in declaration order, ids derived from paths.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..ir.graph import Edge, Graph, Node, enclosing
from ..ir.infer import full_output_shape
from ..ir.reach import Reach, reach
from ..shapes.dims import fmt_shape

FEEDBACK = "#c0392b"
SKIP = "#1f77b4"
INPUT_FILL, OUTPUT_FILL, EDGE_FILL, NODE_FILL = "#d6eaf8", "#d5f5e3", "#fdebd0", "#f4f6f7"
PICTURES = (".svg", ".png", ".pdf")
RANKDIRS = ("TB", "LR")
SCOPE_FILL = "#e8f0fe"
_DEFAULT_HIDDEN = {"padding", "padding_mode", "dilation", "bias", "eps", "momentum", "affine",
                   "track_running_stats", "count_include_pad", "ceil_mode", "elementwise_affine"}
_BARE = ("channels", "features", "type")


# ---- node labels (shared with the summary) ----------------------------------

def _fmt_value(v: Any, key: str = "") -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        if key in ("size", "scale", "output_padding"):
            return "x".join(_fmt_value(x) for x in v)
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def _axes(v: Any, nd: int) -> str:
    """3 -> "3x3" for a 2-d op; (3, 1) -> "3x1"."""
    return "x".join(str(x) for x in (v if isinstance(v, (list, tuple)) else [v] * nd))


def op_label(n: Node) -> str:
    """`Conv2d 3x3/2 64`: the op with its telling attributes (required ones and changed defaults)."""
    attrs = n.attrs
    if attrs is None:
        return n.op
    fields = type(attrs).model_fields
    parts: list[str] = []
    values = attrs.model_dump()
    if "kernel" in values:
        nd = getattr(type(attrs), "ndim", 2)  # the spatial axes the op's kernel covers
        ks = _axes(values["kernel"], nd)
        stride = values.get("stride")
        if stride is not None and _axes(stride, nd) not in ("1", "1x1", "1x1x1"):
            ks += "/" + _axes(stride, 1 if not isinstance(stride, (list, tuple)) else nd)
        parts.append(ks)
    for key in _BARE:
        if key in values:
            parts.append(_fmt_value(values[key]))
    for key, f in fields.items():
        if key in ("kernel", "stride", *_BARE):
            continue
        v = values[key]
        required = f.is_required()
        if required or (key not in _DEFAULT_HIDDEN and v != f.default):
            parts.append(f"{key}={_fmt_value(v, key)}")
        elif key == "bias" and v is False:
            parts.append("no bias")
    return " ".join([n.op, *parts])




# ---- what is drawn (shared by both languages) ---------------------------------

@dataclass
class Box:
    id: str  # a stable key: node path, "in:x", "out:y" or "edge:NAME"
    label: list[str]  # lines
    kind: str  # node | input | output | edge | scope (a collapsed scope)


@dataclass
class Link:
    src: str
    dst: str
    delay: int = 0
    color: str | None = None
    backwards: bool = False  # feedback: must not pull the layout upside down
    delays: list[int] = field(default_factory=list)  # a folded scope's loop: every delay inside it

    def label(self) -> str:
        return ", ".join(f"t-{x}" for x in (self.delays or [self.delay]))


@dataclass
class Cluster:
    path: str
    title: str
    boxes: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass
class Drawing:
    name: str
    boxes: dict[str, Box]
    links: list[Link]
    clusters: dict[str, Cluster]  # "" is the whole graph
    title: str = ""


def _edge_label(g: Graph, e: Edge) -> list[str]:
    steps: list[str] = []
    for p in e.chain:
        local = p[len(e.name) + 1:].split(".")[0]
        scope = g.scopes.get(f"{e.name}.{local}")
        step = scope.label or scope.kind if scope else op_label(g.nodes[p])
        if step not in steps:
            steps.append(step)
    return [e.name.rpartition(".")[2], " → ".join(steps)]


def reach_label(r: Reach | None) -> list[str]:
    """The label line of a time model's box: the first step it sees the input, and its history."""
    if r is None:
        return []
    first, history = r.text()
    return [f"t≥{first} · history {history}"] if r.first is not None else ["sees no input"]


def _title(g: Graph) -> str:
    """`ResNet18 · 11,689,512 params`, and the steps of a time model."""
    steps = f" · {g.time.steps} steps" if g.time is not None else ""
    return f"{g.name} · {g.n_params:,} params{steps}"


def drawing(g: Graph, depth: int | None = None) -> Drawing:
    """Boxes, links and clusters of a checked graph, in declaration order; scopes below
    ``depth`` (0: the top-level ones) folded into one box each, as `summary --depth` does."""
    d = _full_drawing(g)
    d.title = _title(g)
    return d if depth is None else collapse(g, d, depth)


def collapse(g: Graph, d: Drawing, depth: int) -> Drawing:
    """``d`` with every cluster at nesting level ``depth`` (and all inside it) drawn as one box:
    its name, block, output shape and parameter count.  Links into and out of it end at the
    box; links inside it go, except delayed ones, kept once as a loop (a recurrent area)."""
    level: dict[str, int] = {}
    parent: dict[str, str] = {}

    def walk(path: str, lv: int) -> None:
        for child in d.clusters[path].children:
            level[child], parent[child] = lv, path
            walk(child, lv + 1)

    walk("", 0)
    folded = [c for c in d.clusters if c and level[c] == depth]
    if not folded:
        return d
    owner: dict[str, str] = {}  # box key -> the folded cluster's box that stands for it
    for c in folded:
        key = f"scope:{c}"
        stack = [c]
        while stack:
            cc = stack.pop()
            owner.update({b: key for b in d.clusters[cc].boxes})
            stack.extend(d.clusters[cc].children)
    boxes = {k: b for k, b in d.boxes.items() if k not in owner}
    clusters = {k: c for k, c in d.clusters.items() if not k or level[k] < depth}
    reaches = reach(g) if g.time is not None and g.order else None
    for c in folded:
        key, home = f"scope:{c}", parent[c]
        inside = [n for p, n in g.nodes.items() if p.startswith(c + ".")]
        layers = [n for n in inside if n.role == "layer"]
        last = max(layers, key=lambda n: g.creation.get(n.path, 0)) if layers else None
        sc = g.scopes.get(c)
        label = [c[len(home) + 1:] if home else c, (sc.label or sc.kind) if sc else "scope"]
        if last is not None and last.shape is not None:
            label.append(fmt_shape(last.shape))
        label.append(f"{sum(n.n_params for n in inside):,} params")
        if reaches is not None and last is not None:  # what the scope's output sees of the input
            label += reach_label(reaches.nodes.get(last.path))
        boxes[key] = Box(key, label, "scope")
        hc = clusters[home]
        hc.children = [x for x in hc.children if x != c]
        hc.boxes.append(key)
    links: list[Link] = []
    seen: set[tuple[str, str, int, str | None]] = set()
    loops: dict[str, Link] = {}  # one loop per folded box, with all its delays: `t-1, t-3`
    for ln in d.links:
        src, dst = owner.get(ln.src, ln.src), owner.get(ln.dst, ln.dst)
        if src == dst and ln.src != ln.dst:
            if ln.delay:
                loop = loops.setdefault(src, Link(src, dst, 0, None, True))
                loop.delays = sorted({*loop.delays, ln.delay})
                loop.color = loop.color or ln.color
            continue  # inside one folded scope
        k = (src, dst, ln.delay, ln.color)
        if k not in seen:
            seen.add(k)
            links.append(Link(src, dst, ln.delay, ln.color, ln.backwards))
    for loop in loops.values():
        loop.delay = loop.delays[0]
        links.append(loop)
    return Drawing(d.name, boxes, links, clusters, d.title)


def _full_drawing(g: Graph) -> Drawing:
    """Boxes, links and clusters of a checked graph, in declaration order."""
    reaches = reach(g) if g.time is not None and g.order else None

    def seen(key: str, output: bool = False) -> list[str]:
        if reaches is None:
            return []
        return reach_label((reaches.outputs if output else reaches.nodes).get(key))
    chain_owner = {p: e for e in g.edges for p in e.chain}
    order = sorted(g.nodes, key=lambda p: (g.creation.get(p, len(g.creation)), p))
    edge_names = {e.name for e in g.edges}
    first: dict[str, int] = {}  # a scope is drawn where its first node was made
    for p in g.nodes:
        q = p
        while "." in q:
            q = q.rpartition(".")[0]
            first[q] = min(first.get(q, g.creation.get(p, 0)), g.creation.get(p, 0))
    clusters: dict[str, Cluster] = {"": Cluster("", g.name)}
    for s in sorted(g.scopes, key=lambda s: (first.get(s, 0), s)):
        parts = s.split(".")
        if any(".".join(parts[:k]) in edge_names for k in range(1, len(parts) + 1)):
            continue  # inside an edge's `via`: folded into the edge's node
        sc = g.scopes[s]
        clusters[s] = Cluster(s, f"{s.rpartition('.')[2]} ({sc.label})" if sc.label else
                              f"{s.rpartition('.')[2]} ({sc.kind})")

    def home(path: str) -> str:
        return enclosing(path, clusters)

    for s in clusters:
        if s:
            clusters[home(s)].children.append(s)
    boxes: dict[str, Box] = {}
    links: list[Link] = []
    for t in g.inputs.values():
        boxes[f"in:{t.name}"] = Box(f"in:{t.name}", [t.name, fmt_shape(t.shape)], "input")
        clusters[""].boxes.append(f"in:{t.name}")
    for p in order:
        n = g.nodes[p]
        if p in chain_owner:
            continue
        c = home(p)
        boxes[p] = Box(p, [p[len(c) + 1:] if c else p, op_label(n), fmt_shape(n.shape), *seen(p)], "node")
        clusters[c].boxes.append(p)
        for conn in n.inputs:
            src = f"in:{conn.source}" if conn.source in g.inputs else conn.source
            back = g.creation.get(conn.source, -1) >= g.creation.get(p, 0)
            links.append(Link(src, p, conn.delay, None, back))
    for e in g.edges:
        if e.target in chain_owner:  # an edge inside another edge's folded `via` block
            continue
        color = FEEDBACK if e.kind == "feedback" else SKIP
        src = f"in:{e.source}" if e.source in g.inputs else e.source
        if e.chain:
            key = f"edge:{e.name}"
            boxes[key] = Box(key, _edge_label(g, e) + seen(e.out), "edge")
            clusters[home(e.name)].boxes.append(key)
            links.append(Link(src, key, e.delay, color, e.kind == "feedback"))
            links.append(Link(key, e.target, 0, color))  # ranks the fold just above its target
        else:
            links.append(Link(src, e.target, e.delay, color, e.kind == "feedback"))
    for o in g.outputs.values():
        shape = full_output_shape(g, o.shape, o.steps) if o.shape is not None else None
        key = f"out:{o.name}"
        boxes[key] = Box(key, [o.name, fmt_shape(shape), *seen(o.name, output=True)], "output")
        clusters[""].boxes.append(key)
        links.append(Link(o.source, key))
    return Drawing(g.name, boxes, links, clusters)


# ---- DOT ---------------------------------------------------------------------

def dot_quote(s: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as \\n."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_DOT_STYLE = {
    "node": f'shape=box, style="rounded,filled", fillcolor="{NODE_FILL}"',
    "input": f'shape=invhouse, style=filled, fillcolor="{INPUT_FILL}"',
    "output": f'shape=house, style=filled, fillcolor="{OUTPUT_FILL}"',
    "edge": f'shape=box, style="rounded,filled,dashed", fillcolor="{EDGE_FILL}", fontsize=10, height=0.3',
    "scope": f'shape=box3d, style=filled, fillcolor="{SCOPE_FILL}"',
}


def to_dot(g: Graph, depth: int | None = None, rankdir: str = "TB") -> str:
    """Graphviz DOT text of the graph: titled, a cluster per scope, ``depth`` as in `drawing`."""
    d = drawing(g, depth)
    out = [f"digraph {dot_quote(d.name)} {{",
           f'  graph [rankdir={rankdir}, fontname="Helvetica", compound=true,',
           f'         label={dot_quote(d.title)}, labelloc=t, labeljust=l, fontsize=16];',
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=10];']
    side = "e" if rankdir == "TB" else "s"  # delayed links back run beside the forward ones

    def emit(path: str, indent: str) -> None:
        c = d.clusters[path]
        for key in c.boxes:
            b = d.boxes[key]
            out.append(f"{indent}{dot_quote(key)} [label={dot_quote(chr(10).join(b.label))}, {_DOT_STYLE[b.kind]}];")
        for child in c.children:
            cc = d.clusters[child]
            out.append(f"{indent}subgraph {dot_quote('cluster_' + child)} {{")
            out.append(f'{indent}  label={dot_quote(cc.title)}; style="rounded,dashed"; color="#7f8c8d"; '
                       'fontsize=12; labeljust=l;')
            emit(child, indent + "  ")
            out.append(f"{indent}}}")

    emit("", "  ")
    for ln in d.links:
        attrs = []
        if ln.delay:
            attrs += ["style=dashed", f"label={dot_quote(ln.label())}"]
        if ln.color:
            attrs += [f'color="{ln.color}"', f'fontcolor="{ln.color}"']
        if ln.backwards:
            attrs.append("constraint=false")
        ports = f":{side}" if ln.backwards and ln.delay and d.boxes[ln.dst].kind != "edge" else ""
        tail = f" [{', '.join(attrs)}]" if attrs else ""
        out.append(f"  {dot_quote(ln.src)}{ports} -> {dot_quote(ln.dst)}{ports}{tail};")
    out.append("}")
    return "\n".join(out) + "\n"


# ---- Mermaid -----------------------------------------------------------------

def mermaid_text(s: str) -> str:
    """Text safe inside a quoted Mermaid label (entity codes for quotes and markup)."""
    return s.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


_MMD_SHAPE = {"node": ('["', '"]'), "input": ('(["', '"])'), "output": ('[["', '"]]'), "edge": ('{{"', '"}}'),
              "scope": ('[/"', '"/]')}
_MMD_CLASS = {"node": "layer", "input": "terminal_in", "output": "terminal_out", "edge": "edge_chain",
              "scope": "scope"}


def to_mermaid(g: Graph, depth: int | None = None, rankdir: str = "TB") -> str:
    """Mermaid flowchart text of the graph (ids are `n0`, `n1`, ... in declaration order)."""
    d = drawing(g, depth)
    ids = {key: f"n{k}" for k, key in enumerate(d.boxes)}
    cids = {path: f"c{k}" for k, path in enumerate(p for p in d.clusters if p)}
    out = ["---", f"title: {mermaid_text(d.title)}", "---", f"flowchart {rankdir}",
           f"  classDef terminal_in fill:{INPUT_FILL},stroke:#2e86c1",
           f"  classDef terminal_out fill:{OUTPUT_FILL},stroke:#239b56",
           f"  classDef edge_chain fill:{EDGE_FILL},stroke:#ca6f1e,stroke-dasharray:4 2",
           f"  classDef layer fill:{NODE_FILL},stroke:#7f8c8d",
           f"  classDef scope fill:{SCOPE_FILL},stroke:#2e86c1,stroke-width:2px"]

    def emit(path: str, indent: str) -> None:
        c = d.clusters[path]
        for key in c.boxes:
            b = d.boxes[key]
            left, right = _MMD_SHAPE[b.kind]
            label = "<br/>".join(mermaid_text(x) for x in b.label)
            out.append(f"{indent}{ids[key]}{left}{label}{right}:::{_MMD_CLASS[b.kind]}")
        for child in c.children:
            out.append(f'{indent}subgraph {cids[child]}["{mermaid_text(d.clusters[child].title)}"]')
            emit(child, indent + "  ")
            out.append(f"{indent}end")

    emit("", "  ")
    styles = []
    for k, ln in enumerate(d.links):
        arrow = f'-.->|"{ln.label()}"|' if ln.delay else "-->"
        out.append(f"  {ids[ln.src]} {arrow} {ids[ln.dst]}")
        if ln.color:
            styles.append(f"  linkStyle {k} stroke:{ln.color},color:{ln.color}")
    return "\n".join(out + styles) + "\n"


# ---- the command -------------------------------------------------------------

#: more boxes than this and the picture is no longer read at a glance: `graph` suggests a `--depth`
GLANCE = 40


def fold_hint(g: Graph, depth: int | None) -> str | None:
    """When the full drawing has more than `GLANCE` boxes: the deepest `--depth` that fits in them."""
    if depth is not None:
        return None
    n = len(drawing(g).boxes)
    if n <= GLANCE:
        return None
    best = None
    for k in range(n):  # each level folds less; stop once nothing is folded any more
        folded = len(drawing(g, k).boxes)
        if folded >= n or folded > GLANCE:
            break
        best = (k, folded)
    if best is None:
        return None
    return (f"hint: {n} boxes; `--depth {best[0]}` folds the scopes below it into one box each "
            f"({best[1]} boxes)")


def write_graph(g: Graph, output: str, depth: int | None = None, rankdir: str = "TB") -> int:
    """Write the picture ``output`` names by its suffix; returns the exit code.

    `.dot`/`.gv` and `.mmd`/`.mermaid` are text; `.svg`/`.png`/`.pdf` write the
    `.dot` and `.mmd` twins beside the picture and run Graphviz when it is installed.
    """
    if rankdir not in RANKDIRS:
        print(f"error: --rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}", file=sys.stderr)
        return 2
    if depth is not None and depth < 0:
        print(f"error: --depth must be 0 or more, not {depth}", file=sys.stderr)
        return 2
    path = Path(output)
    suffix = path.suffix.lower()
    known = (".dot", ".gv", ".mmd", ".mermaid", *PICTURES)
    if suffix not in known:
        print(f"error: cannot tell the format of {output!r} from its suffix; use one of {', '.join(known)}",
              file=sys.stderr)
        return 2
    path.parent.mkdir(parents=True, exist_ok=True)
    code = _write(g, path, suffix, depth, rankdir)
    hint = fold_hint(g, depth) if code == 0 else None
    if hint:
        sys.stdout.flush()
        print(hint, file=sys.stderr)
    return code


def _write(g: Graph, path: Path, suffix: str, depth: int | None, rankdir: str) -> int:
    if suffix in (".dot", ".gv"):
        path.write_text(to_dot(g, depth, rankdir), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if suffix in (".mmd", ".mermaid"):
        path.write_text(to_mermaid(g, depth, rankdir), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    dot_path, mmd_path = path.with_suffix(".dot"), path.with_suffix(".mmd")
    dot_path.write_text(to_dot(g, depth, rankdir), encoding="utf-8")
    mmd_path.write_text(to_mermaid(g, depth, rankdir), encoding="utf-8")
    exe = shutil.which("dot")
    if exe is None:
        print(f"wrote {dot_path} and {mmd_path}; Graphviz `dot` is not installed, so {path} was not drawn.\n"
              f"  render it with:  dot -T{suffix[1:]} {dot_path} -o {path}   (install Graphviz first)\n"
              f"  or paste {mmd_path} into https://mermaid.live", file=sys.stderr)
        return 0
    res = subprocess.run([exe, f"-T{suffix[1:]}", str(dot_path), "-o", str(path)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        print(f"error: Graphviz failed to draw {path}:\n{res.stderr.strip()}", file=sys.stderr)
        return 2
    print(f"wrote {path} (and {dot_path}, {mmd_path})")
    return 0

"""The IR passes return new graphs and leave the graph they read unchanged.

Checked on DyRCNNx4, whose skip edges get adapters (nodes inserted into the order,
edge chains filled), so a pass that wrote into its input would show it here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelspec.diagnostics import Diagnostics
from modelspec.expand.spec import expand, validate
from modelspec.ir.check import check_graph
from modelspec.ir.graph import Graph
from modelspec.ir.infer import infer_shapes
from modelspec.load import load_document

SPEC = Path(__file__).resolve().parent.parent / "specs" / "dyrcnn_x4.yaml"


def snapshot(g: Graph) -> dict[str, Any]:
    """Everything a pass could write, as plain values."""
    return {
        "nodes": {p: (n.shape, list(n.in_shapes), dict(n.params), dict(n.buffers), n.macs, len(n.inputs))
                  for p, n in g.nodes.items()},
        "order": list(g.order),
        "edges": [(e.name, e.out, list(e.chain)) for e in g.edges],
        "outputs": {k: (o.source, o.shape) for k, o in g.outputs.items()},
        "cycles": [list(c) for c in g.cycles],
        "creation": dict(g.creation),
        "symbols": dict(g.symbols),
    }


def expanded() -> tuple[Graph, Diagnostics]:
    diags = Diagnostics()
    doc = load_document(SPEC, diags)
    assert validate(doc, diags)
    g = expand(doc, diags)
    assert not diags.has_errors
    return g, diags


def test_check_graph_returns_a_new_graph() -> None:
    g, diags = expanded()
    before = snapshot(g)
    checked = check_graph(g, diags)
    assert snapshot(g) == before
    assert checked is not g
    assert sorted(checked.order) == sorted(g.nodes)
    assert checked.cycles  # the recurrent areas: one cycle through a delay each
    assert not g.cycles


def test_infer_shapes_leaves_its_input_unshaped() -> None:
    g, diags = expanded()
    checked = check_graph(g, diags)
    before = snapshot(checked)
    shaped = infer_shapes(checked, diags)
    assert not diags.has_errors
    assert snapshot(checked) == before
    assert all(n.shape is None for n in checked.nodes.values())
    # the result has what the pass found: shapes, and the skip edges' adapters in the order
    adapters = [p for p, n in shaped.nodes.items() if n.role == "adapter"]
    assert adapters and not any(p in checked.nodes for p in adapters)
    assert all(p in shaped.order for p in adapters)
    skip = next(e for e in shaped.edges if e.name == "edges.skip_V1_V4")
    assert skip.chain == ["edges.skip_V1_V4.resize", "edges.skip_V1_V4.adapt"]
    assert shaped.nodes["V1.conv"].shape == ("B", 36, 32, 32)  # 3x3 conv, padding 1, on 32x32


def test_inferring_twice_gives_the_same_graph() -> None:
    g, diags = expanded()
    checked = check_graph(g, diags)
    assert snapshot(infer_shapes(checked, diags)) == snapshot(infer_shapes(checked, diags))


def test_strongly_connected_components() -> None:
    from modelspec.ir.components import strongly_connected

    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": [], "e": ["e"], "f": ["d"]}
    comps = strongly_connected(graph, lambda v: graph[v])
    assert sorted(sorted(c) for c in comps) == [["a", "b", "c"], ["d"], ["e"], ["f"]]
    # a 200,000-node chain closed into one loop: iterative, no recursion limit
    n = 200_000
    ring = {str(i): [str((i + 1) % n)] for i in range(n)}
    (big,) = strongly_connected(ring, lambda v: ring[v])
    assert len(big) == n

"""`modelspec graph` (DOT, Mermaid) and `modelspec render` (an expanded spec that compiles to the same IR)."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.commands import graph as graph_cmd
from modelspec.commands.graph import dot_quote, to_dot, to_mermaid, write_graph
from modelspec.ir.render import render_spec
from modelspec.ir.graph import Graph
from modelspec.pipeline import compile_text, load
from tests.helpers import two_cells

SPECS = pathlib.Path(__file__).parent.parent / "specs"
CATALOG = sorted(p for p in SPECS.iterdir() if p.suffix in (".yaml", ".toml"))
runner = CliRunner()

FEEDBACK = two_cells(leak=False)


def _compile(tmp_path: pathlib.Path, text: str, name: str = "spec.yaml") -> Graph:
    p = tmp_path / name
    p.write_text(text)
    return load(p)


# ---- graph -------------------------------------------------------------------

def test_dot_has_dashed_delayed_feedback(tmp_path: pathlib.Path) -> None:
    dot = to_dot(_compile(tmp_path, FEEDBACK))
    assert dot.startswith('digraph "Feedback" {') and dot.rstrip().endswith("}")
    # the edge: source -> folded via node (dashed, t-3, feedback colour) -> target
    assert re.search(r'"b\.act" -> "edge:edges\.back" \[style=dashed, label="t-3", color="#c0392b"', dot)
    assert '"edge:edges.back" -> "a.fc"' in dot
    assert re.search(r'"a\.act" -> "mix" \[style=dashed, label="t-2"', dot)  # a delayed `in`
    assert 'subgraph "cluster_a" {' in dot and 'label="a (Cell)"' in dot
    assert '"in:x" [label="x\\n[B, 8]", shape=invhouse' in dot
    assert '"out:output"' in dot and "shape=house" in dot
    assert to_dot(_compile(tmp_path, FEEDBACK)) == dot  # deterministic


def test_mermaid_has_dashed_delayed_feedback(tmp_path: pathlib.Path) -> None:
    mmd = to_mermaid(_compile(tmp_path, FEEDBACK))
    assert "flowchart TB" in mmd
    links = [ln.strip() for ln in mmd.splitlines() if "-->" in ln or "-.->" in ln]
    delayed = [k for k, ln in enumerate(links) if '-.->|"t-3"|' in ln]
    assert delayed, mmd
    assert f"linkStyle {delayed[0]} stroke:#c0392b" in mmd
    assert any('-.->|"t-2"|' in ln for ln in links)
    assert re.search(r'subgraph c\d+\["a \(Cell\)"\]', mmd)
    ids = re.findall(r"^\s*(n\d+)[\[\(\{]", mmd, re.M)
    assert len(ids) == len(set(ids))


def test_names_with_dots_are_quoted(tmp_path: pathlib.Path) -> None:
    g = load(SPECS / "resnet18.yaml")
    dot = to_dot(g)
    assert '"layer1.0.conv1" -> "layer1.0.bn1";' in dot
    assert not re.search(r"(^|\s)layer1\.0\.\w+\s*(->|\[)", dot, re.M)  # never a bare dotted id
    mmd = to_mermaid(g)
    assert "layer1.0" not in "".join(re.findall(r"^\s*(\S+)\s*(?:-->|-\.->)", mmd, re.M))
    assert dot_quote('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


def test_write_graph_by_suffix(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    g = load(SPECS / "mlp.yaml")
    assert write_graph(g, str(tmp_path / "m.gv")) == 0
    assert (tmp_path / "m.gv").read_text().startswith("digraph")
    assert write_graph(g, str(tmp_path / "m.mermaid")) == 0
    assert "flowchart" in (tmp_path / "m.mermaid").read_text()
    monkeypatch.setattr(graph_cmd.shutil, "which", lambda name: None)
    assert write_graph(g, str(tmp_path / "pic" / "m.svg")) == 0
    assert (tmp_path / "pic" / "m.dot").exists() and (tmp_path / "pic" / "m.mmd").exists()
    assert "dot -Tsvg" in capsys.readouterr().err
    assert write_graph(g, str(tmp_path / "m.txt")) == 2


def test_graph_cli(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "dy.dot"
    res = runner.invoke(app, ["graph", str(SPECS / "dyrcnn_x4.yaml"), "-o", str(out), "--set", "feedback=true"])
    assert res.exit_code == 0, res.output
    assert '"V1.relu" -> "edge:V1.edges.recurrence" [style=dashed, label="t-3"' in out.read_text()
    res = runner.invoke(app, ["graph", str(tmp_path / "missing.yaml"), "-o", str(out)])
    assert res.exit_code == 2  # a missing spec is a usage error


# ---- render ------------------------------------------------------------------

def signature(g: Graph) -> dict[str, Any]:
    """What must survive a render: paths, ops, attributes, inputs, shapes, parameters, edges, terminals."""
    return {
        "nodes": {p: (n.op, n.attrs.model_dump() if n.attrs is not None else None, n.shape, n.params,
                      n.buffers, n.role, [(c.source, c.delay) for c in n.inputs]) for p, n in g.nodes.items()},
        "edges": sorted((e.name, e.source, e.target, e.delay, tuple(e.chain), e.kind) for e in g.edges),
        "outputs": {o.name: (o.source, o.shape, o.steps) for o in g.outputs.values()},
        "inputs": {i.name: (i.shape, i.dtype, i.static) for i in g.inputs.values()},
        "params": g.n_params,
        "time": None if g.time is None else vars(g.time),
        "scopes": sorted(g.scopes),
    }


def _round_trip(g: Graph, fmt: str, allowed: frozenset[str] = frozenset()) -> Graph:
    r = compile_text(render_spec(g, fmt), "rendered.yaml")
    errors = [f"{d.pos}: {d.code} {d.message}" for d in r.diags if d.is_error]
    assert not errors and r.graph is not None, errors
    assert {d.code for d in r.diags} <= {"MS025", *allowed}  # resolved params are kept, and used by nothing
    return r.graph


@pytest.mark.parametrize("path", CATALOG, ids=[p.name for p in CATALOG])
def test_render_round_trips_the_catalog(path: pathlib.Path) -> None:
    g = load(path)
    assert signature(_round_trip(g, "yaml")) == signature(g)


@pytest.mark.parametrize("sets", [{"feedback": True}, {"recurrence": "local"}, {"recurrence": "none"}])
def test_render_round_trips_dyrcnn_variants(sets: dict[str, Any]) -> None:
    g = load(SPECS / "dyrcnn_x4.yaml", sets)
    assert signature(_round_trip(g, "json")) == signature(g)


def test_render_round_trips_nested_scopes_and_vias(tmp_path: pathlib.Path) -> None:
    text = FEEDBACK + """\
  - {name: loop, from: mix, to: b.fc, delay: 1, via: {layers: [{op: Linear, features: 8}, ReLU]}}
"""
    text = text.replace("  - {name: mix,", """\
  - name: stage
    repeat: 2
    layers: [{name: fc, op: Linear, features: 8}, {name: act, op: ReLU}]
  - {name: mix,""")
    g = _compile(tmp_path, text)
    assert "stage.1.fc" in g.nodes and "edges.loop.via.linear_0" in g.nodes
    assert signature(_round_trip(g, "yaml", frozenset({"MS046"}))) == signature(g)  # `stage` is a dead end


def test_render_is_a_full_spec() -> None:
    g = load(SPECS / "resnet18.yaml")
    data = yaml.safe_load(render_spec(g, "yaml"))
    assert data["modelspec"] == 1 and data["name"] == "ResNet18"
    assert data["inputs"]["x"] == {"shape": ["B", 3, 224, 224], "dtype": "float32"}
    assert data["outputs"]["logits"] == {"from": "fc", "shape": ["B", 1000]}
    conv1 = data["layers"][0]
    assert conv1 == {"name": "conv1", "op": "Conv2d", "channels": 64, "kernel": 7, "stride": 2, "padding": 3,
                     "dilation": 1, "groups": 1, "bias": False, "padding_mode": "zeros", "in": "x"}
    assert json.loads(render_spec(g, "json")) == data


def test_render_cli() -> None:
    res = runner.invoke(app, ["render", str(SPECS / "mlp.yaml"), "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["name"] == "MLP"
    res = runner.invoke(app, ["render", str(SPECS / "mlp.yaml"), "--format", "xml"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["render", str(SPECS / "nope.yaml")])
    assert res.exit_code == 2  # a missing spec is a usage error

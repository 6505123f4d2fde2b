"""`modelspec graph --depth N --rankdir LR|TB`: folded scopes, layout direction, a title, clusters."""

from __future__ import annotations

import pathlib
import re
import shutil
import struct

import pytest
from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.commands.graph import GLANCE, drawing, fold_hint, to_dot, to_mermaid
from modelspec.ir.graph import Graph
from modelspec.pipeline import load
from tests.helpers import two_cells

SPECS = pathlib.Path(__file__).parent.parent / "specs"
runner = CliRunner()

TWO_CELLS = two_cells()


@pytest.fixture
def cells(tmp_path: pathlib.Path) -> Graph:
    p = tmp_path / "cells.yaml"
    p.write_text(TWO_CELLS)
    return load(p)


def _links(dot: str) -> list[str]:
    return [ln.strip() for ln in dot.splitlines() if " -> " in ln]


def test_depth_0_folds_each_block_into_one_box(cells: Graph) -> None:
    dot = to_dot(cells, depth=0)
    # 8*8 + 8 = 72 parameters per Cell (its Linear); the last layer's shape stands for the cell
    assert '"scope:a" [label="a\\nCell\\n[B, 8]\\n72 params\\n' in dot  # then what it sees of the input
    assert '"scope:b" [label="b\\nCell\\n[B, 8]\\n72 params\\n' in dot and "shape=box3d" in dot
    assert "cluster_" not in dot and '"a.fc"' not in dot and '"b.act"' not in dot
    links = _links(dot)
    assert '"in:x" -> "scope:a";' in links and '"scope:a" -> "scope:b";' in links
    assert '"scope:b" -> "mix";' in links
    assert '"scope:a" -> "mix" [style=dashed, label="t-2"];' in links  # the delay survives the fold
    # the feedback edge (6 ms / 2 ms = 3 steps) runs between the folded boxes, through its via
    assert any(ln.startswith('"scope:b" -> "edge:edges.back" [style=dashed, label="t-3"') for ln in links)
    assert '"edge:edges.back" -> "scope:a" [color="#c0392b", fontcolor="#c0392b"];' in links
    # each EulerStep reads the cell's output one step back: one loop per folded cell, with its delay
    loops = [ln for ln in links if re.match(r'"scope:(\w)":e -> "scope:\1":e', ln)]
    assert len(loops) == 2 and all('label="t-1"' in ln for ln in loops)
    assert dot == to_dot(cells, depth=0)  # deterministic


def test_without_depth_every_node_is_drawn_in_its_cluster(cells: Graph) -> None:
    dot = to_dot(cells)
    assert 'subgraph "cluster_a" {' in dot and 'label="a (Cell)"' in dot
    assert '"a.fc" [label="fc\\nLinear 8\\n[B, 8]\\n' in dot and "scope:" not in dot
    assert to_dot(cells, depth=1) == dot  # nothing is deeper than level 0 here


def test_depth_keeps_clusters_above_the_fold() -> None:
    g = load(SPECS / "resnet18.yaml")
    dot = to_dot(g, depth=1)
    assert 'subgraph "cluster_layer1" {' in dot and 'label="layer1 (repeat)"' in dot
    block = dot.split('subgraph "cluster_layer1" {', 1)[1].split("}", 1)[0]
    # torchvision's layer1: two BasicBlocks of 2 * (64*64*9 + 2*64) = 73,984 parameters each
    assert '"scope:layer1.0" [label="0\\nBasicBlock\\n[B, 64, 56, 56]\\n73,984 params"' in block
    assert '"scope:layer1.1"' in block and "layer1.0.conv1" not in dot
    assert '"scope:layer1.0" -> "scope:layer1.1";' in _links(dot)
    d = drawing(g, 0)
    assert {k for k, b in d.boxes.items() if b.kind == "scope"} == {f"scope:layer{i}" for i in range(1, 5)}
    assert len(drawing(g, 1).boxes) <= GLANCE < len(drawing(g).boxes)


def test_title_names_the_model_its_parameters_and_steps(cells: Graph) -> None:
    assert 'label="Feedback · 216 params · 6 steps", labelloc=t' in to_dot(cells)
    assert to_mermaid(cells).startswith("---\ntitle: Feedback · 216 params · 6 steps\n---\n")
    g = load(SPECS / "resnet18.yaml")
    assert 'label="ResNet18 · 11,689,512 params", labelloc=t' in to_dot(g)


def test_rankdir(cells: Graph) -> None:
    assert "graph [rankdir=LR," in to_dot(cells, rankdir="LR")
    assert "graph [rankdir=TB," in to_dot(cells)
    assert "\nflowchart LR\n" in to_mermaid(cells, rankdir="LR")
    # delayed links back leave and enter a box from the side across the flow
    assert '"a.act":s -> "a.leak":s [style=dashed, label="t-1"' in to_dot(cells, rankdir="LR")
    assert '"a.act":e -> "a.leak":e [style=dashed, label="t-1"' in to_dot(cells)


def test_mermaid_folds_too(cells: Graph) -> None:
    mmd = to_mermaid(cells, depth=0)
    assert '[/"a<br/>Cell<br/>[B, 8]<br/>72 params<br/>' in mmd and '"/]:::scope' in mmd
    assert "subgraph" not in mmd and "classDef scope" in mmd


def test_cli_options_and_their_errors(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "cells.yaml"
    spec.write_text(TWO_CELLS)
    out = tmp_path / "g.dot"
    res = runner.invoke(app, ["graph", str(spec), "-o", str(out), "--depth", "0", "--rankdir", "lr"])
    assert res.exit_code == 0, res.output
    assert "rankdir=LR" in out.read_text() and "scope:a" in out.read_text()
    assert runner.invoke(app, ["graph", str(spec), "-o", str(out), "--rankdir", "BT"]).exit_code == 2
    assert runner.invoke(app, ["graph", str(spec), "-o", str(out), "--depth", "-1"]).exit_code == 2


def test_a_big_drawing_suggests_a_depth() -> None:
    g = load(SPECS / "resnet18.yaml")
    n, folded = len(drawing(g).boxes), len(drawing(g, 1).boxes)
    assert fold_hint(g, None) == (f"hint: {n} boxes; `--depth 1` folds the scopes below it into one box each "
                                  f"({folded} boxes)")
    assert fold_hint(g, 1) is None and fold_hint(load(SPECS / "mlp.yaml"), None) is None


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_folded_pictures_are_smaller(tmp_path: pathlib.Path) -> None:
    def size(path: pathlib.Path) -> tuple[int, int]:
        w, h = struct.unpack(">II", path.read_bytes()[16:24])
        return w, h

    full, folded = tmp_path / "full.png", tmp_path / "folded.png"
    spec = str(SPECS / "resnet18.yaml")
    assert runner.invoke(app, ["graph", spec, "-o", str(full)]).exit_code == 0
    assert runner.invoke(app, ["graph", spec, "-o", str(folded), "--depth", "1"]).exit_code == 0
    (fw, fh), (w, h) = size(full), size(folded)
    assert h * 2 < fh and w * h * 3 < fw * fh

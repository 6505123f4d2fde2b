"""Expansion semantics: names, groups, copies, when, blocks, ports, imports."""

from __future__ import annotations

import pathlib
import textwrap

from modelspec.ir.graph import Graph
from modelspec.pipeline import compile_file
from tests.helpers import ir, spec


def inputs(g: Graph, path: str) -> list[tuple[str, int]]:
    return [(c.source, c.delay) for c in g.nodes[path].inputs]


def test_auto_names_and_inline_unnamed_groups() -> None:
    g = ir(spec("""
        layers:
          - foreach: {h: [8, 6]}
            layers: [{op: Linear, features: "${h}"}, LeakyReLU]
          - {op: BatchNorm1d}
        """, inputs="{x: [B, 4]}"))
    assert list(g.nodes) == ["linear_0", "leaky_relu_0", "linear_1", "leaky_relu_1", "batch_norm1d_0"]
    assert inputs(g, "linear_1") == [("leaky_relu_0", 0)]


def test_groups_and_copies_see_outer_names() -> None:
    g = ir(spec("""
        layers:
          - {name: a, op: Linear, features: 8}
          - {name: grp, layers: [{name: b, op: Linear, features: 8, in: a}]}
          - {name: r, op: Add, in: [a, x], repeat: 2}
          - {name: out, op: Add, in: [r, grp.b, b]}
        """))
    assert inputs(g, "grp.b") == [("a", 0)]
    assert inputs(g, "r.1") == [("a", 0), ("x", 0)]
    assert inputs(g, "out") == [("r.1", 0), ("grp.b", 0), ("grp.b", 0)]


def test_repeat_names_chain_and_index() -> None:
    g = ir(spec("""
        layers:
          - {name: fc, op: Linear, features: "${4 + i}", repeat: 3}
        """, inputs="{x: [B, 4]}"))
    assert [g.nodes[f"fc.{k}"].shape for k in range(3)] == [("B", 4), ("B", 5), ("B", 6)]
    assert inputs(g, "fc.2") == [("fc.1", 0)]
    assert g.outputs["output"].source == "fc.2"


def test_when_false_passes_its_input_through() -> None:
    g = ir(spec("""
        layers:
          - {name: a, op: Linear, features: 4}
          - {name: maybe, op: Tanh, when: "${skip}", in: x}
          - {name: b, op: Add, in: [a, maybe]}
        """, inputs="{x: [B, 4]}", head="params: {skip: false}"))
    assert "maybe" not in g.nodes
    assert inputs(g, "b") == [("a", 0), ("x", 0)]


def test_block_ports_params_and_delayed_port() -> None:
    g = ir(spec("""
        blocks:
          Mix:
            params: {width: {type: int}, act: ReLU}
            inputs: [a, b]
            layers:
              - {name: sum, op: Add, in: [a, b]}
              - {name: fc, op: Linear, features: "${width}"}
              - {name: act, op: "${act}"}
        layers:
          - {name: first, op: Linear, features: 4}
          - {name: m, block: Mix, width: 4, act: Tanh, in: {a: first, b: {from: m, delay: 1}}}
        """, inputs="{x: [B, 4]}", head="time: {steps: 3}"))
    assert inputs(g, "m.sum") == [("first", 0), ("m.act", 1)]
    assert g.nodes["m.act"].op == "Tanh"
    assert g.scopes["m"].kind == "block" and g.scopes["m"].label == "Mix"
    assert g.cycles  # m.sum -> m.fc -> m.act -> (t-1) m.sum


def test_imports_qualify_block_names(tmp_path: pathlib.Path) -> None:
    (tmp_path / "lib.yaml").write_text(textwrap.dedent("""
        modelspec: 1
        blocks:
          Res:
            params: {dim: {type: int}}
            layers:
              - {name: fc, op: Linear, features: "${dim}"}
              - {name: add, op: Add, in: [x, fc]}
        """))
    main = tmp_path / "m.yaml"
    main.write_text(textwrap.dedent("""
        modelspec: 1
        name: M
        imports: {lib: lib.yaml}
        inputs: {x: [B, 6]}
        layers:
          - {name: r, block: lib.Res, dim: 6, repeat: 2}
        """))
    res = compile_file(main)
    assert not res.diags.has_errors, [d.message for d in res.diags]
    assert res.graph is not None and "r.1.fc" in res.graph.nodes


def test_durations_become_steps() -> None:
    g = ir(spec("""
        layers:
          - {name: a, op: Add, in: [x, {from: b, delay: 6ms}]}
          - {name: b, op: EulerStep, tau: 10ms}
        """, inputs="{x: [B, 4]}", head="time: {steps: 10, dt: 2}"))
    assert inputs(g, "a") == [("x", 0), ("b", 3)]
    assert g.nodes["b"].attrs.tau == 10.0

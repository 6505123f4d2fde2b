"""Names and scopes: named groups are scopes, dropped nodes give their names way, copy indices, cycles."""

from __future__ import annotations

from modelspec.diagnostics import Diagnostic
from modelspec.ir.graph import Graph
from tests.helpers import compile_, ir, spec


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


def inputs(g: Graph, path: str) -> list[str]:
    return [c.source for c in g.nodes[path].inputs]


# ---- named groups are scopes -------------------------------------------------
SIBLINGS = spec("""
    outputs: {ya: a.fc, yb: b.fc}
    layers:
      - name: a
        layers:
          - {name: fc, op: Linear, features: 4}
      - name: b
        in: x
        layers:
          - {name: fc, op: Linear, features: 6}
          - {name: act, op: ReLU}
    """)


def test_sibling_groups_may_use_the_same_name() -> None:
    g = ir(SIBLINGS)
    assert g.nodes["a.fc"].shape == ("B", 4) and g.nodes["b.fc"].shape == ("B", 6)
    assert g.outputs["ya"].source == "a.fc" and g.outputs["yb"].source == "b.fc"
    assert set(g.param_names()) == {"a.fc.weight", "a.fc.bias", "b.fc.weight", "b.fc.bias"}
    assert inputs(g, "b.act") == ["b.fc"]  # inside `b`, `fc` is b's own


def test_a_name_only_one_group_has_still_works_alone() -> None:
    g = ir(SIBLINGS.replace("outputs: {ya: a.fc, yb: b.fc}", "outputs: {y: act}"))
    assert g.outputs["y"].source == "b.act"


def test_an_ambiguous_short_name_is_reported_where_it_is_used() -> None:
    g, diags = compile_(SIBLINGS.replace("outputs: {ya: a.fc, yb: b.fc}", "outputs: {y: fc}"))
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "MS029"
    assert (d.pos.line, d.pos.col) == (5, 14)
    assert "`fc` is ambiguous here: 2 named groups have it (`a.fc`, `b.fc`)" in d.message
    assert d.suggestion == "write the group's path, e.g. `a.fc`"


def test_nested_groups_and_a_direct_name_that_wins() -> None:
    g = ir(spec("""
        layers:
          - name: outer
            layers:
              - name: inner
                layers: [{name: fc, op: Linear, features: 4}]
          - {name: fc, op: Linear, features: 3, in: x}   # a direct name wins over a group's
          - {name: sum, op: Concat, in: [fc, outer.fc, outer.inner.fc], axis: 1}
        """))
    assert inputs(g, "sum") == ["fc", "outer.inner.fc", "outer.inner.fc"]


def test_densenet_style_block_groups_in_a_repeat() -> None:
    g = ir(spec("""
        layers:
          - foreach: {n: [2, 3]}
            layers:
              - name: "block${i + 1}"
                layers:
                  - repeat: {count: "${n}", index: j}
                    layers:
                      - name: "layer${j + 1}"
                        layers:
                          - {name: fc, op: Linear, features: 4}
                          - {name: relu, op: ReLU}
        """, inputs="{x: [B, 4]}"))
    names = [p for p in g.nodes if p.endswith(".fc")]
    assert names == ["block1.layer1.fc", "block1.layer2.fc", "block2.layer1.fc", "block2.layer2.fc",
                     "block2.layer3.fc"]
    assert inputs(g, "block2.layer1.fc") == ["block1.layer2.relu"]


# ---- `when: false` gives its name way ---------------------------------------
def test_two_alternatives_under_one_name() -> None:
    text = spec("""
        layers:
          - {name: fc, op: Linear, features: 16, when: "${big}"}
          - {name: fc, op: Linear, features: 4, when: "${not big}"}
          - {name: out, op: ReLU, in: fc}
        """, head="params: {big: true}")
    assert ir(text).nodes["fc"].shape == ("B", 16)
    assert ir(text.replace("big: true", "big: false")).nodes["fc"].shape == ("B", 4)


def test_a_dropped_node_still_passes_through_when_nothing_replaces_it() -> None:
    g = ir(spec("""
        layers:
          - {name: a, op: Linear, features: 8}
          - {name: skip, op: Linear, features: 8, in: x, when: false}
          - {name: sum, op: Add, in: [a, skip]}
        """))
    assert inputs(g, "sum") == ["a", "x"]


VGG = spec("""
    layers:
      - name: features
        layers:
          - {name: 0, op: Conv2d, channels: 4, kernel: 3, padding: 1}
          - {name: 1, op: BatchNorm2d, when: "${bn}"}
          - {name: "${2 if bn else 1}", op: ReLU}
          - {name: "${3 if bn else 2}", op: MaxPool2d, kernel: 2}
      - {name: flatten, op: Flatten}
      - {name: fc, op: Linear, features: 10}
    """, name="V", inputs="{x: [B, 3, 8, 8]}", head="params: {bn: false}")


def test_index_shifted_names_torchvision_style() -> None:
    """Before: MS035 on `1`, then MS050 ("... comes back through a delay") in a model without
    time, and MS046 for `features.0`, which does reach the output."""
    g, diags = compile_(VGG)
    assert diags == [], [f"{d.code} {d.message}" for d in diags]
    assert g is not None and list(g.nodes) == ["features.0", "features.1", "features.2", "flatten", "fc"]
    g2, diags2 = compile_(VGG.replace("bn: false", "bn: true"))
    assert diags2 == [] and g2 is not None and g2.nodes["features.1"].op == "BatchNorm2d"


def test_a_real_duplicate_gives_one_error_and_no_follow_on() -> None:
    g, diags = compile_(VGG.replace('when: "${bn}"', "when: true"))
    assert codes(diags) == ["MS035"], [f"{d.code} {d.message}" for d in diags]
    assert "duplicate name `1` in group `features`" in diags[0].message
    assert diags[0].pos.line == 11


# ---- copy indices and shadowing ---------------------------------------------
NESTED = spec("""
    layers:
      - foreach: {w: "${widths}"}
        layers:
          - {op: Linear, features: "${widths[i]}", repeat: 3}
    """, head="params: {widths: [4, 8]}")


def test_a_repeat_index_hiding_a_foreach_index_warns_where_it_is_read() -> None:
    g, diags = compile_(NESTED)
    assert codes(diags) == ["MS039", "MS023"]
    warn = diags[0]
    assert (warn.pos.line, warn.pos.col) == (9, 33)
    assert warn.message == ("`i` here is the copy index of the `repeat` at line 9, which hides the index of "
                            "the `foreach` at line 7")
    assert "repeat: {count: N, index: j}" in (warn.suggestion or "")


def test_a_named_copy_index_leaves_the_outer_one_visible() -> None:
    g = ir(NESTED.replace("repeat: 3", "repeat: {count: 3, index: j}").replace(
        '"${widths[i]}"', '"${widths[i] + j}"'))
    assert [n.shape for n in g.nodes.values()] == [("B", 4), ("B", 5), ("B", 6), ("B", 8), ("B", 9), ("B", 10)]


def test_a_named_foreach_index_and_a_shadowed_param() -> None:
    g, diags = compile_(spec("""
        layers:
          - foreach: {h: [2, 5], index: k}
            layers:
              - {op: Linear, features: "${h + k}"}
        """, head="params: {h: 3}"))
    assert codes(diags) == ["MS039"]
    assert diags[0].message == ("`h` here is the variable of the `foreach` at line 7, which hides the param `h`")
    assert g is not None and [n.shape for n in g.nodes.values()] == [("B", 2), ("B", 6)]


def test_no_warning_without_a_read_of_the_hidden_name() -> None:
    g, diags = compile_(NESTED.replace('"${widths[i]}"', '"${w}"'))
    assert diags == []


def test_bad_copy_index_names() -> None:
    _, diags = compile_(NESTED.replace("repeat: 3", "repeat: {count: 3, index: 2nd}"))
    assert [(d.code, d.pos.line) for d in diags] == [("MS014", 9)]
    assert diags[0].message.startswith("copy index `2nd` is not a valid name")
    _, diags = compile_(NESTED.replace('foreach: {w: "${widths}"}', 'foreach: {w: "${widths}", index: w}'))
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "MS012" and "binds `w` twice" in d.message


# ---- MS041 points at the connection that closes the cycle -------------------
def test_cycle_error_points_at_the_closing_input_and_lists_connections() -> None:
    _, diags = compile_(spec("""
        layers:
          - {name: a, op: Add, in: [x, c]}
          - {name: b, op: Linear, features: 8}
          - {name: c, op: ReLU}
        """, name="C"))
    (d,) = diags
    assert d.code == "MS041"
    assert d.message == "cycle without delay: a -> b -> c -> a; the connection `c` -> `a` (an input of `a`) closes it"
    assert (d.pos.line, d.pos.col) == (6, 32)  # the `c` in a's `in`, where the delay goes
    assert d.suggestion == "give this input a delay: `{from: c, delay: 1}` (delays need a `time:` section)"
    assert d.notes == ["spec.yaml:7:5: `a` -> `b` (an input of `b`)", "spec.yaml:8:5: `b` -> `c` (an input of `c`)",
                       "spec.yaml:6:32: `c` -> `a` (an input of `a`)"]


def test_cycle_closed_by_an_edge_points_at_the_edge() -> None:
    _, diags = compile_(spec("""
        layers:
          - {name: a, op: Linear, features: 8}
          - {name: b, op: ReLU}
        edges:
          - {from: b, to: a}
        """, name="C", head="time: {steps: 2}"))
    (d,) = [d for d in diags if d.code == "MS041"]
    assert d.message.endswith("the connection `b` -> `a` (edge `edges.b_to_a`) closes it")
    assert d.pos.line == 10 and d.suggestion == "add `delay: 1` to this edge"


def test_a_foreach_variable_named_i_keeps_its_old_meaning() -> None:
    """Without `index:`, `{i: LIST}` was accepted and `${i}` was the index; it still is."""
    g = ir(spec("""
        layers:
          - foreach: {i: [7, 9]}
            layers: [{op: Linear, features: "${i + 1}"}]
        """))
    assert [n.shape for n in g.nodes.values()] == [("B", 1), ("B", 2)]

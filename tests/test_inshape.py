"""`${in.shape[...]}`: a block reads its input's inferred shape while the spec expands."""

from __future__ import annotations

from modelspec.diagnostics import Diagnostic
from tests.helpers import compile_, spec

BLOCK = spec("""
    blocks:
      Expand:
        params: {t: 6}
        layers:
          - {name: up, op: Conv2d, channels: "${in.shape[1] * t}", kernel: 1}
          - {name: dw, op: Conv2d, channels: "${in.shape[1] * t}", kernel: 3, padding: 1, groups: "${in.shape[1] * t}"}
          - {name: down, op: Conv2d, channels: "${in.shape[1]}", kernel: 1}
          - {name: add, op: Add, in: [x, down], when: "${in.shape[2] == 16}"}
    layers:
      - {op: Conv2d, channels: 8, kernel: 3, padding: 1}
      - {name: e, block: Expand, repeat: 2}
      - {name: pool, op: MaxPool2d, kernel: 2}
      - {name: f, block: Expand, t: 2}
    """, name="S", inputs="{x: [B, 3, 16, 16]}")


def test_a_block_reads_its_input_channels() -> None:
    g, diags = compile_(BLOCK)
    assert diags == [], [f"{d.code} {d.message}" for d in diags]
    assert g is not None
    # worked out by hand: 8 channels in, expanded 6x, back to 8; after pooling 8x8, so no residual
    assert g.nodes["e.0.up"].shape == ("B", 48, 16, 16) and g.nodes["e.1.dw"].attrs.groups == 48
    assert g.nodes["e.1.down"].shape == ("B", 8, 16, 16) and "e.1.add" in g.nodes
    assert g.nodes["f.up"].shape == ("B", 16, 8, 8) and "f.add" not in g.nodes
    assert g.outputs["output"].source == "f.down"


def test_the_top_level_in_is_the_models_first_input() -> None:
    g, diags = compile_(BLOCK + "  - {name: head, op: Conv2d, channels: \"${in.shape[1] * 2}\", kernel: 1}\n")
    assert diags == [] and g is not None and g.nodes["head"].shape == ("B", 6, 8, 8)


def one_error(text: str) -> Diagnostic:
    _, diags = compile_(text)
    errors = [d for d in diags if d.is_error]
    assert len(errors) == 1, [f"{d.code} {d.message}" for d in diags]
    return errors[0]


def test_an_index_out_of_range_is_located() -> None:
    _, diags = compile_(BLOCK.replace("in.shape[2] == 16", "in.shape[4] == 16"))
    assert [(d.code, d.pos.line, d.pos.col) for d in diags] == [("MS023", 12, 54)] * 2  # e.0 and f: one per shape
    assert [d.message for d in diags] == [f"index 4 is out of range for `in.shape`, which is [B, 8, {n}, {n}] (4 dims)"
                                          for n in (16, 8)]


def test_a_symbolic_dim_is_a_symbol_not_a_number() -> None:
    d = one_error(BLOCK.replace('channels: "${in.shape[1]}"', 'channels: "${in.shape[0] * 2}"'))
    assert d.code == "MS023" and d.pos.line == 11
    assert "`B` is a symbolic dim of `in.shape`, whose size is known only when the model runs" in d.message
    g, diags = compile_(BLOCK + '  - {name: r, op: Reshape, shape: ["${in.shape[0]}", -1]}\n')
    assert diags == [] and g is not None and g.nodes["r"].shape == ("B", 8 * 8 * 8)


def test_only_in_has_a_shape_attribute() -> None:
    d = one_error(BLOCK.replace("in.shape[2] == 16", "in.size[2] == 16"))
    assert d.code == "MS022" and d.message == "`in` has one attribute, `shape`, not `size`"
    d = one_error(BLOCK.replace("in.shape[2] == 16", "x.shape[2] == 16"))
    assert d.code == "MS022" and d.message == "attribute access is not allowed in expressions"


def test_an_input_defined_later_is_ms027() -> None:
    d = one_error(spec("""
        blocks:
          Half:
            layers:
              - {op: Linear, features: "${in.shape[1] // 2}"}
        layers:
          - {name: a, op: Linear, features: 4}
          - {name: h, block: Half, in: {from: out, delay: 1}}
          - {name: out, op: Linear, features: 4, in: a}
        """, name="S", inputs="{x: [B, 4]}", head="time: {steps: 2}"))
    assert d.code == "MS027" and (d.pos.line, d.pos.col) == (9, 35)
    assert d.message == ("`in.shape`: the input of block `Half` (instance `h`), `out`, is not defined before it; "
                         "a block reads the shape of what comes before it")


def test_a_block_without_input_and_params_without_in() -> None:
    d = one_error(spec("""
        layers:
          - {op: Linear, features: "${w}"}
        """, name="S", inputs="{x: [B, 4]}", head='params: {w: "${in.shape[1]}"}'))
    assert d.code == "MS023" and d.pos.line == 4
    assert "`in.shape` reads the input of the enclosing block" in d.message


def test_an_upstream_shape_error_is_reported_once_at_its_node() -> None:
    _, diags = compile_(BLOCK.replace("{op: Conv2d, channels: 8, kernel: 3, padding: 1}",
                                      "{op: Conv2d, channels: 8, kernel: 30}"))
    assert [d.code for d in diags] == ["MS055"]


def test_in_as_an_operator_still_works() -> None:
    g, diags = compile_(BLOCK.replace("in.shape[2] == 16", "in.shape[2] in [16, 32]"))
    assert diags == [] and g is not None and "e.0.add" in g.nodes


def test_a_read_the_final_names_contradict_is_ms028() -> None:
    _, diags = compile_(spec("""
        blocks:
          H:
            layers:
              - {op: Linear, features: "${in.shape[1]}"}
        layers:
          - {name: a, op: Linear, features: 4}
          - {name: p, op: Linear, features: 6, when: false}   # p passes `a` through ...
          - {name: h, block: H, in: p}                       # ... when h reads its shape
          - {name: p, op: Linear, features: 6, in: x}        # then a kept `p` takes the name
          - {op: Concat, in: [h, p], axis: 1}
        """, name="T"))
    (d,) = [d for d in diags if d.is_error]
    assert d.code == "MS028" and d.pos.line == 12
    assert d.message == ("`in.shape` was read as [B, 4] (the output of `p`) while the spec expanded, but the "
                         "finished graph gives `p` [B, 6]")

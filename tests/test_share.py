"""Weight sharing (`share:`) and parameter placement (`params_at:`), docs/language.md section 3.

The truth here is arithmetic and plain torch: a tied two-layer MLP computed with
``F.linear`` on one weight, counts worked out by hand, state_dict names spelled out.
"""

from __future__ import annotations

import dataclasses
import textwrap

import numpy as np
import pytest

from modelspec.ir.render import render_spec
from modelspec.pipeline import compile_text

HEAD = "modelspec: 1\nname: T\ninputs:\n  x: [B, 8]\n"

TIED = HEAD + textwrap.dedent("""\
    layers:
      - {name: a, op: Linear, features: 8}
      - ReLU
      - {name: b, op: Linear, features: 8, share: a}
      - {name: head, op: Linear, features: 3}
    """)

BLOCKS = HEAD + textwrap.dedent("""\
    blocks:
      Res:
        layers:
          - {name: fc, op: Linear, features: 8}
          - ReLU
          - {name: out, op: Add, in: [x, relu_0]}
    layers:
      - {name: layer, block: Res, repeat: 3, share: layer.0}   # ALBERT-style: every copy uses copy 0's
      - {name: twin, block: Res, share: layer.1}
    """)

PLACED = "modelspec: 1\nname: T\ninputs:\n  x: [B, 4, 16, 16]\n" + textwrap.dedent("""\
    layers:
      - {name: c0, op: Conv2d, channels: 4, kernel: 3, padding: 1, stride: 2, params_at: conv}
      - {name: c1, op: Conv2d, channels: 4, kernel: 3, padding: 1, params_at: conv}
      - {name: n, op: GroupNorm, groups: 2, params_at: norms.first}
    """)


SCOPED = HEAD + textwrap.dedent("""\
    blocks:
      One:
        layers: [{op: Linear, features: 8, params_at: .}]
      Two:
        layers: [{name: fc, op: Linear, features: 8}, {name: out, block: One}]
    layers:
      - {name: fc, block: One}
      - {name: moved, block: Two, params_at: area.two}
    """)


def graph(text: str):  # type: ignore[no-untyped-def]
    res = compile_text(text, "t.yaml")
    assert [f"{d.code} {d.message}" for d in res.diags] == []
    assert res.graph is not None
    return res.graph


def test_share_counts_once_and_names_the_owner() -> None:
    g = graph(TIED)
    assert g.n_params == 72 + 27  # a: 8*8+8 (b uses it), head: 8*3+3
    assert g.param_names() == {"a.weight": (8, 8), "a.bias": (8,), "head.weight": (3, 8), "head.bias": (3,)}
    b = g.nodes["b"]
    assert (b.owner, b.at, b.params, b.shared) == ("a", "a", {}, {"weight": (8, 8), "bias": (8,)})
    assert b.macs == 64  # the call still costs


def test_shared_blocks_pair_nodes_by_path() -> None:
    g = graph(BLOCKS)
    assert g.n_params == 72
    assert set(g.param_names()) == {"layer.0.fc.weight", "layer.0.fc.bias"}
    assert {p: n.owner for p, n in g.nodes.items() if n.op == "Linear"} == {
        "layer.0.fc": None, "layer.1.fc": "layer.0.fc", "layer.2.fc": "layer.0.fc", "twin.fc": "layer.0.fc"}


def test_params_at_places_and_shares_with_call_attrs_free() -> None:
    g = graph(PLACED)
    # one 4x4x3x3 conv + bias at `conv` (c1 runs it unstrided), GroupNorm at norms.first
    assert g.param_names() == {"conv.weight": (4, 4, 3, 3), "conv.bias": (4,),
                               "norms.first.weight": (4,), "norms.first.bias": (4,)}
    assert g.nodes["c1"].owner == "c0" and g.nodes["c1"].shape == ("B", 4, 8, 8)
    assert g.nodes["c0"].shape == ("B", 4, 8, 8)


def test_params_at_on_scopes_moves_everything_inside() -> None:
    g = graph(SCOPED)
    assert set(g.param_names()) == {"fc.weight", "fc.bias", "area.two.fc.weight", "area.two.fc.bias",
                                    "area.two.out.weight", "area.two.out.bias"}
    assert g.nodes["moved.out.linear_0"].at == "area.two.out"


@pytest.mark.parametrize("text", [TIED, BLOCKS, PLACED, SCOPED], ids=["tied", "blocks", "placed", "scoped"])
def test_render_keeps_sharing(text: str) -> None:
    g = graph(text)
    again = graph(render_spec(g, "yaml"))
    assert again.param_names() == g.param_names()
    assert {p: n.owner for p, n in again.nodes.items()} == {p: n.owner for p, n in g.nodes.items()}


def test_torch_has_one_parameter_and_computes_the_tied_mlp() -> None:
    torch = pytest.importorskip("torch")
    from modelspec.build import build_graph

    g = graph(TIED)
    torch.manual_seed(0)
    m = build_graph(g, "torch").eval()
    assert [k for k, _ in m.named_parameters()] == ["a.weight", "a.bias", "head.weight", "head.bias"]
    assert sum(p.numel() for p in m.parameters()) == g.n_params
    x = torch.randn(5, 8)
    F = torch.nn.functional
    w, bias = m.a.weight, m.a.bias
    want = F.linear(F.linear(torch.relu(F.linear(x, w, bias)), w, bias), m.head.weight, m.head.bias)
    with torch.no_grad():
        assert torch.equal(m(x), want)
    m(x).sum().backward()  # both call sites add into one gradient
    assert m.a.weight.grad is not None and m.a.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("text", [TIED, BLOCKS, PLACED, SCOPED], ids=["tied", "blocks", "placed", "scoped"])
def test_jax_has_one_entry_and_agrees_with_torch(text: str) -> None:
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    from modelspec.build import build_graph
    from modelspec.parity import compare

    g = graph(text)
    mod = build_graph(g, "jax")
    import jax

    params = mod.init(jax.random.PRNGKey(0))
    assert set(params) == set(g.param_names())
    r = compare(g, via_file=True, batch=2)
    np.testing.assert_allclose(r.jax, r.torch, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("text", "code", "words"), [
    (HEAD + "layers:\n  - {name: a, op: Linear, features: 8}\n  - {name: b, op: Linear, features: 8, share: nope}\n",
     "MS040", "`nope` names nothing"),
    (HEAD + "layers:\n  - {name: a, op: Linear, features: 8}\n  - {name: b, op: Linear, features: 8, share: b}\n",
     None, ""),  # sharing with itself is owning
    (HEAD + "layers:\n  - {name: a, op: Linear, features: 8, share: b}\n  - {name: b, op: Linear, features: 8, "
     "share: a}\n", "MS070", "in a circle"),
    (HEAD + "blocks:\n  R:\n    layers: [{name: fc, op: Linear, features: 8}]\nlayers:\n  - {name: r, block: R}\n"
     "  - {name: b, op: Linear, features: 8, share: r}\n", "MS070", "is a block instance or group"),
    (HEAD + "layers:\n  - {name: a, op: Linear, features: 8}\n  - {name: b, op: Linear, features: 8, share: a, "
     "params_at: c}\n", "MS074", "not both"),
    (HEAD + "layers:\n  - {op: Linear, features: 8, params_at: \"a b\"}\n", "MS074", "dotted path"),
    (HEAD + "layers:\n  - repeat: 2\n    share: x\n    layers: [ReLU]\n", "MS070", "unnamed group"),
    ("modelspec: 1\nname: T\ninputs:\n  x: [B, 4, 8, 8]\nlayers:\n"
     "  - {name: a, op: Conv2d, channels: 4, kernel: 3, padding: 1}\n"
     "  - {name: b, op: Conv2d, channels: 4, kernel: 1, share: a}\n", "MS071", "its `kernel` is 1 and theirs 3"),
])
def test_sharing_errors(text: str, code: str | None, words: str) -> None:
    res = compile_text(text, "t.yaml")
    found = [(d.code, d.message) for d in res.diags if d.is_error]
    if code is None:
        assert found == []
        return
    assert any(c == code and words in m for c, m in found), found


def test_place_params_returns_a_new_graph() -> None:
    from modelspec.diagnostics import Diagnostics
    from modelspec.ir.share import place_params

    g = graph(TIED)
    again = place_params(g, Diagnostics())
    assert again is not g and again.nodes["b"] is not g.nodes["b"]
    assert again.param_names() == g.param_names() and g.nodes["b"].owner == "a"


def _placement(g):  # type: ignore[no-untyped-def]
    return {p: (n.holder, n.owner, dict(n.params), dict(n.shared), n.at) for p, n in g.nodes.items()}


@pytest.mark.parametrize("text", [TIED, BLOCKS, PLACED, SCOPED])
def test_place_params_leaves_its_input_as_it_was(text: str) -> None:
    """The pass reads a shaped graph and returns the placed one: the graph it read keeps every
    node unplaced (each at its own path, or where its own `params_at` says), and nodes it did
    not need to change are shared, not copied."""
    from modelspec.diagnostics import Diagnostics
    from modelspec.ir.check import check_graph
    from modelspec.ir.infer import infer_shapes
    from modelspec.ir.share import place_params

    placed = graph(text)
    diags = Diagnostics()
    shaped = infer_shapes(check_graph(placed, diags), diags)  # ``placed`` came from the whole pipeline
    shaped = dataclasses.replace(shaped, nodes={p: dataclasses.replace(n, holder="", owner=None, shared={})
                                                for p, n in shaped.nodes.items()})
    before = _placement(shaped)
    again = place_params(shaped, diags)
    assert not diags.has_errors
    assert _placement(shaped) == before  # nothing written into the input
    assert all(n.owner is None and not n.shared for n in shaped.nodes.values())
    assert _placement(again) == _placement(placed)  # the same placement as the pipeline's
    moved = {p for p, n in again.nodes.items() if n.owner is not None or n.at != (n.params_at or p)}
    assert all(again.nodes[p] is shaped.nodes[p] for p in again.nodes if p not in moved)
    assert all(again.nodes[p] is not shaped.nodes[p] for p in moved)


EDGE = HEAD + textwrap.dedent("""\
    time: {steps: 3}
    blocks:
      Area:
        layers: [{name: fc, op: Linear, features: 8}, {name: act, op: Tanh}]
        edges:
          - {name: rec, from: act, to: fc, delay: 1, via: {op: Linear, features: 8}, params_at: recurrent}
    layers:
      - {name: A, block: Area}
    """)


def test_edge_params_at_places_the_via() -> None:
    g = graph(EDGE)
    assert g.nodes["A.edges.rec.via"].at == "A.recurrent"
    assert set(g.param_names()) == {"A.fc.weight", "A.fc.bias", "A.recurrent.weight", "A.recurrent.bias"}
    res = compile_text(EDGE.replace("via: {op: Linear, features: 8}, ", ""), "t.yaml")
    assert [(d.code, d.pos.line) for d in res.diags if d.is_error] == [("MS074", 10)]


def test_edge_params_at_runs_in_both_backends() -> None:
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    from modelspec.parity import compare

    r = compare(graph(EDGE), via_file=True, batch=2)
    np.testing.assert_allclose(r.jax, r.torch, atol=1e-5, rtol=1e-5)

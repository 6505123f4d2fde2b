"""The reach pass (modelspec.ir.reach) against values worked out by hand, and where it shows.

For each node: the first step whose value depends on the input (the shortest
delayed path from an input) and how many steps back it reaches (the longest,
unbounded through a cycle or a stateful op).
"""

from __future__ import annotations

import json
import pathlib

from typer.testing import CliRunner

from modelspec.cli import app
from modelspec.commands.graph import to_dot, to_mermaid
from modelspec.commands.summary import summary_dict
from modelspec.ir.reach import Reach, reach
from modelspec.pipeline import compile_file, compile_text, load

SPECS = pathlib.Path(__file__).resolve().parent.parent / "specs"
runner = CliRunner()

# x -> a; b = a + a(t-2); c = b(t-1); d = c + edge x(t-4) via Linear; e = EulerStep(d(t-2)) (state)
HANDMADE = """modelspec: 1
name: Hand
time: {steps: 6}
inputs:
  x: [B, 4]
outputs:
  d: d
  e: e
layers:
  - {name: a, op: Linear, features: 4}
  - {name: b, op: Add, in: [a, {from: a, delay: 2}]}
  - {name: c, op: Identity, in: {from: b, delay: 1}}
  - {name: d, op: Linear, features: 4}
  - {name: e, op: EulerStep, in: {from: d, delay: 2}}
edges:
  - {name: late, from: x, to: d, delay: 4, via: {op: Linear, features: 4}}
"""


def test_a_handmade_spec_by_hand() -> None:
    r = compile_text(HANDMADE)
    assert r.ok, [str(d) for d in r.diags.sorted()]
    got = reach(r.graph)
    want = {
        "a": Reach(0, 0),  # reads x now
        "b": Reach(0, 2),  # a now and a two steps back
        "c": Reach(1, 3),  # b one step back
        "edges.late.via": Reach(4, 4),  # x four steps back, through the edge's Linear
        "d": Reach(1, 4),  # c (1..3) plus the late edge (4)
        "e": Reach(3, None),  # d two steps back, then its own state: every earlier step
    }
    assert got.nodes == want
    assert got.outputs == {"d": Reach(1, 4), "e": Reach(3, None)}
    assert got.nodes["e"].unbounded and not got.nodes["d"].unbounded
    assert got.nodes["e"].text() == ("3", "∞") and got.nodes["b"].text() == ("0", "2")


def test_the_graph_is_not_changed() -> None:
    g = compile_text(HANDMADE).graph
    before = repr(g)
    reach(g)
    assert repr(g) == before


def test_cornet_rt_by_hand() -> None:
    """Each area reads the one below a step back: V1 sees the image at 0, V2 at 1, V4 at 2, IT and
    the decoder at 3; each area's state (skip reads nonlin1 at t-1) makes every history unbounded,
    except the input conv of V1's edge, which reads only x now."""
    g = load(SPECS / "cornet_rt.yaml")
    r = reach(g)
    for area, first in (("V1", 0), ("V2", 1), ("V4", 2), ("IT", 3)):
        for node in ("skip", "conv1", "norm1", "nonlin1"):
            assert r.nodes[f"{area}.{node}"] == Reach(first, None), (area, node)
    assert r.nodes["V1.edges.input.via.conv_input"] == Reach(0, 0)
    assert r.nodes["V2.edges.input.via.conv_input"] == Reach(1, None)  # V1.nonlin1 (t-1): recurrent
    assert r.nodes["decoder.linear"] == Reach(3, None)
    assert r.outputs == {"logits": Reach(3, None)}


def test_dyrcnn_by_hand() -> None:
    """Feed-forward convs without delay: every area sees the image at step 0; the recurrence
    edge's via reads relu three steps back (6 ms at dt 2 ms), so it first sees it at step 3; the
    leaky Euler state makes every history unbounded."""
    g = load(SPECS / "dyrcnn_x4.yaml")
    r = reach(g)
    for area in ("V1", "V2", "V4", "IT"):
        assert r.nodes[f"{area}.conv"] == r.nodes[f"{area}.relu"] == Reach(0, None)
        assert r.nodes[f"{area}.edges.recurrence.via"] == Reach(3, None)
    assert r.outputs == {"logits": Reach(0, None)}
    g = load(SPECS / "dyrcnn_x4.yaml", {"delay": "10ms", "recurrence": "none"})
    r = reach(g)
    assert r.nodes["V1.conv"] == Reach(0, 0)  # without the recurrence edge V1.conv reads only x
    assert r.nodes["V1.dyn"] == r.nodes["V2.conv"] == Reach(0, None)  # the Euler state (relu at t-1) counts


def test_a_feed_forward_time_model_has_bounded_history() -> None:
    text = HANDMADE.replace("  e: e\n", "").replace("  - {name: e, op: EulerStep, in: {from: d, delay: 2}}\n", "")
    r = reach(compile_text(text).graph)
    assert all(v.history is not None for v in r.nodes.values())


def test_an_output_that_never_sees_the_input_is_warned() -> None:
    text = ("modelspec: 1\nname: Blind\ntime: {steps: 3}\ninputs:\n  x: [B, 4]\noutputs:\n  y: late\n"
            "layers:\n  - {name: late, op: Identity, in: {from: x, delay: 3}}\n")
    r = compile_text(text)
    assert r.ok
    (d,) = [d for d in r.diags.sorted() if d.code == "MS062"]
    assert d.message == ("output `y` never sees the input: it first sees the input at step 3, "
                         "but the model runs 3 steps (0 .. 2)")
    assert d.pos.line == 7 and "at least 4" in (d.suggestion or "")
    assert not [d for d in compile_text(text.replace("steps: 3", "steps: 4")).diags.sorted() if d.code == "MS062"]


def test_summary_shows_columns_json_and_footer() -> None:
    res = runner.invoke(app, ["summary", str(SPECS / "cornet_rt.yaml")], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "first step" in res.output and "history" in res.output
    line = next(ln for ln in res.output.splitlines() if ln.lstrip().startswith("logits"))
    assert line.split()[-2:] == ["3", "∞"]
    assert "Output logits: first sees the input at step 3 of 5; history: every earlier step" in res.output
    d = summary_dict(load(SPECS / "cornet_rt.yaml"))
    node = next(n for n in d["nodes"] if n["path"] == "V2.skip")
    assert node["reach"] == {"first_step": 1, "history": None, "history_unbounded": True}
    assert d["outputs"][0]["reach"] == {"first_step": 3, "history": None, "history_unbounded": True}
    res = runner.invoke(app, ["summary", str(SPECS / "mlp.yaml"), "--format", "json"])
    assert "reach" not in res.output and "first step" not in runner.invoke(app, ["summary", str(SPECS / "mlp.yaml")]).output
    res = runner.invoke(app, ["summary", str(SPECS / "cornet_rt.yaml"), "--format", "markdown"])
    assert "| first step | history |" in res.output


def test_summary_json_for_the_handmade_spec(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "hand.yaml"
    f.write_text(HANDMADE)
    res = runner.invoke(app, ["summary", str(f), "--format", "json"])
    d = json.loads(res.output)
    got = {n["path"]: (n["reach"]["first_step"], n["reach"]["history"]) for n in d["nodes"]}
    assert got == {"a": (0, 0), "b": (0, 2), "c": (1, 3), "edges.late.via": (4, 4), "d": (1, 4), "e": (3, None)}


def test_graph_labels() -> None:
    g = compile_file(SPECS / "cornet_rt.yaml").graph
    dot = to_dot(g)
    assert '"V2.skip" [label="skip\\nIdentity\\n[B, 128, 28, 28]\\nt≥1 · history ∞"' in dot
    assert '"out:logits" [label="logits\\n[B, 1000]\\nt≥3 · history ∞"' in dot
    assert "t≥1 · history ∞" in to_mermaid(g)
    hand = to_dot(compile_text(HANDMADE).graph)
    assert "t≥4 · history 4" in hand  # the folded edge box: its chain's end
    assert "t≥" not in to_dot(load(SPECS / "mlp.yaml"))

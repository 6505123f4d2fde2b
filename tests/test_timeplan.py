"""The time plan against hand-worked values, and both emitters following it.

DyRCNNx4: each area reads its own ReLU 1 step back (the Euler state) and 3 steps
back (the recurrence edge, 6 ms at dt = 2 ms), so each ReLU needs a buffer of
depth 3; the recurrence edges start at step 3, the skips at once; so two phases,
[0, 3) with the skips only and [3, 20) with everything.  CORnet-RT: every area
reads its own output 1 step back, areas above V1 read the one below through a
delayed edge, so depth 1 everywhere and phases [0, 1) and [1, 5).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelspec.ir.timeplan import Addition, Emission, Phase, lower_time
from modelspec.pipeline import compile_text, load
from tests.helpers import echo

ROOT = Path(__file__).resolve().parent.parent
AREAS = ("V1", "V2", "V4", "IT")

ECHO = echo(tleak_delay=3, edge_delay=4, x_edge=True)


def test_dyrcnn_plan() -> None:
    plan = lower_time(load(ROOT / "specs" / "dyrcnn_x4.yaml"))
    assert (plan.steps, plan.idle, plan.total, plan.first_emitted) == (20, 0, 20, 0)
    assert plan.depths == tuple((f"{a}.relu", 3) for a in AREAS)
    rec = {a: f"{a}.edges.recurrence" for a in AREAS}
    skips = frozenset({"edges.skip_V1_V4", "edges.skip_V2_IT"})
    assert plan.phases == (Phase(0, 3, skips, idle=False),
                           Phase(3, 20, skips | frozenset(rec.values()), idle=False))
    assert dict(plan.delayed_inputs) == {
        **{(f"{a}.edges.recurrence.via", 0): 3 for a in AREAS}, **{(f"{a}.dyn", 1): 1 for a in AREAS}}
    assert plan.into("V1.conv") == (
        Addition("V1.edges.recurrence", "V1.relu", 3, "V1.edges.recurrence.via",
                 ("V1.edges.recurrence.via",), start=3),)
    assert plan.into("V4.conv") == (
        Addition("V4.edges.recurrence", "V4.relu", 3, "V4.edges.recurrence.via",
                 ("V4.edges.recurrence.via",), start=3),
        Addition("edges.skip_V1_V4", "V1.relu", 0, "edges.skip_V1_V4.adapt",
                 ("edges.skip_V1_V4.resize", "edges.skip_V1_V4.adapt"), start=0))
    assert plan.into("V1.dyn") == ()
    assert plan.emissions == (Emission("logits", "classifier", "all"),)
    assert plan.active("V2.edges.recurrence", 3) and not plan.active("V2.edges.recurrence", 0)


def test_dyrcnn_feedback_plan_adds_the_feedback_edges_at_their_delay() -> None:
    plan = lower_time(load(ROOT / "specs" / "dyrcnn_x4.yaml", {"feedback": True, "delay": "4ms"}))
    # delay 4 ms = 2 steps now; the feedback edges read V4/IT 2 steps back through their adapters
    assert plan.depths == tuple((f"{a}.relu", 2) for a in AREAS)
    assert [(p.start, p.stop) for p in plan.phases] == [(0, 2), (2, 20)]
    assert {"edges.feedback_V4_V1", "edges.feedback_IT_V2"} <= plan.phases[1].edges
    assert not {"edges.feedback_V4_V1", "edges.feedback_IT_V2"} & plan.phases[0].edges
    fb = [a for a in plan.into("V1.conv") if a.edge == "edges.feedback_V4_V1"]
    assert len(fb) == 1 and fb[0].start == 2 and fb[0].source == "V4.relu" and fb[0].chain


def test_cornet_rt_plan() -> None:
    plan = lower_time(load(ROOT / "specs" / "cornet_rt.yaml"))
    assert (plan.steps, plan.total) == (5, 5)
    assert plan.depths == tuple((f"{a}.nonlin1", 1) for a in AREAS)
    inputs = {a: f"{a}.edges.input" for a in AREAS}
    assert plan.phases == (Phase(0, 1, frozenset({inputs["V1"]}), idle=False),
                           Phase(1, 5, frozenset(inputs.values()), idle=False))
    assert plan.into("V1.skip")[0].source == "x" and plan.into("V1.skip")[0].start == 0
    for below, area in zip(AREAS, AREAS[1:]):
        (a,) = plan.into(f"{area}.skip")
        assert (a.source, a.delay, a.start) == (f"{below}.nonlin1", 1, 1)
        assert a.chain == tuple(f"{area}.edges.input.via.{n}" for n in ("conv_input", "norm_input", "nonlin_input"))
        assert a.value == a.chain[-1]
    assert plan.emissions == (Emission("logits", "decoder.linear", "last"),)


def test_idle_steps_edges_without_chain_and_prev() -> None:
    r = compile_text(ECHO)
    assert r.ok, r.diags.sorted()
    plan = lower_time(r.graph)
    assert (plan.steps, plan.idle, plan.total, plan.first_emitted) == (8, 2, 10, 2)
    # x: read 6 back by `late` and 1 back by a plain edge; total: 3 back by tleak, 4 by the chain
    assert plan.depths == (("x", 6), ("total", 4))
    # phases cut at the end of idle (2), and where the edges start (1 and 4)
    assert [(p.start, p.stop, p.idle) for p in plan.phases] == [(0, 1, True), (1, 2, True), (2, 4, False),
                                                                 (4, 10, False)]
    assert [sorted(p.edges) for p in plan.phases] == [
        [], ["edges.x_to_late"], ["edges.x_to_late"], ["edges.total_to_late", "edges.x_to_late"]]
    plain = [a for a in plan.into("late") if not a.chain]
    assert plain == [Addition("edges.x_to_late", "x", 1, "x", (), start=1)]
    # a node reading its own previous value gets depth 1, in evaluation order
    assert plan.with_prev(["leak"]).depths == (("x", 6), ("leak", 1), ("total", 4))
    assert plan.with_prev(["total"]).depths == plan.depths
    assert [e.steps for e in plan.emissions] == ["all", "last", "all"]


UNTIMED = """
modelspec: 1
name: Skip
inputs: {x: [B, 4]}
outputs: {y: b}
layers:
  - {name: a, op: Linear, features: 4}
  - {name: b, op: Linear, features: 4}
edges:
  - {from: x, to: b}
"""


def test_untimed_graph_has_no_phases() -> None:
    r = compile_text(UNTIMED)
    assert r.ok, r.diags.sorted()
    plan = lower_time(r.graph)
    assert not plan.timed and plan.phases == () and plan.depths == ()
    assert plan.into("b") == (Addition("edges.x_to_b", "x", 0, "x", (), start=0),)


# ---- the emitters follow the plan ------------------------------------------------

jax = pytest.importorskip("jax")


def _count(jaxpr, name: str) -> int:  # type: ignore[no-untyped-def]
    n = 0
    for eqn in jaxpr.eqns:
        n += eqn.primitive.name == name
        for v in eqn.params.values():
            for sub in (v if isinstance(v, (list, tuple)) else [v]):
                inner = getattr(sub, "jaxpr", None)
                if inner is not None and hasattr(inner, "eqns"):
                    n += _count(inner, name)
                elif hasattr(sub, "eqns"):
                    n += _count(sub, name)
    return n


@pytest.mark.parametrize("steps", [5, 80])
def test_jax_traces_no_work_before_a_delay_and_moves_one_step_of_state(steps: int) -> None:
    """One scan per phase whatever the number of steps; the first phase holds no
    recurrent convolution; buffers are written one slot per step, never concatenated."""
    import jax.numpy as jnp

    from modelspec.build import build_graph

    g = load(ROOT / "specs" / "dyrcnn_x4.yaml", {"steps": steps})
    mod = build_graph(g, "jax")
    p = mod.init(jax.random.PRNGKey(0))
    x = jax.ShapeDtypeStruct((2, steps, 3, 32, 32), jnp.float32)
    top = jax.make_jaxpr(lambda p, x: mod.apply(p, {}, x)[0])(p, x).jaxpr
    scans = [e for e in top.eqns if e.primitive.name == "scan"]
    assert [e.params["length"] for e in scans] == [3, steps - 3]
    bodies = [e.params["jaxpr"].jaxpr for e in scans]
    # 4 feed-forward convs and 2 skip adapters always; 4 recurrent convs from step 3 on
    assert [_count(b, "conv_general_dilated") for b in bodies] == [6, 10]
    for b in bodies:
        assert _count(b, "concatenate") == 0
        assert _count(b, "dynamic_update_slice") == 4  # one slot per buffered ReLU


def test_torch_skips_the_same_edges() -> None:
    from modelspec.backends.torch import emit_torch

    g = load(ROOT / "specs" / "dyrcnn_x4.yaml")
    src = emit_torch(g)
    assert src.count("if t >= 3:") == 4  # the four recurrence edges, from the plan's start
    r = compile_text(ECHO)
    src = emit_torch(r.graph)
    assert "if t >= 4:" in src and "if t >= 1:" in src

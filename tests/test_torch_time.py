"""Time models in the Torch backend (docs/language.md, section 7), against step-by-step simulations
written here from the spec's wording."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from modelspec.backends.torch import emit_torch  # noqa: E402
from modelspec.build import build_graph  # noqa: E402
from modelspec.pipeline import compile_text  # noqa: E402
from tests.helpers import echo  # noqa: E402

ECHO = echo(tleak_delay=2, edge_delay=2, train_tau=True)


def build(text: str, name: str = "spec.yaml") -> tuple[object, torch.nn.Module]:
    r = compile_text(text, name)
    assert r.ok, r.diags.sorted()
    return r.graph, build_graph(r.graph)


def simulate_echo(model: torch.nn.Module, x: torch.Tensor, s: torch.Tensor) -> dict[str, torch.Tensor]:
    """SPEC section 7, step by step: idle zero steps first, delays read zeros, edges wait."""
    idle, b, steps = 2, x.shape[0], x.shape[1]
    lin = model.edges.total_to_late.via
    tau = model.tleak.tau
    xs = [torch.zeros(b, 4)] * idle + [x[:, k] for k in range(steps)]
    zero = torch.zeros(b, 4)
    leak, total, late = [], [], []
    for t in range(idle + steps):
        s_t = s if t >= idle else zero
        h = leak[t - 1] if t >= 1 else zero
        leak.append(h + (1 / 4) * (xs[t] - h))
        h2 = total[t - 2] if t >= 2 else zero
        tleak = h2 + (1 / tau) * (xs[t] - h2)
        total.append(leak[t] + s_t + tleak)
        value = xs[t - 6] if t >= 6 else zero
        if t >= 2:  # the edge's Linear (and its bias) only from t = delay on
            value = value + F.linear(total[t - 2], lin.weight, lin.bias)
        late.append(value)
    return {"late": torch.stack(late[idle:], 1), "total": total[-1], "leak": torch.stack(leak[idle:], 1)}


def test_time_semantics_match_a_step_by_step_simulation() -> None:
    g, model = build(ECHO)
    with torch.no_grad():
        model.edges.total_to_late.via.bias.fill_(0.5)  # a leaking bias would show
    x, s = torch.randn(3, 8, 4), torch.randn(3, 4)
    got = model(x, s)
    want = simulate_echo(model, x, s)
    assert set(got) == {"late", "total", "leak"}  # several outputs: a dict by name
    assert got["late"].shape == (3, 8, 4) and got["total"].shape == (3, 4)
    for k in want:
        torch.testing.assert_close(got[k], want[k])
    torch.testing.assert_close(model(x, s)["late"], got["late"])  # state resets on every call


def test_time_axis_length_comes_from_the_input() -> None:
    _, model = build(ECHO)
    out = model(torch.randn(2, 5, 4), torch.randn(2, 4))
    assert out["late"].shape == (2, 5, 4)


def test_euler_step_first_value_and_trainable_tau() -> None:
    _, model = build(ECHO)
    assert dict(model.named_parameters())["tleak.tau"].shape == ()
    x = torch.randn(2, 8, 4)
    out = model(x, torch.zeros(2, 4))
    # with idle steps of zero input, the leak state is still 0 when x arrives
    torch.testing.assert_close(out["leak"][:, 0], 0.25 * x[:, 0])
    out["total"].sum().backward()
    assert model.tleak.tau.grad is not None


FEEDBACK = """
modelspec: 1
name: Loop
time: {steps: 6, dt: 2}
inputs: {x: [B, 3]}
outputs: {y: {from: relu, steps: all}}
layers:
  - {name: fc, op: Linear, features: 3}
  - {name: dyn, op: EulerStep, tau: 4}
  - {name: relu, op: ReLU}
edges:
  - {name: back, from: relu, to: fc, delay: 3, via: {op: Linear, features: 3}}
"""


def test_recurrent_edge_and_euler_without_second_input() -> None:
    _, model = build(FEEDBACK)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3)
    x = torch.randn(2, 6, 3)
    fc, back = model.fc, model.edges.back.via
    r, dyn = [], []
    for t in range(6):
        u = F.linear(x[:, t], fc.weight, fc.bias)
        if t >= 3:
            u = u + F.linear(r[t - 3], back.weight, back.bias)
        h = dyn[t - 1] if t else torch.zeros(2, 3)  # its own previous output
        dyn.append(h + (2 / 4) * (u - h))
        r.append(F.relu(dyn[t]))
    torch.testing.assert_close(model(x), torch.stack(r, 1))


def test_static_input_without_time_axis_and_last_step() -> None:
    spec = """
modelspec: 1
name: Still
time: {steps: 4}
inputs: {img: {shape: [B, 2, 5, 5], static: true}}
outputs: {y: {from: acc, steps: last}}
layers:
  - {name: conv, op: Conv2d, channels: 2, kernel: 3, padding: 1}
  - {name: acc, op: Add, in: [conv, {from: acc, delay: 1}]}
"""
    _, model = build(spec)
    img = torch.randn(3, 2, 5, 5)
    y = model(img)
    torch.testing.assert_close(y, 4 * model.conv(img))  # four steps of the same image
    source = emit_torch(compile_text(spec, "s.yaml").graph)
    assert "for t in range(4):" in source


def test_untimed_model_has_no_loop() -> None:
    _, model = build("""
modelspec: 1
name: Plain
inputs: {x: [B, 3]}
layers: [{op: Linear, features: 2}]
""")
    assert model(torch.randn(5, 3)).shape == (5, 2)


def test_hostile_symbol_and_node_names_in_a_time_model() -> None:
    """Symbols and nodes named like the emitted code's own locals (t, self, F) stay apart."""
    _, model = build("""
modelspec: 1
name: Sym
time: {steps: 3}
inputs: {x: [t, self, 2]}
layers:
  - {name: F, op: Add, in: [x, {from: F, delay: 1}]}
""")
    x = torch.randn(2, 3, 4, 2)
    torch.testing.assert_close(model(x), x.cumsum(1))

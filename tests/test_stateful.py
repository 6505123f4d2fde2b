"""`build --stateful`: a stream fed in chunks gives what one whole-sequence call gives.

The truth is the plain module (the one every other test checks against the
reference implementations) run over the whole sequence: the stateful module,
fed the same steps as chunks whose boundaries cut through every delay (delay
buffers of nodes and of inputs, edges with and without a chain, the Euler
state, idle steps), must give the same outputs, in Torch and in JAX, and the
two backends must agree with each other.
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from modelspec.build import build_graph, emit
from modelspec.cli import app
from modelspec.pipeline import compile_text, load

torch = pytest.importorskip("torch")

SPECS = pathlib.Path(__file__).resolve().parent.parent / "specs"
runner = CliRunner()

#: small DyRCNN: every area's recurrence reads 3 steps back, feedback 5 steps back
DYRCNN = {"size": 16, "channels": [4, 8, 8, 16], "feedback": True, "delay": "10ms"}

# a delayed input (a buffer on x), a plain delayed edge, a chain edge with delay 3
# (Linear, BatchNorm), the Euler state, two outputs (every step and the last)
HANDMADE = """modelspec: 1
name: Stream
time: {steps: 9, idle: 2}
inputs:
  x: [B, 6]
outputs:
  y: {from: e, steps: all}
  last: {from: d, steps: last}
layers:
  - {name: a, op: Linear, features: 6}
  - {name: b, op: Add, in: [a, {from: x, delay: 2}]}
  - {name: c, op: EulerStep, tau: 3}
  - {name: d, op: Tanh}
  - {name: e, op: Linear, features: 4}
edges:
  - {name: back, from: d, to: b, delay: 1}
  - {name: late, from: x, to: c, delay: 3, via: {layers: [{op: Linear, features: 6}, {op: BatchNorm1d}]}}
"""


def handmade():  # noqa: ANN201
    r = compile_text(HANDMADE)
    assert r.ok, [str(d) for d in r.diags.sorted()]
    return r.graph


def torch_pair(g: Any) -> tuple[Any, Any]:
    torch.manual_seed(0)
    plain = build_graph(g, "torch")
    stream = build_graph(g, "torch", stateful=True)
    with torch.no_grad():
        for p in plain.parameters():
            p.uniform_(-0.5, 0.5)  # no zero biases: a wrongly active edge would show
    stream.load_state_dict(plain.state_dict())
    return plain.eval(), stream.eval()


def torch_chunks(stream: Any, x: Any, chunks: list[int], **kw: Any) -> tuple[list[Any], dict]:
    outs, state, t = [], None, 0
    for c in chunks:
        y, state = stream(x[:, t:t + c], state, **kw)
        outs.append(y)
        t += c
    return outs, state


def cat(outs: list[Any], key: str | None = None) -> Any:
    return torch.cat([o[key] if key else o for o in outs], dim=1)


@pytest.mark.parametrize("chunks", [[5, 7, 8], [1, 2, 3, 14], [20]])
def test_torch_dyrcnn_chunks_equal_the_whole_sequence(chunks: list[int]) -> None:
    g = load(SPECS / "dyrcnn_x4.yaml", DYRCNN)
    plain, stream = torch_pair(g)
    x = torch.randn(2, 20, 3, 16, 16)
    with torch.no_grad():
        whole = plain(x)
        outs, state = torch_chunks(stream, x, chunks)
    torch.testing.assert_close(cat(outs), whole, rtol=0, atol=0)
    assert state["t"] == 20 and set(state["bufs"]) == {"V1.relu", "V2.relu", "V4.relu", "IT.relu"}
    assert len(state["bufs"]["V4.relu"]) == 5  # feedback V4 -> V1 reads 5 steps back


def test_torch_handmade_chunks_idle_and_two_outputs() -> None:
    g = handmade()
    plain, stream = torch_pair(g)
    x = torch.randn(3, 9, 6)
    with torch.no_grad():
        whole = plain(x)
        outs, state = torch_chunks(stream, x, [2, 1, 4, 2])
        fresh = stream(x, stream.initial_state(x))[0]
    torch.testing.assert_close(cat(outs, "y"), whole["y"], rtol=0, atol=0)
    torch.testing.assert_close(outs[-1]["last"], whole["last"], rtol=0, atol=0)
    torch.testing.assert_close(fresh["y"], whole["y"], rtol=0, atol=0)
    assert state["t"] == 2 + 9  # the idle steps ran once, at the start
    assert set(state["bufs"]) == {"x", "c", "d"}  # x read 2 back, the Euler state, the back edge


def test_torch_static_input_takes_steps() -> None:
    """CORnet-RT's image is static; chunks give their length with `steps=`; the logits (last step)."""
    g = load(SPECS / "cornet_rt.yaml", {"inputs.x.shape": ["B", 3, 64, 64], "classes": 7})
    plain, stream = torch_pair(g)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        whole = plain(x)
        a, state = stream(x, steps=3)
        b, state = stream(x, state, steps=2)
    torch.testing.assert_close(b, whole, rtol=0, atol=0)
    assert state["t"] == 5 and not torch.equal(a, whole)


def test_the_plain_module_is_unchanged() -> None:
    g = handmade()
    assert "initial_state" not in emit(g, "torch") and "carry=None" not in emit(g, "jax")


def jax_from_torch(mod: Any, plain_torch: Any) -> tuple[dict, dict]:
    sd = {k: v.detach().numpy() for k, v in plain_torch.state_dict().items()}
    return mod.split_state_dict(sd)


def jax_chunks(apply: Any, params: dict, state: dict, x: np.ndarray, chunks: list[int], **kw: Any) -> tuple:
    outs, carry, t = [], None, 0
    for c in chunks:
        y, state, carry = apply(params, state, {"x": x[:, t:t + c]}, carry, **kw)
        outs.append(y)
        t += c
    return outs, carry


def test_jax_dyrcnn_chunks_equal_whole_and_torch() -> None:
    jax = pytest.importorskip("jax")
    g = load(SPECS / "dyrcnn_x4.yaml", DYRCNN)
    plain_t, stream_t = torch_pair(g)
    plain, stream = build_graph(g, "jax"), build_graph(g, "jax", stateful=True)
    params, state = jax_from_torch(plain, plain_t)
    x = np.random.default_rng(1).standard_normal((2, 20, 3, 16, 16)).astype(np.float32)
    whole = np.asarray(plain.apply(params, state, {"x": x})[0])
    apply = jax.jit(stream.apply, static_argnames="train")
    outs, carry = jax_chunks(apply, params, state, x, [5, 7, 8])
    np.testing.assert_array_equal(np.concatenate([np.asarray(o) for o in outs], 1), whole)
    assert int(carry["t"]) == 20
    with torch.no_grad():
        t_outs, _ = torch_chunks(stream_t, torch.from_numpy(x), [5, 7, 8])
    np.testing.assert_allclose(cat(t_outs).numpy(), whole, rtol=1e-4, atol=1e-5)


def test_jax_handmade_idle_buffers_and_batchnorm_in_a_late_edge() -> None:
    jax = pytest.importorskip("jax")
    g = handmade()
    plain_t, stream_t = torch_pair(g)
    plain, stream = build_graph(g, "jax"), build_graph(g, "jax", stateful=True)
    params, state = jax_from_torch(plain, plain_t)
    x = np.random.default_rng(2).standard_normal((3, 9, 6)).astype(np.float32)
    whole, _ = plain.apply(params, state, {"x": x})
    outs, carry = jax_chunks(stream.apply, params, state, x, [2, 1, 4, 2])
    np.testing.assert_array_equal(np.concatenate([np.asarray(o["y"]) for o in outs], 1), np.asarray(whole["y"]))
    np.testing.assert_array_equal(np.asarray(outs[-1]["last"]), np.asarray(whole["last"]))
    assert int(carry["t"]) == 11 and set(carry["bufs"]) == {"x", "c", "d"}
    init = stream.initial_carry({"x": x[:, :2]})
    assert int(init["t"]) == 0 and not np.any(np.asarray(init["bufs"]["x"]))
    # training: BatchNorm of the late edge updates its running stats only from step 3 on
    _, st_whole = plain.apply(params, state, {"x": x}, train=True)
    st = state
    carry = None
    for lo, hi in ((0, 2), (2, 3), (3, 9)):
        _, st, carry = stream.apply(params, st, {"x": x[:, lo:hi]}, carry, train=True)
    for k in st_whole:
        np.testing.assert_allclose(np.asarray(st[k]), np.asarray(st_whole[k]), rtol=1e-6, atol=1e-6, err_msg=k)
    with torch.no_grad():
        t_outs, _ = torch_chunks(stream_t, torch.from_numpy(x), [2, 1, 4, 2])
    np.testing.assert_allclose(cat(t_outs, "y").numpy(), np.asarray(whole["y"]), rtol=1e-5, atol=1e-6)


def test_jax_static_input_takes_steps() -> None:
    pytest.importorskip("jax")
    g = load(SPECS / "cornet_rt.yaml", {"inputs.x.shape": ["B", 3, 64, 64], "classes": 7})
    plain, stream = build_graph(g, "jax"), build_graph(g, "jax", stateful=True)
    params = plain.init(__import__("jax").random.PRNGKey(0))
    x = np.random.default_rng(3).standard_normal((1, 3, 64, 64)).astype(np.float32)
    whole = np.asarray(plain.apply(params, {}, {"x": x})[0])
    _, _, carry = stream.apply(params, {}, {"x": x}, steps=3)
    got, _, carry = stream.apply(params, {}, {"x": x}, carry, steps=2)
    np.testing.assert_allclose(np.asarray(got), whole, rtol=1e-6, atol=1e-6)


def test_command_line(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "m.py"
    res = runner.invoke(app, ["build", str(SPECS / "dyrcnn_x4.yaml"), "--stateful", "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "def forward(self, x: Tensor, state: dict | None = None) -> tuple[Tensor, dict]:" in text
    assert "def initial_state(self, x: Tensor) -> dict:" in text
    res = runner.invoke(app, ["build", str(SPECS / "dyrcnn_x4.yaml"), "--stateful", "-b", "jax"])
    assert "def apply(params, state, inputs, carry=None, *, train=False, key=None):" in res.output
    assert "def initial_carry(inputs):" in res.output
    res = runner.invoke(app, ["build", str(SPECS / "mlp.yaml"), "--stateful"])
    assert res.exit_code == 1 and "`--stateful` needs a time model" in res.output
    for backend in ("torch", "jax"):
        res = runner.invoke(app, ["build", str(SPECS / "dyrcnn_x4.yaml"), "--stateful", "--check", "-b", backend,
                                  "--set", "size=16", "--set", "channels=[4, 8, 8, 8]"])
        assert res.exit_code == 0, res.output
        assert f"{backend}: ok: chunks of 10 + 10 steps equal one run of 20 (B=2; largest difference 0)" in res.output


def test_an_input_named_state_is_refused() -> None:
    text = HANDMADE.replace("  x: [B, 6]", "  state: [B, 6]").replace("from: x", "from: state")
    text = text.replace("{name: a, op: Linear, features: 6}", "{name: a, op: Linear, features: 6, in: state}")
    g = compile_text(text).graph
    with pytest.raises(Exception, match="clashes with the stateful forward's argument"):
        emit(g, "torch", stateful=True)


def test_the_public_api_builds_it() -> None:
    import modelspec

    model = modelspec.build(SPECS / "dyrcnn_x4.yaml", overrides=DYRCNN, stateful=True)
    x = torch.randn(1, 4, 3, 16, 16)
    with torch.no_grad():
        y, state = model(x)
    assert tuple(y.shape) == (1, 4, 10) and state["t"] == 4

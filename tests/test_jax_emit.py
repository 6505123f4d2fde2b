"""The JAX emitter: standalone deterministic source, init/apply contract, training mode,
time loop, names that cannot break the code, plugins and the CLI."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import modelspec  # noqa: E402
from modelspec.backends.jax import build_module, emit_jax  # noqa: E402
from modelspec.backends.jax.check import verify  # noqa: E402
from modelspec.parity import compare, example_inputs  # noqa: E402
from modelspec.pipeline import compile_text, load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p.name for p in (ROOT / "specs").iterdir() if p.suffix in (".yaml", ".toml"))
ALLOWED_IMPORTS = {"math", "jax", "jax.numpy", "numpy", "jax.lax"}


def graph(text: str, file: str = "spec.yaml", trust: Any = None):  # noqa: ANN201
    r = compile_text(text, file, trust=trust)
    assert r.ok, [str(d) for d in r.diags.sorted()]
    return r.graph


@pytest.mark.parametrize("spec", SPECS)
def test_source_is_standalone_deterministic_and_matches_ir(spec: str) -> None:
    g = load(ROOT / "specs" / spec)
    source = emit_jax(g)
    assert source == emit_jax(load(ROOT / "specs" / spec))  # byte-identical
    tree = ast.parse(source)
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= ALLOWED_IMPORTS
    assert verify(g, build_module(g, source), {"L": 5}) == []  # names, shapes, counts, output shapes


def test_build_api_returns_the_module_of_the_emitted_source() -> None:
    mod = modelspec.build(ROOT / "specs" / "mlp.yaml", backend="jax")
    g = load(ROOT / "specs" / "mlp.yaml")
    assert mod.__modelspec_source__ == emit_jax(g)
    params, state = mod.init(jax.random.PRNGKey(0)), mod.init_state()
    assert {k: v.shape for k, v in params.items()} == g.param_names() and state == {}
    y, _ = mod.apply(params, state, np.zeros((3, 784), np.float32))  # a bare array for one input
    assert y.shape == (3, 10)


def test_init_follows_pytorch_defaults() -> None:
    mod = modelspec.build(ROOT / "specs" / "transformer_classifier.yaml", backend="jax")
    p = mod.init(jax.random.PRNGKey(0))
    w = np.asarray(p["proj.weight"])  # Linear 32 -> 64: U(+-1/sqrt(32))
    assert np.abs(w).max() <= 1 / np.sqrt(32) and np.abs(w).max() > 0.9 / np.sqrt(32)
    assert abs(w.std() - 1 / np.sqrt(32) / np.sqrt(3)) < 0.01
    qkv = np.asarray(p["encoder.0.self_attn.in_proj_weight"])  # xavier: sqrt(6 / (64 + 192))
    assert np.abs(qkv).max() <= np.sqrt(6 / 256) and np.abs(qkv).max() > 0.9 * np.sqrt(6 / 256)
    assert not np.any(np.asarray(p["encoder.0.self_attn.in_proj_bias"]))
    assert np.all(np.asarray(p["encoder.1.norm2.weight"]) == 1)
    assert not np.allclose(p["encoder.0.linear1.weight"][:8, :8], p["encoder.1.linear1.weight"][:8, :8])
    state = modelspec.build(ROOT / "specs" / "resnet18.yaml", backend="jax").init_state()
    assert state["bn1.num_batches_tracked"].shape == () and np.all(np.asarray(state["bn1.running_var"]) == 1)


def test_training_mode_dropout_and_key() -> None:
    mod = modelspec.build(ROOT / "specs" / "mlp.yaml", backend="jax")
    params, state = mod.init(jax.random.PRNGKey(0)), mod.init_state()
    x = {"x": np.ones((4, 784), np.float32)}
    apply = jax.jit(mod.apply, static_argnames="train")
    ev = apply(params, state, x)[0]
    a = apply(params, state, x, train=True, key=jax.random.PRNGKey(1))[0]
    b = apply(params, state, x, train=True, key=jax.random.PRNGKey(1))[0]
    c = apply(params, state, x, train=True, key=jax.random.PRNGKey(2))[0]
    assert np.array_equal(a, b) and not np.allclose(a, c) and not np.allclose(a, ev)
    with pytest.raises(ValueError, match="key"):
        mod.apply(params, state, x, train=True)


@pytest.mark.parametrize("momentum", [0.3, None])
def test_batchnorm_training_matches_torch(momentum: float | None) -> None:
    torch = pytest.importorskip("torch")
    from modelspec.build import build_graph

    g = graph(f"modelspec: 1\nname: BN\ninputs: {{x: [B, 3, 4, 4]}}\nlayers:\n"
              f"  - {{op: Conv2d, channels: 5, kernel: 3}}\n  - {{op: BatchNorm2d, momentum: {momentum or 'null'}}}\n")
    model = build_graph(g, "torch").train()
    mod = build_module(g)
    params, state = mod.split_state_dict(model.state_dict())
    apply = jax.jit(mod.apply, static_argnames="train")
    rs = np.random.RandomState(0)
    for _ in range(3):
        x = rs.randn(6, 3, 4, 4).astype(np.float32)
        y, state = apply(params, state, x, train=True)
        want = model(torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(np.asarray(y), want, atol=1e-4, rtol=1e-4)
    for k, v in model.state_dict().items():
        if k in state:
            np.testing.assert_allclose(np.asarray(state[k]), v.numpy(), atol=1e-5, rtol=1e-5, err_msg=k)
    assert int(state["batch_norm2d_0.num_batches_tracked"]) == 3


def test_time_loop_compiles_the_same_for_any_number_of_steps() -> None:
    """One lax.scan per phase: the traced program does not grow with the number of steps
    (once there are steps past the recurrence's delay of 3; with 3 steps it never runs,
    so it is not traced at all and the program is smaller)."""
    def size(steps: int) -> int:
        g = load(ROOT / "specs" / "dyrcnn_x4.yaml", {"size": 8, "steps": steps})
        mod = build_module(g)
        p = jax.eval_shape(mod.init, jax.random.PRNGKey(0))
        x = jax.ShapeDtypeStruct((1, steps, 3, 8, 8), jnp.float32)
        jaxpr = jax.make_jaxpr(lambda p, x: mod.apply(p, {}, x)[0])(p, x)

        def count(j: Any) -> int:  # equations, nested ones (the scan body) included
            n = 0
            for e in j.eqns:
                n += 1
                for v in e.params.values():
                    for sub in v if isinstance(v, (list, tuple)) else [v]:
                        inner = getattr(sub, "jaxpr", sub)
                        n += count(inner) if hasattr(inner, "eqns") else 0
            return n

        return count(jaxpr.jaxpr)

    assert size(5) == size(40)
    assert size(3) < size(5)


def test_wrong_number_of_steps_is_an_error() -> None:
    mod = modelspec.build(ROOT / "specs" / "simple_rcnn.yaml", backend="jax", overrides={"size": 8})
    p = mod.init(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="20 steps on axis 1"):
        mod.apply(p, {}, np.zeros((1, 3, 3, 8, 8), np.float32))


HOSTILE = '''
modelspec: 1
name: Hostile
doc: 'a """ docstring """ with __import__("os").system("true") in it'
time: {steps: 3}
inputs:
  inputs: [B, 4]
outputs:
  t: jnp
  params: {from: step, steps: last}
layers:
  - {name: jnp, op: Linear, features: 4}
  - {name: key, op: Dropout, p: 0.5, in: {from: jnp, delay: 1}}
  - {name: step, op: Add, in: [jnp, key, inputs]}
'''


def test_spec_names_cannot_break_the_code() -> None:
    pytest.importorskip("torch")
    g = graph(HOSTILE, "hostile.yaml")
    source = emit_jax(g)
    names = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
    assert "__import__" not in names and "os" not in names
    r = compare(g, via_file=False)
    for k in ("t", "params"):
        np.testing.assert_allclose(r.jax[k], r.torch[k], atol=1e-5)
    mod = build_module(g)
    p = mod.init(jax.random.PRNGKey(0))
    x = example_inputs(g)
    out, _ = jax.jit(mod.apply, static_argnames="train")(p, {}, x, train=True, key=jax.random.PRNGKey(0))
    assert out["t"].shape == (2, 3, 4) and out["params"].shape == (2, 4)


def test_plugin_op_has_jax_code(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from modelspec.ops import registry

    # leave no trace: other tests (the schema's op list) must not see MyNoise
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    if "noise_plugin" not in sys.modules:
        monkeypatch.setitem(sys.modules, "noise_plugin", None)
        monkeypatch.delitem(sys.modules, "noise_plugin")
    from modelspec.trust import Trust

    # trusted on the "command line"; found beside the spec, without PYTHONPATH
    g = graph("modelspec: 1\nname: Noisy\nplugins: [noise_plugin]\ninputs: {x: [B, 8]}\nlayers:\n"
              "  - {name: fc, op: Linear, features: 8}\n  - {name: noise, op: MyNoise, std: 0.5}\n",
              str(ROOT / "tests" / "plugins" / "noisy.yaml"), Trust(plugins=frozenset({"noise_plugin"})))
    mod = build_module(g)
    p = mod.init(jax.random.PRNGKey(0))
    x = np.ones((256, 8), np.float32)
    clean = mod.apply(p, {}, x)[0]
    noisy = mod.apply(p, {}, x, train=True, key=jax.random.PRNGKey(0))[0]
    assert abs(float(jnp.std(noisy - clean)) - 0.5) < 0.05


def test_build_check_and_summary_cli_run_jax() -> None:
    from typer.testing import CliRunner

    from modelspec.cli import app

    spec = str(ROOT / "specs" / "configurable_network.yaml")
    res = CliRunner().invoke(app, ["build", spec, "--backend", "jax", "--check"])
    assert res.exit_code == 0, res.output
    assert "jax: ok" in res.output and "[2, 10]" in res.output
    res = CliRunner().invoke(app, ["summary", spec, "--backend", "jax"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["build", spec, "-b", "jax"])
    assert res.exit_code == 0 and res.output == emit_jax(load(spec))


def test_every_builtin_op_has_jax_code() -> None:
    """Guards the op classes: every op has JAX rules, and ops with parameters or buffers
    initialise them (the registration check, `contract_problems`, says so by name)."""
    from modelspec.ops import JaxRules, all_ops
    from modelspec.ops.base import Op

    for name, op in all_ops().items():
        cls = type(op)
        assert isinstance(op, JaxRules) and cls.jax_call is not JaxRules.jax_call, name
        if cls.params is not Op.params:
            assert cls.jax_init is not JaxRules.jax_init, name
        if cls.buffers is not Op.buffers:
            assert cls.jax_init_state is not JaxRules.jax_init_state, name


def test_emitting_does_not_import_jax() -> None:
    """`modelspec build -b jax -o FILE` works where jax is not installed."""
    import subprocess
    import sys

    code = ("import sys; from modelspec.pipeline import load; from modelspec.backends.jax import emit_jax; "
            f"emit_jax(load({str(ROOT / 'specs' / 'dyrcnn_x4.yaml')!r})); "
            "assert 'jax' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)

"""The emitted Torch source: every spec builds and trains, the source is deterministic,
formatted and standalone, and spec text can never become code."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from modelspec.backends.torch import emit_torch  # noqa: E402
from modelspec.backends.checking import as_dict, output_shapes  # noqa: E402
from modelspec.backends.torch.runtime import random_inputs  # noqa: E402
from modelspec.build import build_graph, load_module  # noqa: E402
from modelspec.pipeline import compile_text, load  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.*ml"))
#: small sizes keep the suite fast; CORnet-RT's 224 x 224 is fixed by its spec
SMALL = {
    "dyrcnn_x4": {"size": 16, "steps": 4}, "simple_rcnn": {"size": 16}, "cornet_rt": {"times": 4},
    "resnet18": {"classes": 10}, "mlp": {}, "configurable_network": {},
}


def small(path: Path) -> dict:
    return SMALL.get(path.stem, {})


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_spec_builds_runs_and_trains(path: Path) -> None:
    g = load(path, small(path))
    model = build_graph(g)
    assert sum(p.numel() for p in model.parameters()) == g.n_params
    want = {**g.param_names(), **g.buffer_names()}
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {k: tuple(s) for k, s in want.items()}
    env = {"B": 1 if path.stem in ("resnet18", "cornet_rt") else 2, "L": 7}
    model.train()
    outs = as_dict(g, model(*random_inputs(g, env)))
    assert {k: tuple(v.shape) for k, v in outs.items()} == output_shapes(g, env)
    sum(o.sum() for o in outs.values()).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_source_is_formatted_and_standalone(path: Path) -> None:
    source = emit_torch(load(path, small(path)))
    assert source.endswith("\n") and not source.endswith("\n\n")
    for n, line in enumerate(source.splitlines(), 1):
        assert len(line) <= 100, f"line {n} is {len(line)} long: {line}"
        assert line == line.rstrip() and "\t" not in line
    tree = ast.parse(source)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"torch", "math", "__future__"}
    assert "modelspec" not in imported


def test_source_is_byte_identical_across_runs_and_processes() -> None:
    path = ROOT / "specs" / "dyrcnn_x4.yaml"
    first = emit_torch(load(path, {"recurrence": "localdepthwise", "feedback": True}))
    second = emit_torch(load(path, {"recurrence": "localdepthwise", "feedback": True}))
    assert first == second
    code = ("import sys; from modelspec.pipeline import load; from modelspec.backends.torch import emit_torch;"
            "sys.stdout.write(emit_torch(load(sys.argv[1], {'recurrence': 'localdepthwise', 'feedback': True})))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env=env, check=True, cwd=ROOT)
    assert out.stdout == first


def test_header_names_version_and_spec_file() -> None:
    from modelspec import __version__

    source = emit_torch(load(ROOT / "specs" / "mlp.yaml"))
    head = "\n".join(source.splitlines()[:3])
    assert f"modelspec {__version__}" in head and "mlp.yaml" in head
    assert "class MLP(nn.Module):" in source


def test_forward_is_straight_line_code() -> None:
    """No interpretation: no loops over nodes in forward, submodules bound once."""
    source = emit_torch(load(ROOT / "specs" / "resnet18.yaml"))
    forward = source[source.index("    def forward"):]
    assert "for " not in forward and "getattr" not in forward
    assert "F.conv2d(" in forward and "_batch_norm(" in forward and "self.training" in forward
    assert "return F.batch_norm(" in source  # the helper calls the fused kernel itself
    assert forward.count("self.layer1[\"0\"].conv1") == 1


HOSTILE = '''
modelspec: 1
name: torch
doc: |
  A doc with """triple quotes""", \'\'\'single ones\'\'\', a backslash \\ at the end \\
  and __import__("os").system("echo pwned") plus a stray quote " and a line break.
inputs:
  F: [B, 4]
  self: [B, 4]
outputs:
  t: forward
  nn: training
layers:
  - {name: forward, op: Linear, features: 4, in: F}
  - {name: training, op: Linear, features: 4, in: self}
  - {name: Scope, op: Add, in: [forward, training]}
  - {name: range, op: ReLU, in: Scope}
  - {name: math, op: Linear, features: 4, in: range}
  - {name: x_t, op: Linear, features: 4, in: math}
  - {name: Tensor, op: Mul, in: [x_t, F]}
'''


def test_hostile_names_and_docs_cannot_inject_code() -> None:
    r = compile_text(HOSTILE, "evil'\n\"name.yaml")
    assert r.ok, r.diags.sorted()
    g = r.graph
    source = emit_torch(g)
    tree = ast.parse(source)  # still valid Python
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert cls.name == "torch_"
    doc = ast.get_docstring(cls) or ""
    assert '"""triple quotes"""' in doc and '__import__("os")' in doc
    # the hostile text lives only inside string constants and comments
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "__import__" not in names and "os" not in names
    assert not any(isinstance(n, ast.Attribute) and n.attr == "system" for n in ast.walk(tree))
    model = build_graph(g)
    assert model.training is True  # a child named `training` does not shadow the flag
    assert sorted(model.state_dict()) == sorted(g.param_names())
    f, s = torch.randn(3, 4), torch.randn(3, 4)
    out = model(f, s)
    assert set(out) == {"t", "nn"} and out["t"].shape == (3, 4)
    fwd = model._modules["forward"]
    torch.testing.assert_close(out["t"], torch.nn.functional.linear(f, fwd.weight, fwd.bias))


def test_plugin_op_emits_torch_code() -> None:
    from modelspec.trust import Trust

    # the spec sits beside the plugin (found there, no PYTHONPATH), and the command line trusts it
    spec = """
modelspec: 1
name: Noisy
plugins: [noise_plugin]
inputs: {x: [B, 8]}
layers:
  - {name: fc, op: Linear, features: 8}
  - {name: noise, op: MyNoise, std: 0.5}
"""
    r = compile_text(spec, str(ROOT / "tests" / "plugins" / "noisy.yaml"),
                     trust=Trust(plugins=frozenset({"noise_plugin"})))
    assert r.ok, r.diags.sorted()
    source = emit_torch(r.graph)
    assert "torch.randn_like(fc) * 0.5 if self.training else fc" in source
    model = build_graph(r.graph)
    x = torch.randn(4, 8)
    model.eval()
    torch.testing.assert_close(model(x), model.fc(x))
    model.train()
    assert not torch.allclose(model(x), model.fc(x))


def test_module_reuse_and_fresh_instances() -> None:
    g = load(ROOT / "specs" / "mlp.yaml")
    assert load_module(g) is load_module(g)  # same source, same module
    a, b = build_graph(g), build_graph(g)
    assert type(a) is type(b) and a is not b
    assert not torch.equal(a.head.weight, b.head.weight)  # PyTorch's default (random) init

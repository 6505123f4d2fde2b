"""`modelspec build`, `summary --backend torch` and the Python API (`modelspec.load`,
`modelspec.build`): the file, the in-memory model and the checks all use the same code."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

import modelspec  # noqa: E402
from modelspec.backends.torch import emit_torch  # noqa: E402
from modelspec.cli import app  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MLP = str(ROOT / "specs" / "mlp.yaml")
TRANSFORMER = str(ROOT / "specs" / "transformer_classifier.yaml")
runner = CliRunner()


def invoke(*args: str):  # noqa: ANN201 - typer's Result
    return runner.invoke(app, list(args))


def test_build_prints_source() -> None:
    r = invoke("build", MLP)
    assert r.exit_code == 0, r.output
    assert r.stdout == emit_torch(modelspec.load(MLP))


def test_build_writes_a_file_that_imports_standalone(tmp_path: Path) -> None:
    out = tmp_path / "mlp_torch.py"
    r = invoke("build", MLP, "-o", str(out), "--set", "hidden=[32, 16]")
    assert r.exit_code == 0, r.output
    code = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import torch, mlp_torch;"
            "m = mlp_torch.MLP(); assert m(torch.randn(2, 784)).shape == (2, 10);"
            "assert 'modelspec' not in sys.modules; print(sum(p.numel() for p in m.parameters()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 784 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10


def test_build_check_runs_forward_and_backward() -> None:
    r = invoke("build", MLP, "--check", "--dim", "B=8")
    assert r.exit_code == 0, r.output
    assert "torch: ok" in r.stdout and "logits [8, 10]" in r.stdout and "class MLP" not in r.stdout


def test_build_check_needs_free_dims() -> None:
    r = invoke("build", TRANSFORMER, "--check")
    assert r.exit_code == 2
    assert "--dim L=" in r.output
    r = invoke("build", TRANSFORMER, "--check", "--dim", "B=3", "--dim", "L=16")
    assert r.exit_code == 0, r.output
    assert "logits [3, 10]" in r.stdout


def test_build_check_time_model_with_overrides() -> None:
    spec = str(ROOT / "specs" / "dyrcnn_x4.yaml")
    r = invoke("build", spec, "--check", "--set", "size=16", "--set", "steps=3", "--set", "recurrence=local")
    assert r.exit_code == 0, r.output
    assert "logits [2, 3, 10]" in r.stdout


@pytest.mark.parametrize("args,code", [
    (("--backend", "nope"), 2), (("--check", "--dim", "B"), 2), (("--check", "--dim", "B=x"), 2),
    (("--set", "hidden=oops"), 1),
])
def test_build_usage_errors(args: tuple[str, ...], code: int) -> None:
    r = invoke("build", MLP, *args)
    assert r.exit_code == code, r.output


def test_summary_backend_torch_verifies_counts() -> None:
    r = invoke("summary", str(ROOT / "specs" / "residual_mlp.yaml"), "--backend", "torch")
    assert r.exit_code == 0, r.output
    assert "torch: ok" in r.stdout


def test_verify_backend_reports_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelspec.commands.verify import verify_backend

    g = modelspec.load(MLP)
    assert verify_backend(g, "torch") == 0
    g.nodes["head"].params["weight"] = (11, 64)  # the IR now disagrees with the model
    assert verify_backend(g, "torch") == 1


def test_python_api_builds_from_the_same_source() -> None:
    model = modelspec.build(MLP, overrides={"hidden": [16]})
    assert isinstance(model, torch.nn.Module)
    mod = sys.modules[type(model).__module__]
    assert mod.__modelspec_source__ == emit_torch(modelspec.load(MLP, {"hidden": [16]}))
    import modelspec.build as build_module  # importing the submodule keeps the API callable

    assert callable(modelspec.build) and callable(build_module)
    assert modelspec.build(MLP).head.in_features == 64


def test_built_model_pickles_with_torch_save() -> None:
    model = modelspec.build(MLP).eval()
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    again = torch.load(buf, weights_only=False)
    x = torch.randn(2, 784)
    torch.testing.assert_close(again(x), model(x))


def test_package_import_does_not_import_torch() -> None:
    code = ("import sys, modelspec; g = modelspec.load(sys.argv[1]);"
            "assert 'torch' not in sys.modules, 'torch imported'; print(g.n_params)")
    done = subprocess.run([sys.executable, "-c", code, MLP], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 242_762

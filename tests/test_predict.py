"""`modelspec predict`: the file holds what the Torch model with the run's weights computes, sample by sample
(.npz and .csv), for labelled and unlabelled data, and for a time model (the still image at every step)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from modelspec.build import build_graph  # noqa: E402
from modelspec.pipeline import load  # noqa: E402
from modelspec.weights import load as load_weights, to_torch  # noqa: E402
from modelspec.cli import app  # noqa: E402
from tests.helpers import tiny, tiny_data  # noqa: E402

SPEC = tiny("batch_size: 8\nepochs: 1", dropout=True)

TIME_SPEC = """\
modelspec: 1
name: Leaky
time: {steps: 3}
inputs:
  x: [B, 4]
outputs:
  logits: {from: head, steps: all}
layers:
  - {name: fc, op: Linear, features: 4, in: [x]}
  - {name: mix, op: Add, in: [fc, {from: relu, delay: 1}]}
  - {name: relu, op: ReLU}
  - {name: head, op: Linear, features: 2}
train:
  batch_size: 8
  epochs: 1
"""


def run(*args: str) -> str:
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def by_hand(spec: Path, weights: Path, x: np.ndarray, steps: int | None = None) -> np.ndarray:
    """The spec's Torch module, the run's weights, evaluation mode."""
    model = build_graph(load(spec)).eval()
    to_torch(model, load_weights(weights))
    t = torch.from_numpy(x)
    if steps:
        t = t.unsqueeze(1).expand(t.shape[0], steps, *t.shape[1:])
    with torch.no_grad():
        return model(t).numpy()


@pytest.fixture()
def trained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(SPEC)
    x = tiny_data(tmp_path / "data.npz", 40, seed=2, label=(0,))
    np.savez(tmp_path / "inputs.npz", x=x[:13])
    run("train", "tiny.yaml", "--data", "data.npz", "--run-dir", "run", "--no-progress", "--root", ".")
    return tmp_path


def test_npz_holds_the_models_outputs_and_targets(trained: Path) -> None:
    out = run("predict", "tiny.yaml", "--weights", "run", "--data", "data.npz", "-o", "out.npz", "--root", ".")
    assert "-> out.npz (logits [40, 3])" in out
    with np.load(trained / "out.npz") as z:
        assert sorted(z.files) == ["logits", "target"]
        x = np.load(trained / "data.npz")["x"]
        np.testing.assert_allclose(z["logits"], by_hand(trained / "tiny.yaml", trained / "run" / "weights.safetensors",
                                                        x), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(z["target"], (x[:, 0] > 0).astype(np.int64))


def test_csv_of_unlabelled_inputs(trained: Path) -> None:
    run("predict", "tiny.yaml", "--weights", "run/weights.safetensors", "--data", "inputs.npz", "-o", "out.csv",
        "--root", ".")
    with open(trained / "out.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["index", "logits.0", "logits.1", "logits.2"]
    got = np.array([[float(v) for v in r[1:]] for r in rows[1:]], dtype=np.float32)
    want = by_hand(trained / "tiny.yaml", trained / "run" / "weights.safetensors", np.load(trained / "inputs.npz")["x"])
    assert [int(r[0]) for r in rows[1:]] == list(range(13))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_time_model_keeps_the_time_axis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leaky.yaml").write_text(TIME_SPEC)
    x = np.random.default_rng(3).standard_normal((20, 4)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x=x, y=(x[:, 1] > 0).astype(np.int64))
    run("train", "leaky.yaml", "--data", "data.npz", "--run-dir", "run", "--no-progress", "--root", ".")
    run("predict", "leaky.yaml", "--weights", "run", "--data", "data.npz", "-o", "out.npz", "--root", ".")
    got = np.load(tmp_path / "out.npz")["logits"]
    assert got.shape == (20, 3, 2)
    np.testing.assert_allclose(got, by_hand(tmp_path / "leaky.yaml", tmp_path / "run" / "weights.safetensors", x, 3),
                               rtol=1e-5, atol=1e-6)


def test_bad_output_and_missing_weights_are_usage_errors(trained: Path) -> None:
    r = CliRunner().invoke(app, ["predict", "tiny.yaml", "--weights", "run", "--data", "data.npz", "-o", "out.txt",
                                 "--root", "."])
    assert r.exit_code == 2 and "write .npz or .csv" in r.output
    r = CliRunner().invoke(app, ["predict", "tiny.yaml", "--weights", "nope", "--data", "data.npz", "-o", "o.npz",
                                 "--root", "."])
    assert r.exit_code == 2 and "nope" in r.output

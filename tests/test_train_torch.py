"""`modelspec train` / `modelspec eval` with the torch backend, in process: what the user
sees, the run folder, determinism, resume to the same weights, stop on a signal, bad losses."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train import checkpoint as ckpt  # noqa: E402
from modelspec.train.runner import Request, train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "specs" / "mlp.yaml")
TINY = ["--set", "hidden=[16]", "--set", "input_size=8", "--data", "synthetic:192", "--batch-size", "32",
        "--no-progress"]
RNN = """\
modelspec: 1
name: TinyRNN
time: {steps: 4}
inputs:
  x: [B, 6]
outputs:
  logits: head
  hidden: {from: relu, steps: last}
layers:
  - {name: fc, op: Linear, features: 8}
  - {name: relu, op: ReLU}
  - {name: head, op: Linear, features: 3}
edges:
  - {from: relu, to: fc, delay: 1}
train:
  output: logits
  batch_size: 16
  loss: {steps: [1, 4], activity_penalty: {nodes: [relu], weight: 0.01}}
"""


def cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def weights(run: Path, name: str = "last.safetensors") -> dict[str, np.ndarray]:
    tensors, _ = ckpt.load(str(run / name))
    return ckpt.model_tensors(tensors)


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray], tol: float = 0.0) -> bool:
    return a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=tol, rtol=0) for k in a)


def test_mlp_on_synthetic_shows_progress_and_learns(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, out = cli("train", MLP, "--data", "synthetic", "--epochs", "3", "--run-dir", str(run))
    assert code == 0, out
    assert "epoch 3/3" in out and "samples/s" in out and "━" in out  # the progress bars' final state
    assert "train" in out and "val" in out and "accuracy" in out  # the per-epoch table
    names = {p.name for p in run.iterdir()}
    assert {"spec.yaml", "config.json", "metrics.jsonl", "last.safetensors", "best.safetensors",
            "weights.safetensors", "learning_curve.png"} <= names
    from modelspec.weights import load as load_params

    assert same(load_params(run / "weights.safetensors"), weights(run))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"] and rows[-1]["val_loss"] < rows[0]["val_loss"]
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["epochs"] == 3 and config["data"] == "synthetic" and config["backend"] == "torch"
    assert "name: MLP" in (run / "spec.yaml").read_text()
    meta = ckpt.load(str(run / "last.safetensors"))[1]
    assert meta["epoch"] == "3" and meta["step"] == str(rows[-1]["step"])


def test_same_seed_same_weights_and_resume_matches(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert cli("train", MLP, *TINY, "--epochs", "3", "--run-dir", str(a))[0] == 0
    assert cli("train", MLP, *TINY, "--epochs", "3", "--run-dir", str(b))[0] == 0
    assert same(weights(a), weights(b))
    assert cli("train", MLP, *TINY, "--epochs", "1", "--run-dir", str(c))[0] == 0
    code, out = cli("train", MLP, *TINY, "--epochs", "3", "--resume", str(c))
    assert code == 0, out
    assert "resuming at epoch 2" in out
    assert same(weights(a), weights(c))  # exact only with Adam's moments and the dropout RNG restored
    rows = [json.loads(line) for line in (c / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]


def test_signal_saves_at_a_batch_boundary_and_resume_is_exact(tmp_path: Path) -> None:
    """SIGTERM mid-epoch: checkpoint, exit 143 with a resume hint; resuming gives the weights of
    an uninterrupted run (momentum, dropout RNG, data order, schedule position restored)."""
    flags = dict(epochs=2, batch_size=32, lr=None, optimizer=None, seed=7, run_dir=None, log_every=None)
    graph = load_graph(MLP, {"hidden": [16], "input_size": 8})
    graph.train = {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True,
                                 "weight_decay": 1e-4},
                   "schedule": {"name": "cosine", "warmup_steps": 3}, "clip_grad_norm": 0.5}

    def req(run: Path, **kw: object) -> Request:
        return Request(MLP, graph, {"hidden": [16], "input_size": 8}, "synthetic:192", progress=False,
                       flags={**flags, "run_dir": str(run)}, **kw)  # type: ignore[arg-type]

    assert train(req(tmp_path / "full")) == 0

    def stop(loop: object) -> None:
        if loop.pos.step == 8:  # type: ignore[attr-defined]
            os.kill(os.getpid(), signal.SIGTERM)

    run = tmp_path / "cut"
    assert train(req(run, on_batch=stop)) == 143
    meta = ckpt.load(str(run / "last.safetensors"))[1]
    assert (meta["epoch"], meta["batch"], meta["step"]) == ("1", "2", "8")  # 6 batches per epoch
    assert train(req(run, resume=str(run))) == 0
    assert same(weights(tmp_path / "full"), weights(run))


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert cli("train", MLP, *TINY, "--epochs", "1", "--run-dir", str(run))[0] == 0
    before = weights(run)
    code, out = cli("train", MLP, *TINY, "--epochs", "3", "--resume", str(run), "--lr", "1e30", "--allow-changes")
    assert code == 1
    assert "the loss became nan" in out and "last good checkpoint is kept" in out and "Traceback" not in out
    assert same(before, weights(run))
    assert all(np.isfinite(v).all() for v in before.values())


def test_time_model_per_step_metrics_penalty_and_eval(tmp_path: Path) -> None:
    spec = tmp_path / "rnn.yaml"
    spec.write_text(RNN)
    run = tmp_path / "run"
    code, out = cli("train", str(spec), "--data", "synthetic:96", "--epochs", "2", "--run-dir", str(run),
                    "--no-progress")
    assert code == 0, out
    row = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert len(row["val_acc_steps"]) == 4 and len(row["val_loss_steps"]) == 4
    code, out = cli("eval", str(spec), "--checkpoint", str(run), "--data", "synthetic:96", "--json")
    assert code == 0, out
    got = json.loads(out.strip().splitlines()[-1])
    assert got["samples"] == 96 and len(got["acc_steps"]) == 4 and 0 <= got["acc"] <= 1


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "rnn.yaml"
    spec.write_text(RNN.replace("  output: logits\n", ""))
    code, out = cli("train", str(spec), "--data", "synthetic:32", "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "has 2 outputs (logits, hidden)" in out and "train.output" in out
    spec.write_text(RNN.replace("nodes: [relu]", "nodes: [rleu]"))
    code, out = cli("train", str(spec), "--data", "synthetic:32", "--run-dir", str(tmp_path / "r"))
    assert code == 2 and "no node `rleu`" in out and "relu" in out
    code, out = cli("train", MLP, *TINY, "--resume", str(tmp_path / "nowhere"))
    assert code == 2 and "does not exist" in out  # a usage error (2), not a refused checkpoint (3)
    code, out = cli("train", MLP, "--set", "hidden=[16]", "--set", "input_size=8")
    assert code == 2 and "no data" in out
    assert "Traceback" not in out

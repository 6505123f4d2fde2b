"""Whole processes: Ctrl-C saves and exits 130, kill -9 in the middle of a checkpoint write
leaves the previous one loadable, and torchrun with two processes gives the weights of one
process over the combined batch."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from modelspec.train import checkpoint as ckpt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "specs" / "mlp.yaml")
TINY = ["--set", "hidden=[16]", "--set", "input_size=8", "--set", "dropout=0.0", "--data", "synthetic:200",
        "--batch-size", "32", "--no-progress"]


def modelspec(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "modelspec", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def weights(path: Path) -> dict[str, np.ndarray]:
    return ckpt.model_tensors(ckpt.load(str(path))[0])


def test_ctrl_c_saves_a_checkpoint_and_exits_130(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = modelspec("train", MLP, *TINY, "--epochs", "100000", "--log-every", "1", "--run-dir", str(run))
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while not (metrics.exists() and metrics.stat().st_size > 0) and proc.poll() is None:
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "SIGINT" in out and "resume with: modelspec train" in out and f"--resume {run}" in out
    assert "Traceback" not in out
    meta = ckpt.load(str(run / "last.safetensors"))[1]
    assert int(meta["step"]) >= 1


def test_kill_9_during_a_checkpoint_write_keeps_the_previous_one(tmp_path: Path) -> None:
    run = tmp_path / "run"
    # saves: epoch 1 best (1) and last (2); epoch 2 best (if it is) and last: the 3rd is one of those,
    # killed half-way through, and last.safetensors is still epoch 1's
    proc = modelspec("train", MLP, *TINY, "--epochs", "4", "--run-dir", str(run),
                     env={"MODELSPEC_TEST_KILL_DURING_SAVE": "3"})
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, out
    torn = [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert len(torn) == 1 and torn[0].startswith((".last.safetensors.", ".best.safetensors.")), torn
    tensors, meta = ckpt.load(str(run / "last.safetensors"))
    assert meta["epoch"] == "1" and all(np.isfinite(v).all() for v in ckpt.model_tensors(tensors).values())
    res = CliRunner().invoke(app, ["train", MLP, *TINY, "--epochs", "2", "--resume", str(run)])
    assert res.exit_code == 0, res.output
    assert ckpt.load(str(run / "last.safetensors"))[1]["epoch"] == "2"
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # cleaned on the next start


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun not installed")
def test_torchrun_two_processes_match_one_process(tmp_path: Path) -> None:
    """Each process takes half of every global batch (a strided shard) and gradients are averaged
    by DDP over gloo; with no dropout the result equals one process over the whole batch.  200
    samples give 180 for training: the last batch (20) splits 10/10, weighted exactly."""
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    args = ["train", MLP, *TINY, "--epochs", "2", "--optimizer", "sgd", "--lr", "0.1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([torchrun, "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port",
                           str(_free_port()), "-m", "modelspec", *args, "--run-dir", str(tmp_path / "ddp")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("modelspec train: MLP") == 1  # rank 0 alone talks
    assert "2 processes" in done.stdout
    res = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "one")])
    assert res.exit_code == 0, res.output
    a, b = weights(tmp_path / "ddp" / "last.safetensors"), weights(tmp_path / "one" / "last.safetensors")
    assert a.keys() == b.keys()
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5
    ddp = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    one = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert abs(ddp[-1]["val_loss"] - one[-1]["val_loss"]) < 1e-5

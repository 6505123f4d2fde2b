"""`modelspec train --backend jax`: the same loop with optax and a jitted step; same-seed
determinism, exact resume, and checkpoints that evaluate in the other backend."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("torch")
from typer.testing import CliRunner  # noqa: E402

from modelspec.cli import app  # noqa: E402
from modelspec.train import checkpoint as ckpt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MLP = str(ROOT / "specs" / "mlp.yaml")
CFG = str(ROOT / "specs" / "configurable_network.yaml")
TINY = ["--set", "hidden=[16]", "--set", "input_size=8", "--data", "synthetic:178", "--batch-size", "32",
        "--no-progress"]


def cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, list(args))
    return res.exit_code, res.output


def weights(run: Path) -> dict[str, np.ndarray]:
    return ckpt.model_tensors(ckpt.load(str(run / "last.safetensors"))[0])


def test_jax_learns_is_deterministic_and_resumes_exactly(tmp_path: Path) -> None:
    """BatchNorm state and dropout keys are threaded through; resume restores the optax state."""
    args = ["train", CFG, "--backend", "jax", "--optimizer", "adamw", "--lr", "0.01", *TINY]
    a, b = tmp_path / "a", tmp_path / "b"
    code, out = cli(*args, "--epochs", "3", "--run-dir", str(a))
    assert code == 0, out
    rows = [json.loads(line) for line in (a / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert cli(*args, "--epochs", "1", "--run-dir", str(b))[0] == 0
    assert cli(*args, "--epochs", "3", "--resume", str(b))[0] == 0
    wa, wb = weights(a), weights(b)
    assert any("running_mean" in k for k in wa)
    assert wa.keys() == wb.keys() and all(np.allclose(wa[k], wb[k], atol=1e-6, rtol=0) for k in wa)


def test_torch_checkpoint_evaluates_the_same_in_jax(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert cli("train", CFG, *TINY, "--epochs", "2", "--run-dir", str(run))[0] == 0  # BatchNorm + dropout
    got = {}
    for backend in ("torch", "jax"):
        code, out = cli("eval", CFG, "--set", "hidden=[16]", "--set", "input_size=8", "--checkpoint", str(run),
                        "--data", "synthetic:178", "--backend", backend, "--json")
        assert code == 0, out
        got[backend] = json.loads(out.strip().splitlines()[-1])
    assert got["torch"]["acc"] == got["jax"]["acc"]
    assert abs(got["torch"]["loss"] - got["jax"]["loss"]) < 1e-4
    code, out = cli("eval", CFG, "--set", "hidden=[16]", "--set", "input_size=8", "--checkpoint", str(run),
                    "--data", "synthetic:160", "--backend", "jax")
    assert code == 0 and "accuracy" in out


def test_resume_with_the_other_backend_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert cli("train", MLP, *TINY, "--epochs", "1", "--run-dir", str(run), "--backend", "jax")[0] == 0
    code, out = cli("train", MLP, *TINY, "--epochs", "2", "--resume", str(run))
    assert code == 3 and "written by the jax backend" in out


@pytest.mark.parametrize("steps", ["all", "last", (1, 4), (-2, 5)])
@pytest.mark.parametrize("name", ["cross_entropy", "mse"])
def test_losses_agree_between_backends(name: str, steps: object) -> None:
    """Losses and counts of the supervised steps, torch (fused means) against jax (per sample)."""
    import jax.numpy as jnp
    import torch

    from modelspec.train.config import LossSpec
    from modelspec.train.losses import jax_eval, jax_loss, plan, torch_eval, torch_loss
    from modelspec.train.terminals import ModelIO

    io = ModelIO({}, "out", (3,), "all", 5, ["out"], {})
    p = plan(LossSpec(name=name, steps=steps), io)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    out = rng.standard_normal((4, 5, 3)).astype(np.float32)
    targets = [rng.integers(0, 3, 4), rng.integers(0, 3, (4, 5))] if name == "cross_entropy" else \
        [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 5, 3)).astype(np.float32)]
    for y in targets:
        tp, tc = torch_loss(p, torch.from_numpy(out), torch.from_numpy(y))
        jp, jc = jax_loss(p, jnp.asarray(out), jnp.asarray(y))
        assert np.isclose(float(tp), float(np.asarray(jp).mean()), atol=1e-5)
        assert (tc is None) == (jc is None) and (tc is None or int(tc) == int(jc))
        te = torch_eval(p, torch.from_numpy(out), torch.from_numpy(y))
        je = jax_eval(p, jnp.asarray(out), jnp.asarray(y))
        assert te.keys() == je.keys() and all(np.allclose(te[k], np.asarray(je[k]), atol=1e-4) for k in te)
    if steps == "last":
        assert (p.steps.start, p.steps.stop) == (4, 5)
    if steps == (-2, 5):
        assert (p.steps.start, p.steps.stop) == (3, 5)

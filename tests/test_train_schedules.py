"""Trainer features of the `train:` section: learning-rate schedules (checked against
torch.optim.lr_scheduler), early stopping (on a scripted metric sequence and in a run),
gradient accumulation (k micro-batches give the weights of one batch) and bf16."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelspec.pipeline import compile_text
from modelspec.train import early_stop
from modelspec.train.config import ConfigError, EarlyStopSpec, resolve
from modelspec.train.schedules import lr_at

SPEC = """\
modelspec: 1
name: Plain
inputs:
  x: [B, 6]
layers:
  - {name: fc, op: Linear, features: 12}
  - {name: act, op: Tanh}
  - {name: head, op: Linear, features: 3}
"""


def _torch_lrs(peak: float, total: int, make) -> list[float]:  # noqa: ANN001 - a scheduler factory
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    sched = make(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(total):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def _ours(section: dict, total: int) -> list[float]:
    cfg = resolve(section)
    return [lr_at(cfg, s, total) for s in range(total)]


def test_step_schedule_is_steplr() -> None:
    want = _torch_lrs(0.4, 20, lambda S, o: S.StepLR(o, step_size=3, gamma=0.5))
    got = _ours({"optimizer": {"lr": 0.4}, "schedule": {"name": "step", "step_size": 3, "gamma": 0.5}}, 20)
    assert np.allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["step", "cosine"])
def test_warmup_then_decay_is_linearlr_then_the_scheduler(name: str) -> None:
    w, total = 4, 23

    def make(S, o):  # noqa: ANN001, ANN202
        after = S.StepLR(o, step_size=5, gamma=0.3) if name == "step" else \
            S.CosineAnnealingLR(o, T_max=total - w, eta_min=0.01)
        return S.SequentialLR(o, [S.LinearLR(o, start_factor=1 / w, end_factor=1.0, total_iters=w - 1), after],
                              milestones=[w])

    want = _torch_lrs(0.2, total, make)
    got = _ours({"optimizer": {"lr": 0.2}, "schedule": {"name": name, "warmup_steps": w, "step_size": 5,
                                                         "gamma": 0.3, "min_lr": 0.01}}, total)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (got, want)


@pytest.mark.parametrize("total,pct", [(50, 0.3), (17, 0.25), (8, 0.5)])
def test_one_cycle_is_onecyclelr(total: int, pct: float) -> None:
    want = _torch_lrs(0.1, total, lambda S, o: S.OneCycleLR(
        o, max_lr=0.1, total_steps=total, pct_start=pct, div_factor=10.0, final_div_factor=100.0,
        anneal_strategy="cos", cycle_momentum=False))
    got = _ours({"optimizer": {"lr": 0.1}, "schedule": {"name": "one_cycle", "pct_start": pct, "div_factor": 10,
                                                         "final_div_factor": 100}}, total)
    assert np.allclose(got, want, rtol=1e-9, atol=1e-15), (got, want)


def test_schedule_section_is_validated_with_positions() -> None:
    r = compile_text(SPEC + "train:\n  schedule: {name: one_cycle, warmup_steps: 3, gama: 0.1}\n", "s.yaml")
    msgs = [f"{d.pos.line}:{d.pos.col} {d.code} {d.message}" for d in r.diags if d.is_error]
    assert any(m.startswith("10:48 MS011 unknown key `gama`") for m in msgs), msgs
    with pytest.raises(ConfigError, match="warmup_steps"):
        resolve({"schedule": {"name": "one_cycle", "warmup_steps": 3}})


# -- early stopping ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values,spec,stop_after", [
    # min mode: best 0.9 at epoch 2; epochs 3, 4 do not beat it -> stop after epoch 4 (patience 2)
    ([1.0, 0.9, 0.95, 0.91, 0.5], {"patience": 2}, 4),
    # min_delta: 0.95, 0.92, 0.91 each beat 1.0, but not by more than 0.1 -> three stale epochs
    ([1.0, 0.95, 0.92, 0.91, 0.5], {"patience": 3, "min_delta": 0.1}, 4),
    # ... while 0.85 would have: 1.0 -> 0.85 improves, then 0.8, 0.78 are stale, 0.7 improves again
    ([1.0, 0.85, 0.8, 0.78, 0.7], {"patience": 3, "min_delta": 0.1}, None),
    # accuracies are maximised in auto mode
    ([0.5, 0.6, 0.6, 0.59, 0.7], {"metric": "val_acc", "patience": 2}, 4),
    ([0.5, 0.6, 0.7, 0.8, 0.9], {"metric": "val_acc", "patience": 1}, None),
    ([3.0, 2.0, 1.0, 2.0, 3.0], {"mode": "max", "patience": 2}, 3),
])
def test_early_stopping_on_a_scripted_sequence(values: list[float], spec: dict, stop_after: int | None) -> None:
    es, watch = EarlyStopSpec(**spec), early_stop.Watch()
    stopped = None
    for epoch, v in enumerate(values, 1):
        if early_stop.update(es, watch, v):
            stopped = epoch
            break
    assert stopped == stop_after


torch = pytest.importorskip("torch")
from modelspec.pipeline import load as load_graph  # noqa: E402
from modelspec.train import checkpoint as ckpt  # noqa: E402
from modelspec.train.runner import Request, train  # noqa: E402


def _run(tmp: Path, section: dict, *, backend: str = "torch", resume: str | None = None, epochs: int = 3,
         name: str = "run") -> tuple[int, Path]:
    spec = tmp / "plain.yaml"
    spec.write_text(SPEC)
    graph = load_graph(str(spec))
    graph.train = {"batch_size": 16, "val_split": 0.25, "seed": 3, **section}
    run = tmp / name
    flags = {"epochs": epochs, "run_dir": str(run)}
    code = train(Request(str(spec), graph, {}, "synthetic:96", backend=backend, progress=False, flags=flags,
                         resume=resume))
    return code, run


def _weights(run: Path, name: str = "weights.safetensors") -> dict[str, np.ndarray]:
    tensors, _ = ckpt.load(str(run / name))
    return ckpt.model_tensors(tensors)


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_early_stopping_ends_the_run_and_a_resume_stays_stopped(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # no epoch can improve on the first by more than 1e9: the run stops after 1 + patience epochs
    es = {"early_stopping": {"metric": "val_loss", "patience": 2, "min_delta": 1e9}}
    code, run = _run(tmp_path, es, epochs=10)
    assert code == 0
    assert [r["epoch"] for r in _rows(run) if r["kind"] == "epoch"] == [1, 2, 3]
    assert "early stopping after epoch 3: val_loss has not improved" in capsys.readouterr().out
    assert (run / "weights.safetensors").is_file()
    code, _ = _run(tmp_path, es, epochs=10, resume=str(run))
    assert code == 0 and len(_rows(run)) == 3  # the resumed run is still stopped: no epoch is added


def test_early_stopping_on_validation_needs_validation(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _ = _run(tmp_path, {"val_split": 0.0, "early_stopping": {"metric": "val_acc"}})
    assert code == 2 and "needs validation data" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["torch", "jax"])
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_accumulated_micro_batches_give_the_weights_of_whole_batches(tmp_path: Path, backend: str, opt: str) -> None:
    if backend == "jax":
        pytest.importorskip("jax")
    section = {"optimizer": {"name": opt, "lr": 0.05}, "clip_grad_norm": 0.5}
    code, whole = _run(tmp_path, section, backend=backend, name="whole")
    assert code == 0
    code, micro = _run(tmp_path, {**section, "accumulate": 3}, backend=backend, name="micro")  # 16 = 6 + 5 + 5
    assert code == 0
    a, b = _weights(whole), _weights(micro)
    assert a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=2e-6, rtol=0) for k in a)
    assert not np.allclose(a["fc.weight"], _weights(_run(tmp_path, section, backend=backend, epochs=1,
                                                         name="short")[1])["fc.weight"])  # training moved them
    ra, rb = _rows(whole), _rows(micro)
    assert [r["train_loss"] for r in ra] == pytest.approx([r["train_loss"] for r in rb], rel=1e-5)


def test_accumulate_above_the_batch_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, _ = _run(tmp_path, {"accumulate": 17})
    assert code == 2 and "accumulate: 17" in capsys.readouterr().err


def test_bf16_autocasts_the_forward_pass_and_keeps_fp32_weights(tmp_path: Path) -> None:
    from modelspec.train.config import resolve as res
    from modelspec.train.distributed import Dist
    from modelspec.train.loop_torch import TorchTrainer
    from modelspec.train.losses import plan as loss_plan
    from modelspec.train.terminals import model_io

    spec = tmp_path / "plain.yaml"
    spec.write_text(SPEC)
    graph = load_graph(str(spec))
    cfg = res({"precision": "bf16"})
    io = model_io(graph, None)
    tr = TorchTrainer(graph, cfg, loss_plan(cfg.loss, io), io, Dist())
    x = {"x": torch.randn(8, 6)}
    y = torch.randint(0, 3, (8,))
    (loss, n), correct = tr.train_batch(x, y, {}, 0.01, 1 / 8, 0)
    assert loss.dtype == torch.float32 and n == 8
    assert all(p.dtype == torch.float32 for p in tr.module.parameters())
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in tr.module.parameters())
    with tr._autocast():
        out = tr.module(torch.randn(2, 6))
    assert out.dtype == torch.bfloat16  # autocast ran the Linear layers in bfloat16
    code, run = _run(tmp_path, {"precision": "bf16", "optimizer": {"lr": 0.05}}, epochs=4)
    rows = _rows(run)
    assert code == 0 and rows[-1]["train_loss"] < rows[0]["train_loss"]  # it learns


def test_jax_bf16_trains_with_fp32_weights(tmp_path: Path) -> None:
    pytest.importorskip("jax")
    code, run = _run(tmp_path, {"precision": "bf16", "optimizer": {"lr": 0.05}}, backend="jax", epochs=4)
    rows = _rows(run)
    assert code == 0 and rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert all(v.dtype == np.float32 for v in _weights(run).values())

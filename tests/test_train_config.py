"""The `train:` section and the run config: validated like the rest of the spec,
merged with flags, and the learning-rate schedule.  No torch or jax needed."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from modelspec.pipeline import compile_text
from modelspec.train.config import ConfigError, TrainSpec, resolve
from modelspec.train.optim import lr_at

SPEC = """\
modelspec: 1
name: M
inputs:
  x: [B, 4]
layers:
  - {op: Linear, features: 3}
train:
"""


def _diags(train_yaml: str) -> list[str]:
    r = compile_text(SPEC + train_yaml, "spec.yaml")
    return [f"{d.pos.line}:{d.pos.col} {d.code} {d.message} | {d.suggestion}" for d in r.diags if d.is_error]


def test_valid_section_compiles() -> None:
    text = ("  epochs: 3\n  batch_size: 8\n  optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\n"
            "  schedule: {name: cosine, warmup_steps: 10}\n  loss: {name: mse, steps: [2, 5]}\n"
            "  clip_grad_norm: 1.0\n  seed: 3\n  val_split: 0.2\n  data: synthetic\n")
    assert _diags(text) == []
    r = compile_text(SPEC + text, "spec.yaml")
    assert r.graph is not None and r.graph.train["epochs"] == 3


def test_unknown_keys_are_located_with_suggestions() -> None:
    got = _diags("  epochz: 3\n  optimizer: {name: adam, lrr: 0.1}\n  schedule: cosin\n")
    assert any(g.startswith("8:3 MS011 unknown key `epochz`") and "`epochs`" in g for g in got), got
    assert any(g.startswith("9:27 MS011 unknown key `lrr`") and "`lr`" in g for g in got), got
    assert any(g.startswith("10:13 MS012") and "cosine" in g for g in got), got
    assert len(got) == 3


def test_bad_values_are_errors() -> None:
    assert any("MS012" in g for g in _diags("  epochs: 0\n"))
    assert any("MS012" in g for g in _diags("  loss: {name: hinge}\n"))
    assert any("MS011" in g and "weight" in g for g in _diags("  loss: {activity_penalty: {nodes: [a], wieght: 1}}\n"))


def test_images_nice_is_bounded_and_located() -> None:
    """`images.nice` is a niceness step, 0 to 19: out of range is MS012 at the value."""
    assert _diags("  images: {workers: 1, nice: 19}\n") == []
    (got,) = _diags("  images: {workers: 1, nice: 30}\n")
    assert got.startswith("8:30 MS012 `train.images.nice`") and "less than or equal to 19" in got, got
    (neg,) = _diags("  images: {nice: -1}\n")
    assert neg.startswith("8:18 MS012 `train.images.nice`"), neg


def test_resolve_flags_win_and_short_forms_expand() -> None:
    cfg = resolve({"epochs": 5, "optimizer": "sgd", "schedule": "cosine", "loss": "mse"},
                  {"epochs": 2, "lr": 0.5, "batch_size": None})
    assert cfg.epochs == 2 and cfg.batch_size == TrainSpec().batch_size
    assert cfg.optimizer.name == "sgd" and cfg.optimizer.lr == 0.5
    assert cfg.schedule.name == "cosine" and cfg.loss.name == "mse"
    cfg = resolve({"optimizer": {"name": "adamw", "weight_decay": 0.01}}, {"optimizer": "adam"})
    assert cfg.optimizer.name == "adam" and cfg.optimizer.weight_decay == 0.01


def test_resolve_bad_flags_say_which_flag() -> None:
    with pytest.raises(ConfigError, match="--lr"):
        resolve({}, {"lr": -1.0})
    with pytest.raises(ConfigError, match="--optimizer"):
        resolve({}, {"optimizer": "rmsprop"})
    with pytest.raises(ConfigError, match="--epochs"):
        resolve({}, {"epochs": 0})


def test_schedule_warmup_and_cosine() -> None:
    cfg = resolve({"optimizer": {"lr": 1.0}, "schedule": {"name": "cosine", "warmup_steps": 4, "min_lr": 0.1}})
    lrs = [lr_at(cfg, s, 14) for s in range(14)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0]
    assert math.isclose(lrs[4], 1.0)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))
    assert math.isclose(lr_at(cfg, 14, 14), 0.1)
    const = resolve({"optimizer": {"lr": 0.3}})
    assert {lr_at(const, s, 10) for s in range(10)} == {0.3}


def test_config_module_imports_no_framework() -> None:
    code = ("import sys, modelspec.train.config, modelspec.train.data, modelspec.validate.models; "
            "print('torch' in sys.modules, 'jax' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]

"""Early stopping: watch one field of the epoch records and stop after `patience` epochs without progress.

The state (the best value and the epochs since it) lives in the run's
`Position` and so in every checkpoint: a resumed run stops at the same epoch
as an uninterrupted one.  Semantics follow Lightning's `EarlyStopping`: an
epoch improves when it beats the best by more than `min_delta`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .config import ConfigError, EarlyStopSpec


@dataclass
class Watch:
    best: float | None = None  # the best value so far (None: no epoch yet)
    stale: int = 0  # epochs since the best one

    def meta(self) -> dict[str, Any]:
        return {"best": self.best, "stale": self.stale}

    @classmethod
    def from_meta(cls, raw: Any) -> "Watch":
        if not isinstance(raw, dict):
            return cls()
        best, stale = raw.get("best"), raw.get("stale", 0)
        ok = (best is None or (isinstance(best, (int, float)) and math.isfinite(best))) and isinstance(stale, int)
        return cls(float(best) if best is not None else None, stale) if ok else cls()


def direction(spec: EarlyStopSpec) -> str:
    """min or max: `auto` maximises accuracies and minimises losses."""
    if spec.mode != "auto":
        return spec.mode
    return "max" if spec.metric.endswith("_acc") else "min"


def check(spec: EarlyStopSpec, has_val: bool, loss: str) -> None:
    """A metric that a run will never record is a config error before training."""
    if spec.metric.startswith("val_") and not has_val:
        raise ConfigError(f"`train.early_stopping.metric: {spec.metric}` needs validation data; set "
                          "`val_split` above 0 or watch `train_loss`")
    if spec.metric.endswith("_acc") and loss != "cross_entropy":
        raise ConfigError(f"`train.early_stopping.metric: {spec.metric}`: there is no accuracy with "
                          f"`loss: {loss}`; watch a loss")


def update(spec: EarlyStopSpec, watch: Watch, value: float) -> bool:
    """Record one epoch's ``value``; True when the run should stop now."""
    up = direction(spec) == "max"
    better = watch.best is None or (value > watch.best + spec.min_delta if up else value < watch.best - spec.min_delta)
    if better:
        watch.best, watch.stale = value, 0
    else:
        watch.stale += 1
    return watch.stale >= spec.patience


def done(spec: EarlyStopSpec | None, watch: Watch) -> bool:
    return spec is not None and watch.stale >= spec.patience

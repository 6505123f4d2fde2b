"""The resolved config of one run: the spec's `train:` section merged with command-line flags.

The section's models (`modelspec.validate.train_section`) validate it inside
`SpecFile` and, here, the merged result.  This module imports neither torch nor jax.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ValidationError

from ..exceptions import ModelspecError
from ..validate.train_section import (  # noqa: F401 - the section's models, re-exported for train/
    AugmentSpec, EarlyStopSpec, ImagesSpec, LossSpec, OptimizerSpec, PenaltySpec, ScheduleSpec, StepRange,
    TableSpec, TrainSpec, _Strict)


class TrainConfig(_Strict):
    """The resolved config of one run: every field filled, long forms only."""

    epochs: int
    batch_size: int
    optimizer: OptimizerSpec
    schedule: ScheduleSpec
    clip_grad_norm: float | None
    loss: LossSpec
    seed: int
    val_split: float
    data: str | None
    output: str | None
    target: str
    run_dir: str | None
    log_every: int | None
    accumulate: int
    precision: str
    early_stopping: EarlyStopSpec | None
    augment: AugmentSpec | None
    images: ImagesSpec | None
    table: TableSpec | None


class ConfigError(ModelspecError):
    """A bad flag or `train:` value; the CLI prints it without a traceback."""


def _long(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, str):
        return {"name": value}
    return dict(value or {})


def resolve(section: Mapping[str, Any] | None, flags: Mapping[str, Any] | None = None) -> TrainConfig:
    """Merge the spec's `train:` section with command-line flags (flags win).

    ``flags`` keys: epochs, batch_size, lr, optimizer, seed, run_dir, data,
    log_every; a value of None means "not given".
    """
    try:
        spec = TrainSpec.model_validate(dict(section or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "train")) from None
    opt = _long(spec.optimizer)
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    if "optimizer" in flags:
        opt["name"] = flags.pop("optimizer")
    if "lr" in flags:
        opt["lr"] = flags.pop("lr")
    merged: dict[str, Any] = spec.model_dump()
    merged.update(optimizer=opt, schedule=_long(spec.schedule), loss=_long(spec.loss))
    unknown = set(flags) - set(TrainConfig.model_fields)
    if unknown:
        raise ConfigError(f"unknown train setting(s): {', '.join(sorted(unknown))}")
    merged.update(flags)
    try:  # the spec model checks ranges; the config model then fixes every field in its long form
        return TrainConfig.model_validate(TrainSpec.model_validate(merged).model_dump())
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "")) from None


_FLAG = {"optimizer.lr": "--lr", "optimizer.name": "--optimizer", "epochs": "--epochs",
         "batch_size": "--batch-size", "seed": "--seed", "log_every": "--log-every"}


def _describe(exc: ValidationError, prefix: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p)[:1].isupper() and p not in ("short", "long"))
        where = _FLAG.get(loc, f"`{prefix + '.' if prefix else ''}{loc}`")
        lines.append(f"{where}: {err['msg'][0].lower()}{err['msg'][1:]} (got {err.get('input')!r})")
    return "; ".join(lines)

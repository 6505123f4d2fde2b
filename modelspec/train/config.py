"""The `train:` section of a spec: its pydantic model and the resolved config.

The same models validate the section inside `SpecFile` (so a misspelt key is
reported at its line with a suggestion, like the rest of the spec) and the
merged result of spec defaults and command-line flags.  This module imports
neither torch nor jax: the front end uses it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from ..exceptions import ModelspecError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _short_or_long(v: Any) -> str:
    return "long" if isinstance(v, (dict, BaseModel)) else "short"


class OptimizerSpec(_Strict):
    """Which optimiser and its hyper-parameters (PyTorch names and defaults)."""

    name: Literal["sgd", "adam", "adamw"] = Field("adam", description="sgd | adam | adamw.")
    lr: float = Field(1e-3, gt=0, description="Peak learning rate.")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD momentum (0: plain SGD).")
    nesterov: bool = Field(False, description="SGD: Nesterov momentum.")
    weight_decay: float = Field(0.0, ge=0, description="L2 penalty (sgd, adam) or decoupled decay (adamw).")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam(W) moment decay rates.")
    eps: float = Field(1e-8, gt=0, description="Adam(W) denominator epsilon.")

    @model_validator(mode="after")
    def _check(self) -> "OptimizerSpec":
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError("each of `betas` must be in [0, 1)")
        if self.nesterov and self.momentum == 0:
            raise ValueError("`nesterov: true` needs a `momentum` above 0")
        return self


class ScheduleSpec(_Strict):
    """The learning rate over the optimiser steps of the whole run."""

    name: Literal["constant", "cosine"] = Field("constant", description="constant | cosine (decay to min_lr).")
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up from 0 over this many optimiser steps.")
    min_lr: float = Field(0.0, ge=0, description="Cosine: the rate at the last step.")


class PenaltySpec(_Strict):
    """Mean squared activation of named nodes, added to the loss times `weight`."""

    nodes: list[str] = Field(min_length=1, description="Dotted node paths whose values are penalised.")
    weight: float = Field(1e-3, ge=0, description="Factor on the mean squared activation.")


StepRange = tuple[int, int]


class LossSpec(_Strict):
    """What is minimised."""

    name: Literal["cross_entropy", "mse"] = Field("cross_entropy", description="cross_entropy | mse.")
    steps: Union[Literal["all", "last"], StepRange] = Field(
        "all", description="Time models: supervise every step, the last, or steps [start, stop) (Python slice).")
    activity_penalty: PenaltySpec | None = Field(None, description="Optional activity regulariser.")


OptimizerField = Annotated[
    Union[Annotated[Literal["sgd", "adam", "adamw"], Tag("short")], Annotated[OptimizerSpec, Tag("long")]],
    Discriminator(_short_or_long),
]
ScheduleField = Annotated[
    Union[Annotated[Literal["constant", "cosine"], Tag("short")], Annotated[ScheduleSpec, Tag("long")]],
    Discriminator(_short_or_long),
]
LossField = Annotated[
    Union[Annotated[Literal["cross_entropy", "mse"], Tag("short")], Annotated[LossSpec, Tag("long")]],
    Discriminator(_short_or_long),
]


class TrainSpec(_Strict):
    """The `train:` section: defaults for `modelspec train`, overridable by flags."""

    epochs: int = Field(10, ge=1, description="Passes over the training data.")
    batch_size: int = Field(64, ge=1, description="Samples per optimiser step (over all processes).")
    optimizer: OptimizerField = Field("adam", description="`adam`, or {name, lr, momentum, weight_decay, betas}.")
    schedule: ScheduleField = Field("constant", description="`constant`, or {name: cosine, warmup_steps, min_lr}.")
    clip_grad_norm: float | None = Field(None, gt=0, description="Clip the global gradient norm to this value.")
    loss: LossField = Field("cross_entropy", description="`cross_entropy`, or {name, steps, activity_penalty}.")
    seed: int = Field(0, ge=0, description="Seeds initialisation, data order, dropout: same seed, same run.")
    val_split: float = Field(0.1, ge=0, lt=1, description="Fraction of the training data held out for validation.")
    data: str | None = Field(None, description="Default data source (a path, or `synthetic`).")
    output: str | None = Field(None, description="The model output the loss reads (needed with several outputs).")
    target: str = Field("y", description="The data array holding the targets.")
    run_dir: str | None = Field(None, description="Run folder; default runs/<name>-<timestamp>.")
    log_every: int | None = Field(None, ge=1, description="Also log metrics every N batches.")


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

"""The `train:` section of a spec, as the language defines it: its pydantic models.

Part of the spec schema (`SpecFile.train`), so that a misspelt key is reported
at its line with a suggestion like the rest of the spec; `modelspec.train.config`
resolves it with command-line flags into the config of one run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator


class _Strict(BaseModel):
    # built on first use: `modelspec lint` of a spec without `train:` never needs these
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


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

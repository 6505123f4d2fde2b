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
    """The learning rate over the optimiser steps of the whole run (`modelspec.train.optim.lr_at`)."""

    name: Literal["constant", "cosine", "step", "one_cycle"] = Field(
        "constant", description="constant | cosine (decay to min_lr) | step (times gamma every step_size steps) "
                                "| one_cycle (up from lr/div_factor, then down, as torch's OneCycleLR).")
    warmup_steps: int = Field(0, ge=0, description="Linear warm-up from 0 over this many optimiser steps.")
    min_lr: float = Field(0.0, ge=0, description="Cosine: the rate at the last step.")
    step_size: int = Field(1000, ge=1, description="Step: optimiser steps between two decays.")
    gamma: float = Field(0.1, gt=0, le=1, description="Step: the factor of each decay.")
    pct_start: float = Field(0.3, gt=0, lt=1, description="One-cycle: the fraction of the run spent rising.")
    div_factor: float = Field(25.0, ge=1, description="One-cycle: the first rate is lr / div_factor.")
    final_div_factor: float = Field(1e4, ge=1, description="One-cycle: the last rate is the first / this.")

    @model_validator(mode="after")
    def _check(self) -> "ScheduleSpec":
        if self.name == "one_cycle" and self.warmup_steps:
            raise ValueError("`one_cycle` rises over `pct_start` of the run; it takes no `warmup_steps`")
        return self


class EarlyStopSpec(_Strict):
    """Stop when a metric of the epoch records has not improved for `patience` epochs."""

    metric: Literal["val_loss", "val_acc", "train_loss", "train_acc"] = Field(
        "val_loss", description="The epoch record's field that is watched.")
    patience: int = Field(3, ge=1, description="Epochs without improvement before the run stops.")
    min_delta: float = Field(0.0, ge=0, description="An improvement must beat the best by more than this.")
    mode: Literal["auto", "min", "max"] = Field(
        "auto", description="min | max | auto (max for accuracies, min for losses).")


class CropSpec(_Strict):
    """Random crop of the input size from the image padded by `padding` pixels (zeros)."""

    padding: int = Field(4, ge=0, le=1024, description="Pixels of zero padding on each side before the crop.")


class NormalizeSpec(_Strict):
    """Per-channel normalisation, after scaling bytes to [0, 1]."""

    mean: list[float] = Field(min_length=1, description="One mean per channel (or one for all).")
    std: list[float] = Field(min_length=1, description="One standard deviation per channel (or one for all).")

    @model_validator(mode="after")
    def _check(self) -> "NormalizeSpec":
        if any(s <= 0 for s in self.std):
            raise ValueError("each of `std` must be above 0")
        return self


class AugmentSpec(_Strict):
    """Augmentation of image inputs [C, H, W]: crop and flip in training only, normalisation everywhere."""

    random_crop: CropSpec | None = Field(None, description="Random crop after zero padding: {padding: 4}.")
    flip: bool = Field(False, description="Random horizontal flip with probability 1/2.")
    normalize: NormalizeSpec | None = Field(None, description="Per-channel (x - mean) / std.")


class ImagesSpec(_Strict):
    """How an image folder is read (`data:` a folder with one sub-folder of images per class)."""

    size: tuple[int, int] | None = Field(None, description="[H, W] to resize to; default: the spec input's.")
    channels: Literal[1, 3] | None = Field(None, description="1 (grey) or 3 (RGB); default: the spec input's.")
    workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes decoding images (0: inline).")
    nice: int = Field(10, ge=0, le=19, description="Added to the workers' scheduling niceness (POSIX): where cores "
                      "are few, the training step runs first and the workers take the time it leaves; 0: the "
                      "training process's priority.")


class TableSpec(_Strict):
    """How a CSV/TSV table is read (`data:` a .csv, .tsv or .txt file with a header row)."""

    label: str = Field("label", min_length=1, description="The column holding the targets.")
    features: list[str] | None = Field(None, min_length=1, description="Feature columns; default: all others.")
    delimiter: Literal["auto", ",", "\t", ";"] = Field(
        "auto", description="Column separator; auto: tab for .tsv, else comma.")


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
    Union[Annotated[Literal["constant", "cosine", "step", "one_cycle"], Tag("short")], Annotated[ScheduleSpec, Tag("long")]],
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
    schedule: ScheduleField = Field("constant", description="`constant`, `cosine`, `step`, `one_cycle`, or {name, warmup_steps, ...}.")
    clip_grad_norm: float | None = Field(None, gt=0, description="Clip the global gradient norm to this value.")
    loss: LossField = Field("cross_entropy", description="`cross_entropy`, or {name, steps, activity_penalty}.")
    seed: int = Field(0, ge=0, description="Seeds initialisation, data order, dropout: same seed, same run.")
    val_split: float = Field(0.1, ge=0, lt=1, description="Fraction of the training data held out for validation.")
    data: str | None = Field(None, description="Default data source (a path, or `synthetic`).")
    output: str | None = Field(None, description="The model output the loss reads (needed with several outputs).")
    target: str = Field("y", description="The data array holding the targets.")
    run_dir: str | None = Field(None, description="Run folder; default runs/<name>-<timestamp>.")
    log_every: int | None = Field(None, ge=1, description="Also log metrics every N batches.")
    accumulate: int = Field(1, ge=1, le=4096, description="Micro-batches per optimiser step (gradient "
                                                          "accumulation); each is batch_size / accumulate.")
    precision: Literal["fp32", "bf16"] = Field("fp32", description="bf16: autocast the forward pass to "
                                                                   "bfloat16 (torch); weights stay fp32.")
    early_stopping: EarlyStopSpec | None = Field(None, description="Stop when a metric stops improving.")
    augment: AugmentSpec | None = Field(None, description="Training-time image augmentation.")
    images: ImagesSpec | None = Field(None, description="Image-folder reading: size, channels, workers.")
    table: TableSpec | None = Field(None, description="CSV/TSV reading: label and feature columns.")

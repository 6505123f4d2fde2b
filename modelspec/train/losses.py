"""Losses and metrics, per sample, for both backends.

Losses are means over the batch: torch's come from fused reductions, jax's from
per-sample values (shape [B]) summed inside the jitted step.  The loop scales a
process's mean by its share of the global batch, which makes a sharded
multi-process step the exact average of the single-process one, even when a
batch does not split evenly.  A time
model's output ``[B, T, ...]`` is supervised at every step, the last step, or a
step range (DynVision supervises every step); accuracy is read at the last
supervised step, and evaluation also reports loss and accuracy per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import LossSpec
from .sources import DataError
from .terminals import ModelIO

PENALTY_PREFIX = "activity__"


@dataclass
class LossPlan:
    name: str  # "cross_entropy" | "mse"
    timed: bool  # the output carries a time axis at position 1
    steps: slice  # the supervised steps (timed only)
    total_steps: int
    penalty: list[str] = field(default_factory=list)  # extra output names
    penalty_weight: float = 0.0


def plan(spec: LossSpec, io: ModelIO) -> LossPlan:
    timed = io.steps is not None and io.out_steps == "all"
    T = io.steps or 1
    if spec.steps == "all":
        sl = slice(0, T)
    elif spec.steps == "last":
        sl = slice(T - 1, T)
    else:
        start, stop = spec.steps
        sl = slice(*slice(start, stop).indices(T))
        if not timed:
            raise DataError("`loss.steps: [start, stop]` needs a time model whose output has `steps: all`")
        if sl.stop <= sl.start:
            raise DataError(f"`loss.steps: [{start}, {stop}]` selects no step of the {T} steps")
    pen = spec.activity_penalty
    names = [f"{PENALTY_PREFIX}{i}" for i in range(len(pen.nodes))] if pen else []
    return LossPlan(spec.name, timed, sl, T, names, pen.weight if pen else 0.0)


# -- torch ----------------------------------------------------------------------------------------------------

def torch_loss(p: LossPlan, out: Any, y: Any) -> tuple[Any, Any]:
    """(mean loss over the batch and supervised steps, number correct or None).

    Every sample has the same number of terms, so the mean of the per-sample
    losses is the plain mean, which PyTorch's fused reductions give in one op."""
    import torch.nn.functional as F

    if p.timed:
        o = out[:, p.steps]
        n = o.shape[1]
        if p.name == "cross_entropy":
            t = y[:, p.steps] if y.dim() == 2 else y[:, None].expand(-1, n)
            correct = (o[:, -1].argmax(-1) == t[:, -1]).sum()
            return F.cross_entropy(o.reshape(-1, o.shape[-1]), t.reshape(-1)), correct
        t = y[:, p.steps] if y.dim() == o.dim() else y[:, None].expand_as(o)
        return F.mse_loss(o, t), None
    if p.name == "cross_entropy":
        return F.cross_entropy(out, y), (out.argmax(-1) == y).sum()
    return F.mse_loss(out, y), None


def torch_penalty(p: LossPlan, outs: dict[str, Any]) -> Any:
    """weight * mean squared activation of the named nodes (None without a penalty)."""
    if not p.penalty:
        return None
    return sum(outs[name].pow(2).mean() for name in p.penalty) * p.penalty_weight


def torch_eval(p: LossPlan, out: Any, y: Any) -> dict[str, Any]:
    """Sums for evaluation: loss and correct over the batch, and per step for time models."""
    import torch
    import torch.nn.functional as F

    mean, correct = torch_loss(p, out, y)
    sums: dict[str, Any] = {"loss": mean.double() * len(out)}
    if correct is not None:
        sums["correct"] = correct.double()
    if p.timed:
        T = out.shape[1]
        if p.name == "cross_entropy":
            t = y if y.dim() == 2 else y[:, None].expand(-1, T)
            per_step = F.cross_entropy(out.reshape(-1, out.shape[-1]), t.reshape(-1),
                                       reduction="none").view(len(out), T)
            sums["correct_steps"] = (out.argmax(-1) == t).sum(0).double()
        else:
            t = y if y.dim() == out.dim() else y[:, None]
            per_step = (out - t).pow(2).reshape(len(out), T, -1).mean(2)
        sums["loss_steps"] = per_step.sum(0).double()
    return {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v for k, v in sums.items()}


# -- jax ------------------------------------------------------------------------------------------------------

def _xent(logits: Any, labels: Any) -> Any:
    import jax
    import jax.numpy as jnp

    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]


def jax_loss(p: LossPlan, out: Any, y: Any) -> tuple[Any, Any]:
    """The jax twin of `torch_loss` (traced inside the jitted step)."""
    import jax.numpy as jnp

    if p.timed:
        o = out[:, p.steps]
        n = o.shape[1]
        if p.name == "cross_entropy":
            t = y[:, p.steps] if y.ndim == 2 else jnp.broadcast_to(y[:, None], (len(o), n))
            per = _xent(o, t)
            return per.mean(1), (jnp.argmax(o[:, -1], -1) == t[:, -1]).sum()
        t = y[:, p.steps] if y.ndim == o.ndim else y[:, None]
        return ((o - t) ** 2).reshape(len(o), -1).mean(1), None
    if p.name == "cross_entropy":
        return _xent(out, y).reshape(len(out), -1).mean(1), (jnp.argmax(out, -1) == y).sum()
    return ((out - y) ** 2).reshape(len(out), -1).mean(1), None


def jax_penalty(p: LossPlan, outs: dict[str, Any]) -> Any:
    total = None
    for name in p.penalty:
        a = outs[name]
        v = (a ** 2).reshape(len(a), -1).mean(1)
        total = v if total is None else total + v
    return total * p.penalty_weight if total is not None else None


def jax_eval(p: LossPlan, out: Any, y: Any) -> dict[str, Any]:
    """The jax twin of `torch_eval`."""
    import jax.numpy as jnp

    per, correct = jax_loss(p, out, y)
    sums: dict[str, Any] = {"loss": per.sum()}
    if correct is not None:
        sums["correct"] = correct
    if p.timed:
        T = out.shape[1]
        if p.name == "cross_entropy":
            t = y if y.ndim == 2 else jnp.broadcast_to(y[:, None], out.shape[:2])
            sums["loss_steps"] = _xent(out, t).sum(0)
            sums["correct_steps"] = (jnp.argmax(out, -1) == t).sum(0)
        else:
            t = y if y.ndim == out.ndim else y[:, None]
            sums["loss_steps"] = ((out - t) ** 2).reshape(len(out), T, -1).mean(2).sum(0)
    return sums

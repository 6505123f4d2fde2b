"""The learning rate as a function of the optimiser step: warm-up, then constant, cosine, step or one-cycle.

One pure function serves both backends: the loop sets the rate before every
step (torch: on the parameter groups; optax: the injected hyper-parameter), so
there is no scheduler state to save and a resumed run continues on exactly the
same curve.  The curves are torch.optim.lr_scheduler's (StepLR,
CosineAnnealingLR, OneCycleLR with cosine annealing), in closed form.
"""

from __future__ import annotations

import math

from .config import TrainConfig


def _cos(start: float, end: float, frac: float) -> float:
    """Cosine annealing from ``start`` (frac 0) to ``end`` (frac 1), as OneCycleLR's `_annealing_cos`."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * frac) + 1.0)


def lr_at(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``."""
    peak = cfg.optimizer.lr
    s = cfg.schedule
    if s.name == "one_cycle":
        return _one_cycle(peak, step, total_steps, s.pct_start, s.div_factor, s.final_div_factor)
    if s.warmup_steps and step < s.warmup_steps:
        return peak * (step + 1) / s.warmup_steps
    after = step - s.warmup_steps  # steps since the warm-up ended
    if s.name == "constant":
        return peak
    if s.name == "step":
        return peak * s.gamma ** (after // s.step_size)
    span = max(1, total_steps - s.warmup_steps)
    return _cos(peak, s.min_lr, min(1.0, max(0.0, after / span)))


def _one_cycle(peak: float, step: int, total: int, pct_start: float, div: float, final_div: float) -> float:
    """torch's OneCycleLR (two phases, cosine): lr/div up to lr at pct_start, then down to lr/div/final_div."""
    first = peak / div
    last = first / final_div
    up_end = float(pct_start * total) - 1
    down_end = float(total - 1)
    if step <= up_end:
        return _cos(first, peak, step / up_end if up_end > 0 else 1.0)
    span = down_end - up_end
    return _cos(peak, last, min(1.0, (step - up_end) / span) if span > 0 else 1.0)

"""Optimisers and the learning-rate schedule, for torch.optim and optax.

The schedule is one Python function of the step, used by both backends: the
loop sets the rate before every step, so there is no scheduler state to save
and a resumed run continues on exactly the same curve.
"""

from __future__ import annotations

import math
from typing import Any

from .config import TrainConfig


def lr_at(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``."""
    peak = cfg.optimizer.lr
    s = cfg.schedule
    if s.warmup_steps and step < s.warmup_steps:
        return peak * (step + 1) / s.warmup_steps
    if s.name == "constant":
        return peak
    span = max(1, total_steps - s.warmup_steps)
    frac = min(1.0, max(0.0, (step - s.warmup_steps) / span))
    return s.min_lr + 0.5 * (peak - s.min_lr) * (1.0 + math.cos(math.pi * frac))


def torch_optimizer(cfg: TrainConfig, params: Any) -> Any:
    """A torch.optim optimiser over ``params``; weight decay applies to every parameter."""
    import torch

    o = cfg.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(params, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov,
                               weight_decay=o.weight_decay)
    if o.name == "adam":
        return torch.optim.Adam(params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)
    return torch.optim.AdamW(params, lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay)


def optax_optimizer(cfg: TrainConfig) -> Any:
    """The optax twin of `torch_optimizer` (L2 decay coupled for sgd/adam, decoupled for
    adamw; clipping first), with the learning rate injected so the loop can set it."""
    import optax

    o = cfg.optimizer

    def make(learning_rate: float) -> Any:
        parts = []
        if cfg.clip_grad_norm:
            parts.append(optax.clip_by_global_norm(cfg.clip_grad_norm))
        if o.name in ("sgd", "adam") and o.weight_decay:
            parts.append(optax.add_decayed_weights(o.weight_decay))
        if o.name == "sgd":
            parts.append(optax.sgd(learning_rate, momentum=o.momentum or None, nesterov=o.nesterov))
        elif o.name == "adam":
            parts.append(optax.adam(learning_rate, b1=o.betas[0], b2=o.betas[1], eps=o.eps))
        else:
            parts.append(optax.adamw(learning_rate, b1=o.betas[0], b2=o.betas[1], eps=o.eps,
                                     weight_decay=o.weight_decay))
        return optax.chain(*parts)

    return optax.inject_hyperparams(make)(learning_rate=o.lr)

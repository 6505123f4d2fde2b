"""Optimisers for torch.optim and optax; the learning rate of each step comes from `schedules`."""

from __future__ import annotations

from typing import Any

from .config import TrainConfig
from .schedules import lr_at  # noqa: F401 - the schedule, re-exported where it always was


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

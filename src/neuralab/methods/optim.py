"""Optimisers and learning-rate schedules by name, all from torch.optim (curriculum F10)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "exponential", "cosine", "onecycle")


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=weight_decay)
    cls = {"adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta, "rmsprop": torch.optim.RMSprop,
           "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    return cls(params, lr=lr, weight_decay=weight_decay)


def make_schedule(name: str, optimizer: torch.optim.Optimizer, total_steps: int, lr: float):
    """A per-step schedule over `total_steps`, or None for a constant learning rate."""
    total_steps = max(total_steps, 1)
    if name == "none":
        return None
    if name == "step":  # divide by 10 at 50% and 75% of training
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, [total_steps // 2, 3 * total_steps // 4], 0.1)
    if name == "exponential":  # end at 1% of the initial rate
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.01 ** (1 / total_steps))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)

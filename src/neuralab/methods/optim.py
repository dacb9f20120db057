"""Optimisers and learning-rate schedules by name, all from torch.optim (curriculum F10; notes 002 sections
2.12-2.13; Kingma and Ba, "Adam: A method for stochastic optimization", 2015).

Momentum is torch's form `b = gamma*b + g; theta -= lr*b`, which for a constant learning rate is the
notes' `v = gamma*v + lr*g; theta -= v` with `v = lr*b` (tests/unit/test_optim.py checks it step by step).
`DEFAULT_LR` holds a learning rate that works for each optimiser on a small MLP; the optimiser
comparison starts from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from neuralab.errors import UserError
from neuralab.methods.regularization import clip_gradients_

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")
# Quasi-Newton (Liu and Nocedal 1989), meant for full batches: its step re-evaluates the loss through a
# closure during the strong-Wolfe line search, so only methods that pass a closure offer it.
QUASI_NEWTON = ("lbfgs",)
SCHEDULES = ("none", "step", "exponential", "cosine", "onecycle")

# Common starting points, not tuned per task: plain SGD needs a larger step than momentum (whose
# effective step is lr / (1 - gamma)); AdaDelta's 1.0 is its paper's (it has no learning rate of its own);
# the adaptive methods use their usual defaults.
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.05, "adadelta": 1.0,
              "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
_ADAPTIVE = {"adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta, "rmsprop": torch.optim.RMSprop,
             "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
_FUSABLE = ("adam", "adamw")  # those with a fused kernel on both CPU and CUDA in torch 2.13


def make_optimizer(name: str, params: Iterable[torch.nn.Parameter], lr: float, momentum: float = 0.9,
                   weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """A torch optimiser by name; `weight_decay` is an L2 term in the gradient except for adamw (decoupled). Adam and
    AdamW take torch's fused kernel where the weights allow it (the same update up to rounding)."""
    params = list(params)
    if name == "lbfgs":
        if weight_decay:
            raise UserError("lbfgs has no weight_decay; use the l2 penalty of the loss instead")
        return torch.optim.LBFGS(params, lr=lr, line_search_fn="strong_wolfe")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name in ("momentum", "nesterov"):
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                               weight_decay=weight_decay)
    if name not in _ADAPTIVE:
        raise UserError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS + QUASI_NEWTON)}")
    if name in _FUSABLE and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() and p.is_contiguous()
                                for p in params):
        # One kernel for every tensor instead of a dozen small ops per update: on a small network the update was a
        # quarter of a training step (vae-examples-mnist: 1.6 of 6.8 ms a step on 2 CPU cores). Not for channels-last
        # weights: the fused kernel walks the raw storage, and the moments a checkpoint restores come back in the
        # default layout, so a resumed run would pair each weight with another's moments.
        return _ADAPTIVE[name](params, lr=lr, weight_decay=weight_decay, fused=True)
    return _ADAPTIVE[name](params, lr=lr, weight_decay=weight_decay)


def make_schedule(name: str, optimizer: torch.optim.Optimizer, total_steps: int):
    """A schedule stepped once per training step over `total_steps`, or None for a constant rate.

    step: the rate divided by 10 at 50% and again at 75% of training; exponential: multiplied by a constant
    factor each step so that it ends at 1% of `lr`; cosine: half a cosine from `lr` down to 0; onecycle:
    warm up from lr/25 to `lr` over the first 30% of training, then anneal along a cosine to lr/25/1e4
    (Smith and Topin 2019). `lr` is each parameter group's own rate as the optimiser was built with it.
    """
    total_steps = max(total_steps, 1)
    if name == "none":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, [total_steps // 2, 3 * total_steps // 4], 0.1)
    if name == "exponential":
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.01 ** (1 / total_steps))
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps)
    if name == "onecycle":
        # Momentum cycles inversely to the rate where the optimiser has one kind of it (MuonAdamW has two: neither).
        cycle = "momentum" in optimizer.defaults or "betas" in optimizer.defaults
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[group["lr"] for group in optimizer.param_groups],
                                                   total_steps=total_steps, cycle_momentum=cycle)
    raise UserError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")


def descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer, params: list[torch.nn.Parameter],
            clip_grad_norm: float, schedule: torch.optim.lr_scheduler.LRScheduler | None) -> None:
    """One gradient step on `loss`: clear the gradients, backpropagate, clip their joint norm to `clip_grad_norm`
    (0: no clipping), step the optimiser, then the schedule."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip_gradients_(params, clip_grad_norm, 0.0)
    optimizer.step()
    if schedule is not None:
        schedule.step()


def training_state(model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: Any,
                   generator: torch.Generator) -> dict[str, Any]:
    """A one-network method's checkpoint state: weights, optimiser, schedule (or None) and its sampling generator."""
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "schedule": None if schedule is None else schedule.state_dict(), "generator": generator.get_state()}


def load_training_state(state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                        schedule: Any, generator: torch.Generator) -> None:
    """Restore what `training_state` saved."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(state["schedule"])
    generator.set_state(state["generator"])

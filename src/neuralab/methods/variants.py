"""Variants of one model trained side by side on the same mini-batches, for the comparison recipes of the
supervised toolbox (activations, initialisation, hidden widths; curriculum F4, F6, F9).

Every variant starts from the same seed and sees the same batches in the same order, so the only
difference between two learning curves is the knob being compared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from neuralab.errors import UserError
from neuralab.methods.supervised import evaluate_split

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def variant_config(model: nn.Module, method: str, **changes: Any) -> Any:
    """The engine-built model's config with `changes`; a clear error if the model lacks those fields."""
    cfg = getattr(model, "cfg", None)
    missing = [k for k in changes if cfg is None or not hasattr(cfg, k)]
    if missing:
        raise UserError(f"method {method}: the model's config has no field {', '.join(missing)}; use a model "
                        f"that has it (e.g. --model mlp)")
    return dataclasses.replace(cfg, **changes)


def seeded_model(cls: type, cfg: Any, seed: int, device: torch.device) -> nn.Module:
    """`cls(cfg)` initialised from `seed` without touching the global generator the engine checkpoints."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(cfg).to(device)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 2000) -> float:
    """Share of examples whose arg-max output is the label, in evaluation mode."""
    return evaluate_split(model, x, y, "cross_entropy", batch)["acc"]


class Lockstep:
    """Named models, each with its own optimiser (and optional schedule), stepped on one shared batch."""

    def __init__(self, models: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                 loss_fn: LossFn, schedules: dict[str, Any] | None = None) -> None:
        self.models, self.optimizers, self.loss_fn = models, optimizers, loss_fn
        self.schedules = schedules or {}

    def step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One update of every variant on (x, y) -> {"<variant>/train/loss": loss before the update}."""
        metrics = {}
        for name, model in self.models.items():
            model.train()
            loss = self.loss_fn(model(x), y)
            opt = self.optimizers[name]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if self.schedules.get(name) is not None:
                self.schedules[name].step()
            metrics[f"{name}/train/loss"] = loss.detach()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return {name: {"model": model.state_dict(), "optimizer": self.optimizers[name].state_dict(),
                       "schedule": None if self.schedules.get(name) is None else self.schedules[name].state_dict()}
                for name, model in self.models.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, model in self.models.items():
            model.load_state_dict(state[name]["model"])
            self.optimizers[name].load_state_dict(state[name]["optimizer"])
            if self.schedules.get(name) is not None:
                self.schedules[name].load_state_dict(state[name]["schedule"])

"""Supervised learning by backpropagation: mini-batch gradient descent on a loss (curriculum F3, F5, F7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.data.tensors import SupervisedData
from neuralab.methods.base import RunContext
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from neuralab.registry import register_method

LOSSES = ("cross_entropy", "bce", "mse")


@dataclass(frozen=True)
class SupervisedConfig:
    optimizer: str = field("adam", "Optimiser from torch.optim.", choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate (peak rate for onecycle).", gt=0)
    momentum: float = field(0.9, "Momentum for the momentum and nesterov optimisers.", ge=0, le=1)
    weight_decay: float = field(0.0, "L2 penalty coefficient applied by the optimiser.", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the whole run.", choices=SCHEDULES)
    loss: str = field("cross_entropy", "cross_entropy (classes), bce (one sigmoid output) or mse.",
                      choices=LOSSES)
    eval_batch_size: int = field(2000, "Examples per forward pass when evaluating.", ge=1)


def _loss(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name == "cross_entropy":
        return F.cross_entropy(out, y)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(out.squeeze(-1), y.float())
    target = y.float().view_as(out) if y.dtype.is_floating_point else F.one_hot(y, out.shape[-1]).float()
    return F.mse_loss(out, target)


def _correct(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    if y.dtype.is_floating_point:
        return None  # regression: no accuracy
    if name == "bce" or out.shape[-1] == 1:
        return ((out.squeeze(-1) > 0).long() == y).sum()
    return (out.argmax(-1) == y).sum()


@register_method("supervised", config=SupervisedConfig)
class Supervised:
    def __init__(self, cfg: SupervisedConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, cfg.momentum,
                                        cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps, cfg.lr)
        self.done = False

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        self.model.train()
        with self.ctx.autocast():
            out = self.model(x)
            loss = _loss(self.cfg.loss, out, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        metrics = {"train/loss": loss.detach()}
        correct = _correct(self.cfg.loss, out.detach(), y)
        if correct is not None:
            metrics["train/acc"] = correct / len(y)
        return metrics

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        self.model.eval()
        metrics = {}
        for split in ("val", "test"):
            pair = self.data.split(split)
            if pair is None:
                continue
            x, y = pair
            loss_sum, correct = 0.0, 0
            for i in range(0, len(x), self.cfg.eval_batch_size):
                yb = y[i:i + self.cfg.eval_batch_size]
                with self.ctx.autocast():
                    out = self.model(x[i:i + self.cfg.eval_batch_size])
                    loss_sum += float(_loss(self.cfg.loss, out, yb)) * len(yb)
                c = _correct(self.cfg.loss, out, yb)
                correct += 0 if c is None else int(c)
            metrics[f"{split}/loss"] = loss_sum / len(x)
            if not y.dtype.is_floating_point:
                metrics[f"{split}/acc"] = correct / len(x)
        self.model.train()
        return metrics

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        out = torch.cat([self.model(x[i:i + self.cfg.eval_batch_size])
                         for i in range(0, len(x), self.cfg.eval_batch_size)])
        if self.cfg.loss == "bce" or out.shape[-1] == 1:
            p = torch.sigmoid(out.squeeze(-1))
            return torch.stack([1 - p, p], -1)
        return out.softmax(-1)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])

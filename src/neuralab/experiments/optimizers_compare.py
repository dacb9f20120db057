"""Every torch optimiser on one network, one data stream and one seed (curriculum F10; notes 002 section
2.13, "start with Adam but try several optimisers"; Kingma and Ba, "Adam: A method for stochastic
optimization", 2015).

Each optimiser trains its own copy of the recipe's model, all copies starting from the same weights, and
every step feeds all of them the same mini-batch, so the curves differ only by the update rule and its
learning rate. The smoothed training loss is an exponential moving average of the mini-batch losses with
Adam's bias correction; its first crossing of `threshold` gives "steps to threshold".
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.methods.optim import DEFAULT_LR, OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from neuralab.methods.supervised import evaluate_split
from neuralab.methods.variants import Lockstep
from neuralab.registry import register_method


@dataclass(frozen=True)
class OptimizersCompareConfig:
    optimizers: tuple[str, ...] = field(OPTIMIZERS, "Optimisers to compare, each on its own copy of the model.",
                                        choices=OPTIMIZERS, nonempty=True, unique=True)
    lr_sgd: float = field(DEFAULT_LR["sgd"], "Learning rate of sgd.", gt=0)
    lr_momentum: float = field(DEFAULT_LR["momentum"], "Learning rate of momentum (heavy ball).", gt=0)
    lr_nesterov: float = field(DEFAULT_LR["nesterov"], "Learning rate of nesterov.", gt=0)
    lr_adagrad: float = field(DEFAULT_LR["adagrad"], "Learning rate of adagrad.", gt=0)
    lr_adadelta: float = field(DEFAULT_LR["adadelta"], "Learning rate (scale of the update) of adadelta.", gt=0)
    lr_rmsprop: float = field(DEFAULT_LR["rmsprop"], "Learning rate of rmsprop.", gt=0)
    lr_adam: float = field(DEFAULT_LR["adam"], "Learning rate of adam.", gt=0)
    lr_adamw: float = field(DEFAULT_LR["adamw"], "Learning rate of adamw.", gt=0)
    momentum: float = field(0.9, "Momentum coefficient gamma of momentum and nesterov.", ge=0, le=0.999)
    adamw_weight_decay: float = field(0.01, "Decoupled weight decay of adamw (torch's default); the other "
                                            "optimisers use none.", ge=0)
    schedule: str = field("none", "Learning-rate schedule applied to every optimiser.", choices=SCHEDULES)
    threshold: float = field(0.1, "Smoothed training loss whose first crossing is reported.", gt=0)
    smoothing: float = field(0.9, "Factor of the moving average of mini-batch losses.", ge=0, le=0.999)
    eval_batch_size: int = field(2000, "Examples per forward pass when evaluating.", ge=1)


@register_method("optimizers-compare", config=OptimizersCompareConfig)
class OptimizersCompare(Method):
    def __init__(self, cfg: OptimizersCompareConfig, model: nn.Module, data: SupervisedData,
                 ctx: RunContext) -> None:
        self.cfg, self.data, self.done = cfg, data, False
        self.names = list(cfg.optimizers)
        self.lr = {name: getattr(cfg, f"lr_{name}") for name in self.names}
        self.models = {name: copy.deepcopy(model) for name in self.names}  # identical starting weights
        optimizers = {
            name: make_optimizer(name, self.models[name].parameters(), self.lr[name], cfg.momentum,
                                 cfg.adamw_weight_decay if name == "adamw" else 0.0)
            for name in self.names}
        schedules = {name: make_schedule(cfg.schedule, opt, ctx.total_steps, self.lr[name])
                     for name, opt in optimizers.items()}
        self.lockstep = Lockstep(self.models, optimizers, F.cross_entropy, schedules)
        self.steps = 0
        self.ema = {name: 0.0 for name in self.names}
        self.smoothed: dict[str, list[float]] = {name: [] for name in self.names}  # one entry per step
        self.reached: dict[str, int | None] = {name: None for name in self.names}

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        self.steps += 1
        s = self.cfg.smoothing
        metrics = {}
        for name, loss in self.lockstep.step(x, y).items():
            name, value = name.removesuffix("/train/loss"), loss.item()
            self.ema[name] = s * self.ema[name] + (1 - s) * value
            smoothed = self.ema[name] / (1 - s**self.steps)
            self.smoothed[name].append(smoothed)
            if self.reached[name] is None and smoothed <= self.cfg.threshold:
                self.reached[name] = self.steps
            metrics[f"{name}/train/loss"] = value
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Per optimiser: loss over the whole training set, test loss and accuracy, steps to threshold."""
        metrics = {}
        for name, model in self.models.items():
            for split in ("train", "val", "test"):
                pair = self.data.split(split)
                if pair is not None:
                    result = evaluate_split(model, *pair, "cross_entropy", self.cfg.eval_batch_size)
                    metrics[f"{name}/{split}/loss"], metrics[f"{name}/{split}/acc"] = result["loss"], result["acc"]
            if self.reached[name] is not None:
                metrics[f"{name}/steps_to_threshold"] = float(self.reached[name])
        accs = [metrics[f"{name}/test/acc"] for name in self.names]
        metrics["compare/test/best_acc"], metrics["compare/test/worst_acc"] = max(accs), min(accs)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        lines = [f"{self.steps} steps on the same batches from the same initial weights; schedule "
                 f"{self.cfg.schedule}; steps to threshold = first step with smoothed training loss <= "
                 f"{self.cfg.threshold:g}.", "",
                 "| optimiser | lr | final train loss | test loss | test acc | steps to threshold |",
                 "|---|---|---|---|---|---|"]
        for name in self.names:
            reached = self.reached[name]
            lines.append(f"| {name} | {self.lr[name]:g} | {m[name + '/train/loss']:.4f} | "
                         f"{m[name + '/test/loss']:.4f} | {m[name + '/test/acc']:.4f} | "
                         f"{reached if reached is not None else f'not within {self.steps}'} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.curves import save_figure

        if not self.steps:
            return []
        fig, ax = plt.subplots(figsize=(7, 4.2))
        steps = range(1, self.steps + 1)
        for i, name in enumerate(self.names):  # dashes tell apart curves that lie on top of each other
            ax.plot(steps, self.smoothed[name], label=f"{name} (lr {self.lr[name]:g})", lw=1.4,
                    ls="--" if i % 2 else "-")
        ax.axhline(self.cfg.threshold, color="grey", ls="--", lw=1)
        ax.set_yscale("log")
        ax.set(xlabel="step", ylabel="training loss (smoothed)",
               title="Optimisers on the same net, data and seed")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, ncol=2)
        return [save_figure(fig, plots_dir / "optimizers.png")]

    def state_dict(self) -> dict[str, Any]:
        return {
            "variants": self.lockstep.state_dict(),
            "steps": self.steps, "ema": self.ema, "smoothed": self.smoothed, "reached": self.reached}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lockstep.load_state_dict(state["variants"])
        self.steps = int(state["steps"])
        self.ema = {k: float(v) for k, v in state["ema"].items()}
        self.smoothed = {k: [float(x) for x in v] for k, v in state["smoothed"].items()}
        self.reached = {k: None if v is None else int(v) for k, v in state["reached"].items()}

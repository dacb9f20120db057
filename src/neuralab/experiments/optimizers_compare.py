"""Every torch optimiser on one network, one data stream and one seed (curriculum F10; notes 002 section
2.13, "start with Adam but try several optimisers"; Kingma and Ba, "Adam: A method for stochastic
optimization", 2015).

Each optimiser is one variant of a sweep: its own copy of the recipe's model, all copies starting from the
same weights, trained by the supervised rule with that optimiser and learning rate on the same mini-batch
every step, so the curves differ only by the update rule and its learning rate. The smoothed training
loss is an exponential moving average of the mini-batch losses with Adam's bias correction;
its first crossing of `threshold` gives "steps to threshold".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.experiments.sweep import Sweep, Variant, plot_variants
from neuralab.methods.optim import DEFAULT_LR, OPTIMIZERS, SCHEDULES
from neuralab.methods.supervised import SupervisedConfig, evaluate_split
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
    """A sweep with one variant per optimiser (the supervised rule with that optimiser and learning rate),
    plus the smoothed training loss of each and the step at which it first crosses the threshold."""

    def __init__(self, cfg: OptimizersCompareConfig, model: nn.Module, data: SupervisedData,
                 ctx: RunContext) -> None:
        self.cfg, self.data, self.ctx, self.done = cfg, data, ctx, False
        self.names = list(cfg.optimizers)
        self.lr = {name: getattr(cfg, f"lr_{name}") for name in self.names}
        # The supervised rule's weight_decay is the optimiser's own: decoupled for adamw (Loshchilov & Hutter).
        variants = [Variant(name, rule={"optimizer": name, "lr": self.lr[name], "momentum": cfg.momentum,
                                        "weight_decay": cfg.adamw_weight_decay if name == "adamw" else 0.0,
                                        "schedule": cfg.schedule})
                    for name in self.names]
        self.sweep = Sweep(variants, data, ctx, method="optimizers-compare",
                           rule_config=SupervisedConfig(eval_batch_size=cfg.eval_batch_size))
        self.steps = 0
        self.ema = {name: 0.0 for name in self.names}
        self.smoothed: dict[str, list[float]] = {name: [] for name in self.names}  # one entry per step
        self.reached: dict[str, int | None] = {name: None for name in self.names}

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        self.steps += 1
        s = self.cfg.smoothing
        metrics = self.sweep.step(batch)
        for name in self.names:
            value = float(metrics[f"{name}/train/loss"])
            self.ema[name] = s * self.ema[name] + (1 - s) * value
            smoothed = self.ema[name] / (1 - s**self.steps)
            self.smoothed[name].append(smoothed)
            if self.reached[name] is None and smoothed <= self.cfg.threshold:
                self.reached[name] = self.steps
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Per optimiser: loss and accuracy over the whole training set and the held-out splits, steps to
        threshold; the best and worst test accuracy."""
        metrics = self.sweep.evaluate()
        for name, net in self.sweep.networks.items():
            with self.ctx.autocast():  # as the rule measures the held-out splits
                train = evaluate_split(net, *self.data.split("train"), "cross_entropy", self.cfg.eval_batch_size)
            metrics[f"{name}/train/loss"], metrics[f"{name}/train/acc"] = train["loss"], train["acc"]
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
        """plots/optimizers.png: smoothed training loss of every optimiser and the threshold, log scale."""
        if not self.steps:
            return []
        steps = list(range(1, self.steps + 1))
        curves = {f"{name} (lr {self.lr[name]:g})": (steps, self.smoothed[name]) for name in self.names}
        # dashes tell apart curves that lie on top of each other (adam and adamw, momentum and nesterov)
        styles = {label: "--" if i % 2 else "-" for i, label in enumerate(curves)}
        threshold = f"threshold {self.cfg.threshold:g}"
        curves[threshold], styles[threshold] = (steps, [self.cfg.threshold] * self.steps), ":"
        return [plot_variants(curves, plots_dir / "optimizers.png", title="Optimisers on the same net, data and seed",
                              xlabel="step", ylabel="training loss (smoothed)", log_y=True, styles=styles)]

    def state_dict(self) -> dict[str, Any]:
        return {"variants": self.sweep.state_dict(), "steps": self.steps, "ema": self.ema,
                "smoothed": self.smoothed, "reached": self.reached}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["variants"])
        self.steps = int(state["steps"])
        self.ema = {k: float(v) for k, v in state["ema"].items()}
        self.smoothed = {k: [float(x) for x in v] for k, v in state["smoothed"].items()}
        self.reached = {k: None if v is None else int(v) for k, v in state["reached"].items()}

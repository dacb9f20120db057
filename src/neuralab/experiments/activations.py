"""ReLU against tanh and sigmoid on one network (Glorot, Bordes, Bengio, "Deep sparse rectifier neural
networks", 2011; curriculum F6, notes 002 section 2.4).

Each activation is a variant of the recipe's model, trained by the supervised rule through the sweep
harness (`experiments/sweep.py`) from the same initial weights on the same batches. At the end of each
epoch every variant's test accuracy is recorded, which gives the epochs each activation needs to reach
`threshold`. For the ReLU variants the method also reports the share of active units at initialisation
(about half: pre-activations are symmetric about 0) and the share of dead units, which output 0 for
every training example and so get no gradient again. An extra ReLU net trained with a far too large
learning rate shows units dying.
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
from neuralab.methods.optim import OPTIMIZERS
from neuralab.methods.supervised import SupervisedConfig
from neuralab.nn.activations import ACTIVATIONS
from neuralab.nn.diagnostics import ActivationRecorder, dead_relu_fraction
from neuralab.registry import register_method

HIGH_LR = "relu-high-lr"  # name of the variant trained with `dead_lr`


@dataclass(frozen=True)
class ActivationsConfig:
    activations: tuple[str, ...] = field(("relu", "tanh", "sigmoid"),
                                         "Hidden activations compared on the same net, seed and batches.",
                                         choices=ACTIVATIONS, nonempty=True, unique=True)
    optimizer: str = field("sgd", "Optimiser of every variant (torch.optim).", choices=OPTIMIZERS)
    lr: float = field(0.05, "Learning rate of every variant.", gt=0)
    threshold: float = field(0.9, "Test accuracy whose first epoch is reported for each activation.", gt=0, le=1)
    dead_lr: float = field(2.0, "Learning rate of the extra ReLU net that shows dying units; 0 leaves it out.",
                           ge=0)


@torch.no_grad()
def active_fraction(model: nn.Module, x: torch.Tensor) -> float:
    """Share of (example, unit) pairs with a non-zero activation output, averaged over the hidden layers."""
    with ActivationRecorder(model) as rec:
        model(x)
    fractions = [1.0 - s["zero_fraction"] for s in rec.stats.values()]
    return sum(fractions) / len(fractions)


@register_method("activations", config=ActivationsConfig)
class Activations(Method):
    def __init__(self, cfg: ActivationsConfig, model: nn.Module, data: SupervisedData,
                 ctx: RunContext) -> None:
        self.cfg, self.data, self.done = cfg, data, False
        variants = [Variant(a, model={"activation": a}) for a in cfg.activations]
        if cfg.dead_lr > 0:
            variants.append(Variant(HIGH_LR, model={"activation": "relu"}, rule={"lr": cfg.dead_lr}))
        self.activation = {v.name: v.model["activation"] for v in variants}
        self.sweep = Sweep(variants, data, ctx, method="activations",
                           rule_config=SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr))
        self.active_at_init = {name: active_fraction(net, data.x_train) for name, net in self.sweep.networks.items()
                               if self.activation[name] == "relu"}
        self.steps = 0
        # Entry i is measured after epoch i (entry 0 at initialisation).
        self.test_acc: dict[str, list[float]] = {name: [] for name in self.sweep.networks}
        self.dead: dict[str, list[float]] = {name: [] for name in self.active_at_init}
        self._record()

    def lr(self, name: str) -> float:
        """The learning rate variant `name` is trained with."""
        return self.sweep.rules[name].cfg.lr

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        metrics = self.sweep.step(batch)
        self.steps += 1
        if self.steps % self.data.steps_per_epoch == 0:
            self._record()
        return metrics

    def _record(self) -> None:
        metrics = self.sweep.evaluate()
        for name, net in self.sweep.networks.items():
            self.test_acc[name].append(metrics[f"{name}/test/acc"])
            if name in self.dead:
                self.dead[name].append(dead_relu_fraction(net, self.data.x_train))

    def epochs_to_threshold(self, name: str) -> int | None:
        """First epoch after which the test accuracy reached the threshold, or None."""
        return next((i for i, acc in enumerate(self.test_acc[name]) if acc >= self.cfg.threshold), None)

    def evaluate(self) -> dict[str, float]:
        metrics = self.sweep.evaluate()
        for name, net in self.sweep.networks.items():
            reached = self.epochs_to_threshold(name)
            if reached is not None:
                metrics[f"{name}/epochs_to_threshold"] = float(reached)
            if name in self.active_at_init:
                metrics[f"{name}/active_at_init"] = self.active_at_init[name]
                metrics[f"{name}/dead"] = dead_relu_fraction(net, self.data.x_train)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        epochs = len(next(iter(self.test_acc.values()))) - 1
        lines = [f"Test accuracy threshold {self.cfg.threshold:g}, {self.cfg.optimizer}, {epochs} epochs.", "",
                 f"| variant | activation | lr | epochs to {self.cfg.threshold:g} | final test acc | "
                 "active at init | dead at init | dead after training |",
                 "|---|---|---|---|---|---|---|---|"]
        for name in self.sweep.networks:
            reached = self.epochs_to_threshold(name)
            active = f"{m[name + '/active_at_init']:.3f}" if name in self.active_at_init else "-"
            dead0 = f"{self.dead[name][0]:.3f}" if name in self.dead else "-"
            dead = f"{m[name + '/dead']:.3f}" if name in self.dead else "-"
            lines.append(f"| {name} | {self.activation[name]} | {self.lr(name):g} | "
                         f"{reached if reached is not None else f'not within {epochs}'} | "
                         f"{m[name + '/test/acc']:.3f} | {active} | {dead0} | {dead} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """Test accuracy per epoch with the threshold as a dashed line, and the share of dead ReLUs per epoch."""
        def per_epoch(series: dict[str, list[float]]) -> dict[str, tuple[list[float], list[float]]]:
            return {f"{name} (lr {self.lr(name):g})": (list(range(len(ys))), ys) for name, ys in series.items()}

        epochs = len(next(iter(self.test_acc.values()))) - 1
        threshold = f"threshold {self.cfg.threshold:g}"
        acc = {**per_epoch(self.test_acc), threshold: ([0, epochs], [self.cfg.threshold] * 2)}
        made = [plot_variants(acc, plots_dir / "activations.png", title="Same net, same batches", xlabel="epoch",
                              ylabel="test accuracy", styles={threshold: "--"})]
        if self.dead:
            made.append(plot_variants(per_epoch(self.dead), plots_dir / "dead-relus.png",
                                      title="Dead units (0 on every training example)", xlabel="epoch",
                                      ylabel="share of dead ReLUs"))
        return made

    def state_dict(self) -> dict[str, Any]:
        return {"sweep": self.sweep.state_dict(), "steps": self.steps, "test_acc": self.test_acc,
                "dead": self.dead, "active_at_init": self.active_at_init}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["sweep"])
        self.steps = int(state["steps"])
        self.test_acc = {k: list(v) for k, v in state["test_acc"].items()}
        self.dead = {k: list(v) for k, v in state["dead"].items()}
        self.active_at_init = dict(state["active_at_init"])

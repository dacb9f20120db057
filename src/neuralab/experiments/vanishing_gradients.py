"""`vanishing-gradients`: the same deep MLP with sigmoid, ReLU and sigmoid + batch norm, trained side by
side while each layer's gradient norm is logged (curriculum F12; notes 002 section 2.9; Glorot & Bengio,
"Understanding the difficulty of training deep feedforward neural networks", 2010; Ioffe & Szegedy,
"Batch normalization", 2015).

Backpropagation multiplies one derivative per layer; sigmoid's is at most 1/4, so the gradient reaching
the first layers shrinks geometrically with depth and those layers barely learn. ReLU (derivative 1 where
active, He init) and batch norm (which re-centres every pre-activation where sigmoid is steepest) keep
the gradient of the first layer within reach of the last.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from torch import nn

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.methods.optim import OPTIMIZERS
from neuralab.methods.supervised import Supervised, SupervisedConfig, evaluate_split
from neuralab.models.mlp.mlp import MLP
from neuralab.registry import register_method
from neuralab.viz.curves import save_figure

# name -> (activation, init, batch norm): each activation with the initialisation recommended for it
VARIANTS = {"sigmoid": ("sigmoid", "xavier_normal", False), "relu": ("relu", "he_normal", False),
            "sigmoid_bn": ("sigmoid", "xavier_normal", True)}


@dataclass(frozen=True)
class VanishingGradientsConfig:
    optimizer: str = field("momentum", "Optimiser of every variant.", choices=OPTIMIZERS)
    lr: float = field(0.01, "Learning rate of every variant.", gt=0)
    eval_batch_size: int = field(2000, "Examples per forward pass when evaluating.", ge=1)


@register_method("vanishing-gradients", config=VanishingGradientsConfig)
class VanishingGradients(Method):
    """Each step: one update of every variant on the same batch, recording each layer's gradient norm."""

    def __init__(self, cfg: VanishingGradientsConfig, model: nn.Module, data: SupervisedData,
                 ctx: RunContext) -> None:
        self.cfg, self.data = cfg, data
        method_cfg = SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr, schedule="none", diagnostics=True,
                                      eval_batch_size=cfg.eval_batch_size)
        self.variants: dict[str, Supervised] = {}
        for name, (activation, init, bn) in VARIANTS.items():
            torch.manual_seed(ctx.seed)  # the same draw for every variant's initialiser
            net_cfg = dataclasses.replace(model.cfg, activation=activation, init=init, batch_norm=bn)
            self.variants[name] = Supervised(method_cfg, MLP(net_cfg).to(ctx.device), data, ctx)
        # per variant: gradient norm of each weight at the first step and at the latest step
        self.norms: dict[str, dict[str, list[float]]] = {name: {} for name in self.variants}
        self.done = False

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        metrics = {}
        for name, method in self.variants.items():
            m = method.step(batch)
            norms = [float(v) for k, v in m.items() if k.startswith("diag/grad_norm/")]  # input to output
            self.norms[name].setdefault("init", norms)
            self.norms[name]["last"] = norms
            metrics[f"{name}/train/loss"] = m["train/loss"]
            metrics[f"{name}/first_last_ratio"] = norms[0] / norms[-1]
        return metrics

    def evaluate(self) -> dict[str, float]:
        metrics = {}
        for name, method in self.variants.items():
            x, y = self.data.split("test")
            metrics[f"{name}/test/acc"] = evaluate_split(method.model, x, y, "cross_entropy",
                                                         self.cfg.eval_batch_size)["acc"]
            init = self.norms[name].get("init")
            if init:
                metrics[f"{name}/init_ratio"] = init[0] / init[-1]
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        if not self.norms["sigmoid"]:
            return ""
        depth = len(next(iter(self.variants.values())).model.cfg.hidden)
        acc = self.evaluate()
        lines = [f"Gradient norm of the first and last weight matrix at initialisation ({depth} hidden layers):",
                 "", "| variant | first layer | last layer | first / last | test acc after training |",
                 "|---|---|---|---|---|"]
        for name in self.variants:
            init = self.norms[name]["init"]
            lines.append(f"| {name} | {init[0]:.2e} | {init[-1]:.2e} | {init[0] / init[-1]:.2e} | "
                         f"{acc[f'{name}/test/acc']:.3f} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/vanishing_gradients.png: gradient norm per layer (log scale) at initialisation and at the end."""
        if not self.norms["sigmoid"]:
            return []
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
        for i, name in enumerate(self.variants):
            color = f"C{i}"
            for when, style in (("init", "-"), ("last", "--")):
                norms = self.norms[name][when]
                ax.plot(range(1, len(norms) + 1), norms, style, color=color, marker="o", ms=3,
                        label=f"{name} ({'initialisation' if when == 'init' else 'end of training'})")
        ax.set_yscale("log")
        ax.set_xlabel("layer (1 = input side)")
        ax.set_ylabel("gradient L2 norm of the weights")
        ax.set_title("vanishing gradients: per-layer gradient norm")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        return [save_figure(fig, plots_dir / "vanishing_gradients.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"variants": {n: v.state_dict() for n, v in self.variants.items()}, "norms": self.norms}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, v in self.variants.items():
            v.load_state_dict(state["variants"][name])
        self.norms = {n: {k: list(v) for k, v in d.items()} for n, d in state["norms"].items()}

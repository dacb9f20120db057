"""`vanishing-gradients`: the same deep MLP with sigmoid, ReLU and sigmoid + batch norm, trained side by
side while each layer's gradient norm is logged (curriculum F12; notes 002 section 2.9; Glorot & Bengio,
"Understanding the difficulty of training deep feedforward neural networks", 2010; Ioffe & Szegedy,
"Batch normalization", 2015).

Backpropagation multiplies one derivative per layer; sigmoid's is at most 1/4, so the gradient reaching
the first layers shrinks geometrically with depth and those layers barely learn. ReLU (derivative 1 where
active, He init) and batch norm (which re-centres every pre-activation where sigmoid is steepest) keep
the gradient of the first layer within reach of the last. Each variant is a model change of one sweep,
trained by the supervised rule with its diagnostics on, which measure the gradient norms.
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
from neuralab.registry import register_method

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
    """A sweep of the three variants, trained by the supervised rule with its diagnostics on, keeping each
    layer's gradient norm at the first step and at the latest step."""

    def __init__(self, cfg: VanishingGradientsConfig, model: nn.Module, data: SupervisedData,
                 ctx: RunContext) -> None:
        self.cfg, self.data = cfg, data
        rule = SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr, schedule="none", diagnostics=True,
                                eval_batch_size=cfg.eval_batch_size)
        variants = [Variant(name, model={"activation": activation, "init": init, "batch_norm": bn})
                    for name, (activation, init, bn) in VARIANTS.items()]
        self.sweep = Sweep(variants, data, ctx, method="vanishing-gradients", rule_config=rule)
        # per variant: gradient norm of each weight (input side first) at the first step and at the latest step
        self.norms: dict[str, dict[str, list[float]]] = {name: {} for name in VARIANTS}
        self.done = False

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        stepped = self.sweep.step(batch)
        # The rule's per-layer diagnostics (dozens a variant) go to the lesson's plot, not one curve each.
        metrics = {k: v for k, v in stepped.items() if "/diag/" not in k}
        for name, norms in self.norms.items():
            current = [float(v) for k, v in stepped.items() if k.startswith(f"{name}/diag/grad_norm/")]
            norms.setdefault("init", current)
            norms["last"] = current
            metrics[f"{name}/first_last_ratio"] = current[0] / current[-1]
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Each variant's held-out metrics (and dead-ReLU fraction) from its rule, and the first/last gradient
        norm ratio at initialisation."""
        metrics = self.sweep.evaluate()
        for name, norms in self.norms.items():
            if norms.get("init"):
                metrics[f"{name}/init_ratio"] = norms["init"][0] / norms["init"][-1]
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        if not self.norms["sigmoid"]:
            return ""
        depth = len(self.norms["sigmoid"]["init"]) - 1  # one weight matrix per hidden layer, plus the output's
        m = self.evaluate()
        lines = [f"Gradient norm of the first and last weight matrix at initialisation ({depth} hidden layers):",
                 "", "| variant | first layer | last layer | first / last | test acc after training |",
                 "|---|---|---|---|---|"]
        for name in VARIANTS:
            init = self.norms[name]["init"]
            lines.append(f"| {name} | {init[0]:.2e} | {init[-1]:.2e} | {init[0] / init[-1]:.2e} | "
                         f"{m[f'{name}/test/acc']:.3f} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/vanishing_gradients.png: gradient norm per layer (log scale) at initialisation and at the end."""
        if not self.norms["sigmoid"]:
            return []
        curves, styles = {}, {}
        for name, norms in self.norms.items():
            for when, label, style in (("init", "initialisation", "-"), ("last", "end of training", "--")):
                key = f"{name} ({label})"
                curves[key], styles[key] = (list(range(1, len(norms[when]) + 1)), norms[when]), style
        return [plot_variants(curves, plots_dir / "vanishing_gradients.png", log_y=True, styles=styles,
                              title="vanishing gradients: per-layer gradient norm",
                              xlabel="layer (1 = input side)", ylabel="gradient L2 norm of the weights")]

    def state_dict(self) -> dict[str, Any]:
        return {"variants": self.sweep.state_dict(), "norms": self.norms}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["variants"])
        self.norms = {n: {k: list(v) for k, v in d.items()} for n, d in state["norms"].items()}

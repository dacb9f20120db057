"""The symmetry problem of all-zero initialisation, and random schemes that break it (Glorot & Bengio,
"Understanding the difficulty of training deep feedforward neural networks", 2010; curriculum F9,
notes 002 section 2.11).

The recipe's MLP is trained once per initialisation scheme by the supervised rule, on the same batches (the
sweep harness, `experiments/sweep.py`). With every weight at zero,
all hidden units of a layer compute the same output and receive the same gradient, so they stay equal
forever: the layer behaves like a single unit. This needs an activation with f(0) != 0 (sigmoid: every
unit outputs 0.5, so the output layer gets a gradient and passes an identical one back to each hidden
unit). With tanh or ReLU, f(0) = 0 and ReLU'(0) = 0 in torch, so zero hidden weights get no gradient at
all and stay exactly zero, which is the same failure in its plainest form.
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
from neuralab.experiments.sweep import Sweep, Variant
from neuralab.methods.optim import OPTIMIZERS
from neuralab.methods.supervised import SupervisedConfig
from neuralab.nn.init import INITS
from neuralab.registry import register_method


@dataclass(frozen=True)
class InitSymmetryConfig:
    schemes: tuple[str, ...] = field(("zeros", "xavier_normal", "he_normal"),
                                     "Initialisation schemes compared on the same net, seed and batches.",
                                     choices=INITS, nonempty=True, unique=True)
    optimizer: str = field("adam", "Optimiser of every variant (torch.optim).", choices=OPTIMIZERS)
    lr: float = field(0.01, "Learning rate of every variant.", gt=0)


def hidden_weights(model: nn.Module) -> list[torch.Tensor]:
    """Weight matrices of the hidden layers (every Linear but the output layer), each (units, inputs)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return [m.weight.detach() for m in linears[:-1]]


def distinct_units(weight: torch.Tensor) -> int:
    """Number of different rows: hidden units with different incoming weights."""
    return int(torch.unique(weight, dim=0).shape[0])


@register_method("init-symmetry", config=InitSymmetryConfig)
class InitSymmetry(Method):
    def __init__(self, cfg: InitSymmetryConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.data, self.done = cfg, data, False
        self.sweep = Sweep([Variant(s, model={"init": s}) for s in cfg.schemes], data, ctx, method="init-symmetry",
                           rule_config=SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr))
        self.activation = getattr(ctx.model_config, "activation", "?")

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        return self.sweep.step(batch)

    def evaluate(self) -> dict[str, float]:
        metrics = self.sweep.evaluate()
        for scheme, model in self.sweep.networks.items():
            weights = hidden_weights(model)
            # Fewest distinct units over the hidden layers: 1 means some layer acts as a single unit.
            metrics[f"{scheme}/distinct_units"] = float(min(distinct_units(w) for w in weights))
            metrics[f"{scheme}/max_abs_weight"] = max(float(w.abs().max()) for w in weights)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        lines = [f"Hidden activation {self.activation}; {self.cfg.optimizer} lr {self.cfg.lr:g}.", "",
                 "| init | test acc | distinct units per hidden layer | largest row difference | max abs weight |",
                 "|---|---|---|---|---|"]
        for scheme, model in self.sweep.networks.items():
            weights = hidden_weights(model)
            counts = " / ".join(f"{distinct_units(w)} of {w.shape[0]}" for w in weights)
            spread = max(float((w - w[0]).abs().max()) for w in weights)
            lines.append(f"| {scheme} | {m[scheme + '/test/acc']:.3f} | {counts} | {spread:.3g} | "
                         f"{m[scheme + '/max_abs_weight']:.3g} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """The first hidden layer's weights, one row per unit: identical rows show the unbroken symmetry."""
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

        from neuralab.viz.curves import save_figure

        models = self.sweep.networks
        fig, axes = plt.subplots(1, len(models), figsize=(3.6 * len(models), 3.4), squeeze=False,
                                 layout="constrained")
        for ax, (scheme, model) in zip(axes[0], models.items(), strict=True):
            w = hidden_weights(model)[0].cpu()
            limit = float(w.abs().max()) or 1.0
            ax.imshow(w.numpy(), cmap="coolwarm", vmin=-limit, vmax=limit, aspect="auto", interpolation="nearest")
            ax.set(title=f"{scheme}: {distinct_units(w)} distinct units", xlabel="input", ylabel="hidden unit")
        fig.suptitle("First hidden layer weights after training")
        return [save_figure(fig, plots_dir / "init-symmetry.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"sweep": self.sweep.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["sweep"])

"""Universal approximation in practice: one hidden layer of growing width fits a 1-D function (Hornik,
Stinchcombe, White, "Multilayer feedforward networks are universal approximators", 1989; Cybenko,
"Approximation by superpositions of a sigmoidal function", 1989; curriculum F4, notes 002 section 2.8).

One MLP with a single hidden layer per width is trained on the same points by the supervised rule on mean
squared error (the sweep harness, `experiments/sweep.py`); the
error on a dense test grid (largest absolute error, or RMS) is compared with `epsilon`. The theorem says
some width reaches any epsilon for a continuous function on an interval; it says nothing about how easily
gradient descent finds those weights, which is what this sweep measures.
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
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES
from neuralab.methods.supervised import SupervisedConfig
from neuralab.registry import register_method


@dataclass(frozen=True)
class UniversalApproximationConfig:
    widths: tuple[int, ...] = field((1, 2, 4, 8, 16, 32, 64), "Hidden units of each one-hidden-layer net.", ge=1,
                                     nonempty=True, unique=True)
    optimizer: str = field("adam", "Optimiser of every width (torch.optim).", choices=OPTIMIZERS)
    lr: float = field(0.03, "Learning rate (peak rate for onecycle).", gt=0)
    schedule: str = field("cosine", "Learning-rate schedule over the run.", choices=SCHEDULES)
    epsilon: float = field(0.05, "Target error on the test grid.", gt=0)
    error: str = field("max", "Error compared with epsilon: max (largest |f - net|) or rms.", choices=("max", "rms"))


@register_method("universal-approximation", config=UniversalApproximationConfig)
class UniversalApproximation(Method):
    def __init__(self, cfg: UniversalApproximationConfig, model: nn.Module, data: SupervisedData,
                 ctx: RunContext) -> None:
        self.cfg, self.data, self.done = cfg, data, False
        rule = SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr, schedule=cfg.schedule, loss="mse")
        self.sweep = Sweep([Variant(f"w{w}", model={"hidden": (w,)}) for w in cfg.widths], data, ctx,
                           method="universal-approximation", rule_config=rule)
        self.networks = dict(zip(cfg.widths, self.sweep.networks.values(), strict=True))  # width -> network

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        return self.sweep.step(batch)

    @torch.no_grad()
    def errors(self) -> dict[int, tuple[float, float]]:
        """Per width: (largest absolute error, RMS error) on the test grid."""
        x, y = self.data.split("test")
        out = {}
        for w, model in self.networks.items():
            diff = (model(x) - y).abs()
            out[w] = (float(diff.max()), float(diff.pow(2).mean().sqrt()))
        return out

    def evaluate(self) -> dict[str, float]:
        errs = self.errors()
        pick = 0 if self.cfg.error == "max" else 1
        metrics = self.sweep.evaluate()  # each width's test/loss (MSE)
        for w, (max_err, rms_err) in errs.items():
            metrics[f"w{w}/test/max_err"], metrics[f"w{w}/test/rms_err"] = max_err, rms_err
        metrics["compare/test/best_error"] = min(e[pick] for e in errs.values())
        reached = [w for w, e in errs.items() if e[pick] <= self.cfg.epsilon]
        if reached:
            metrics["compare/smallest_width"] = float(min(reached))
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        errs, m = self.errors(), self.evaluate()
        pick = 0 if self.cfg.error == "max" else 1
        smallest = m.get("compare/smallest_width")
        lines = [f"{self.data.meta.source}: one hidden layer, {self.cfg.error} error target {self.cfg.epsilon:g}; "
                 f"smallest width reaching it: {int(smallest) if smallest else 'none'}.", "",
                 "| hidden units | parameters | max error | RMS error | within epsilon |", "|---|---|---|---|---|"]
        for w, model in self.networks.items():
            params = sum(p.numel() for p in model.parameters())
            ok = "yes" if errs[w][pick] <= self.cfg.epsilon else "no"
            lines.append(f"| {w} | {params} | {errs[w][0]:.4f} | {errs[w][1]:.4f} | {ok} |")
        return "\n".join(lines)

    @torch.no_grad()
    def plot(self, plots_dir: Path) -> list[Path]:
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

        from neuralab.viz.curves import save_figure

        errs = self.errors()
        x, y = self.data.split("test")
        fig, (err_ax, fit_ax) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
        widths = list(errs)
        for i, label in enumerate(("max error", "RMS error")):
            err_ax.plot(widths, [errs[w][i] for w in widths], marker="o", label=label)
        err_ax.axhline(self.cfg.epsilon, color="grey", ls="--", lw=1, label=f"epsilon {self.cfg.epsilon:g}")
        err_ax.set_xscale("log", base=2)
        err_ax.set_xticks(widths, [str(w) for w in widths])
        err_ax.set(yscale="log", xlabel="hidden units", ylabel="error on the test grid", title="Error against width")
        err_ax.legend()
        xs = x[:, 0].cpu()
        fit_ax.plot(xs, y[:, 0].cpu(), color="black", lw=2.5, label="target")
        for w, model in self.networks.items():
            fit_ax.plot(xs, model(x)[:, 0].cpu(), lw=1, label=f"{w} unit{'s' if w > 1 else ''}")
        fit_ax.set(xlabel="x", ylabel="f(x)", title=f"Fits of {self.data.meta.source}")
        fit_ax.legend(fontsize=7, ncol=2)
        for ax in (err_ax, fit_ax):
            ax.grid(alpha=0.3, which="both")
        return [save_figure(fig, plots_dir / "approximation.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"sweep": self.sweep.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["sweep"])

"""Adaline and the delta rule (Widrow & Hoff, "Adaptive switching circuits", 1960) (curriculum F2).

The unit learns on its linear output o = w.x + b, not on the thresholded one: gradient descent on
J(w, b) = 1/2 sum_i (t_i - o_i)^2 over the batch gives the delta (Widrow-Hoff, LMS) rule

    dw = eta sum_i (t_i - o_i) x_i,        db = eta sum_i (t_i - o_i),

with targets t = +1 / -1 from the class labels 1 / 0; examples are classified by the sign of o. With the
whole training set as one batch (the recipes) this is batch gradient descent on a convex quadratic, so for
a small enough eta it converges to the least-squares solution of [x, 1] (w, b) = t, whatever the data. That
solution separates AND and OR, but on XOR it is w = 0, b = 0: no line does better than 3 of 4 examples.
The update is written out by hand under `torch.no_grad`; `evaluate` compares it with `torch.linalg.lstsq`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.methods.perceptron import check_unit, signed_targets, threshold_accuracy
from neuralab.models.linear.threshold_unit import ThresholdUnit
from neuralab.registry import register_method


@dataclass(frozen=True)
class DeltaRuleConfig:
    lr: float = field(0.1, "Learning rate eta in dw = eta sum (t - o) x; full-batch descent on the 4 logic-gate "
                           "rows is stable below 2 / 6.37 = 0.31.", gt=0)
    tol: float = field(1e-7, "Stop when a step changes no weight (nor the bias) by more than this; 0 never stops.",
                       ge=0)


def least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The (w, b) minimising sum (t - w.x - b)^2, from torch.linalg.lstsq in float64: w (D,), b."""
    x = x.flatten(1).double()
    design = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], 1)  # (N, D + 1)
    solution = torch.linalg.lstsq(design.cpu(), signed_targets(y).double().cpu()[:, None]).solution[:, 0]
    return solution[:-1], float(solution[-1])


@register_method("adaline", config=DeltaRuleConfig)
class Adaline(Method):
    def __init__(self, cfg: DeltaRuleConfig, model: ThresholdUnit, data: SupervisedData, ctx: RunContext) -> None:
        check_unit(model, data, "adaline")
        self.cfg, self.model, self.data = cfg, model, data
        self.steps = 0
        self.last_change: float | None = None  # largest |dw|, |db| of the latest step
        self.done = False

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        x = x.flatten(1).to(self.model.weight.dtype)  # (B, D)
        t = signed_targets(y).to(x.dtype)  # (B,)
        o = self.model.net_input(x)  # (B,)
        err = t - o
        dw, db = self.cfg.lr * err @ x, self.cfg.lr * err.sum()
        self.model.weight.add_(dw)
        self.model.bias.add_(db)
        self.steps += 1
        self.last_change = float(torch.cat([dw.abs(), db.abs()[None]]).max())
        self.done = self.last_change < self.cfg.tol
        return {"train/loss": 0.5 * (err ** 2).sum(), "train/acc": ((o > 0) == (t > 0)).float().mean()}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        x, y = self.data.split("test")
        o = self.model.net_input(x.to(self.model.weight.dtype))
        w_ls, b_ls = least_squares(*self.data.split("train"))
        gap = torch.cat([self.model.weight.double().cpu() - w_ls, (self.model.bias.double().cpu() - b_ls)[None]])
        return {"test/acc": threshold_accuracy(self.model.weight, self.model.bias, x, y),
                "test/loss": float(0.5 * ((signed_targets(y).to(o.dtype) - o) ** 2).sum()),
                "train/lstsq_distance": float(gap.abs().max())}

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Classification is by the sign of o: 1.0 for the class it picks, 0.0 for the other."""
        positive = (self.model.net_input(x.to(self.model.weight.dtype)) > 0).long()
        return torch.nn.functional.one_hot(positive, 2).float()

    def report(self, run_dir: Path | None = None) -> str:
        w_ls, b_ls = least_squares(*self.data.split("train"))
        metrics = self.evaluate()
        w = ", ".join(f"{v:.6f}" for v in self.model.weight.tolist())
        ls = ", ".join(f"{v:.6f}" for v in w_ls.tolist())
        state = (f"stopped: the last step changed no weight by more than {self.cfg.tol:g}" if self.done
                 else "stopped at the step limit")
        return "\n".join([
            f"adaline (delta rule) on {self.data.meta.source}: eta {self.cfg.lr}, {self.steps} steps, {state}",
            f"delta rule:    w = [{w}], b = {float(self.model.bias):.6f}",
            f"least squares: w = [{ls}], b = {b_ls:.6f} (torch.linalg.lstsq); largest difference "
            f"{metrics['train/lstsq_distance']:.2e}",
            f"classification by sign(o): test accuracy {metrics['test/acc']:.0%}"])

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.boundary import plot_linear_boundary

        x, y = self.data.split("train")
        if x.flatten(1).shape[1] != 2:
            return []
        return [plot_linear_boundary(x.flatten(1), y, self.model.weight, float(self.model.bias),
                                     plots_dir / "decision_boundary.png", f"Adaline, {self.data.meta.source}")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "steps": self.steps, "last_change": self.last_change}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.steps, self.last_change = int(state["steps"]), state["last_change"]
        self.done = self.last_change is not None and self.last_change < self.cfg.tol

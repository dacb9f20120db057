"""Newton, Hessian-free, L-BFGS, Nesterov and gradient descent on one convex problem (notes 002 section
2.15; Martens, "Deep learning via Hessian-free optimization", 2010; Liu and Nocedal 1989).

The problem is L2-regularised logistic regression, full batch, in float64:
    f(theta) = mean_i BCE(sigmoid(w.x_i + b), y_i) + l2/2 |theta|^2,   theta = (w, b),
with y = 1 for labels >= `positive_from` (digits 5-9 against 0-4). f is strongly convex with modulus
mu = l2, and its Hessian is largest at theta = 0, where every sigmoid slope is 1/4; so
L = lambda_max(H(0)) bounds the curvature everywhere. Gradient descent takes the step 1/L, the largest
constant step that is safe; Nesterov adds the momentum (sqrt(k) - 1) / (sqrt(k) + 1), k = L / mu, of the
theory of strongly convex functions. All solvers start at theta = 0 and each engine step is one iteration
of every solver that has not yet reached |grad f| <= `grad_tol`; since f is mu-strongly convex, such a
point lies within grad_tol / mu of the optimum. The optimum theta* itself is found once, up front, by
Newton's method to |grad f| <= 1e-12.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.second_order import (
    LBFGS,
    GradientDescent,
    HessianFree,
    Nesterov,
    Newton,
    Objective,
    Solver,
    value_and_grad,
)
from neuralab.models.linear.logistic import LogisticRegression
from neuralab.registry import register_method

SOLVERS = ("newton", "hessian-free", "lbfgs", "nesterov", "gd")
REFERENCE_TOL = 1e-12


@dataclass(frozen=True)
class SecondOrderLogregConfig:
    solvers: tuple[str, ...] = field(SOLVERS, "Solvers to compare, each from theta = 0.", choices=SOLVERS,
                                     nonempty=True, unique=True)
    l2: float = field(1e-2, "Coefficient of the penalty l2/2 |theta|^2 (weights and bias); the problem's "
                            "strong convexity.", gt=0)
    positive_from: int = field(5, "Labels >= this form the positive class (digits 5-9 against 0-4).")
    grad_tol: float = field(1e-7, "A solver has converged when the gradient norm is at most this.", gt=0)
    lbfgs_history: int = field(10, "Curvature pairs L-BFGS keeps.", ge=1)
    max_cg: int = field(0, "Most conjugate-gradient iterations per Hessian-free step; 0: the parameter count.",
                        ge=0)


def unflatten(model: nn.Module, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat vector (P,) into `model`'s named parameter shapes, in `model.parameters()` order."""
    params, start = {}, 0
    for name, p in model.named_parameters():
        params[name] = theta[start:start + p.numel()].view(p.shape)
        start += p.numel()
    return params


def logistic_objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor, l2: float) -> Objective:
    """f(theta): mean binary cross-entropy of `model` with parameters theta on (x, y), plus l2/2 |theta|^2."""

    def f(theta: torch.Tensor) -> torch.Tensor:
        logits = torch.func.functional_call(model, unflatten(model, theta), (x,))  # (N,)
        return F.binary_cross_entropy_with_logits(logits, y) + 0.5 * l2 * (theta @ theta)

    return f


@register_method("second-order-logreg", config=SecondOrderLogregConfig)
class SecondOrderLogreg(Method):
    def __init__(self, cfg: SecondOrderLogregConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        if not isinstance(model, LogisticRegression):
            raise UserError("the second-order method needs the logistic-regression model (a convex problem); "
                            f"got {type(model).__name__}")
        self.cfg, self.model, self.done = cfg, model, False
        self.splits = {}  # split -> (x (N, D) float64, y (N,) float64 in {0, 1})
        for split in ("train", "test"):
            x, y = data.split(split)
            if y.dtype.is_floating_point:
                raise UserError("the second-order method needs class labels, not regression targets")
            self.splits[split] = (x.flatten(1).double(), (y >= cfg.positive_from).double())
        if self.splits["train"][1].min() == self.splits["train"][1].max():
            raise UserError(f"--method.positive_from {cfg.positive_from}: every training label falls in one class")
        self.f = logistic_objective(model, *self.splits["train"], cfg.l2)
        n_params = sum(p.numel() for p in model.parameters())
        theta0 = torch.zeros(n_params, dtype=torch.float64, device=ctx.device)
        self.lipschitz = float(torch.linalg.eigvalsh(torch.func.hessian(self.f)(theta0))[-1])
        kappa = self.lipschitz / cfg.l2
        self.theta_star, self.f_star, self.condition = self._reference(theta0)
        build = {
            "newton": lambda: Newton(self.f, theta0),
            "hessian-free": lambda: HessianFree(self.f, theta0, cfg.max_cg),
            "lbfgs": lambda: LBFGS(self.f, theta0, cfg.lbfgs_history),
            "nesterov": lambda: Nesterov(self.f, theta0, 1 / self.lipschitz,
                                         (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)),
            "gd": lambda: GradientDescent(self.f, theta0, 1 / self.lipschitz)}
        self.solvers: dict[str, Solver] = {name: build[name]() for name in cfg.solvers}
        self.seconds = dict.fromkeys(self.solvers, 0.0)
        self.converged_at: dict[str, int | None] = dict.fromkeys(self.solvers)
        self.gap: dict[str, list[float]] = {}  # f(theta_k) - f* for k = 0, 1, ...
        self.grad_norm: dict[str, list[float]] = {}
        for name, solver in self.solvers.items():
            value, gnorm = self._measure(solver.theta)
            self.gap[name], self.grad_norm[name] = [value - self.f_star], [gnorm]
        self._sync_model()

    def _measure(self, theta: torch.Tensor) -> tuple[float, float]:
        """(f, |grad f|) at theta, for the record: not counted against any solver."""
        value, grad = value_and_grad(self.f, theta)
        return value, float(grad.norm())

    def _reference(self, theta0: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        """theta*, f(theta*) and the condition number of the Hessian there, by Newton's method."""
        newton = Newton(self.f, theta0)
        while self._measure(newton.theta)[1] > REFERENCE_TOL and newton.iterations < 100:
            newton.step()
        eig = torch.linalg.eigvalsh(torch.func.hessian(self.f)(newton.theta))
        return newton.theta, self._measure(newton.theta)[0], float(eig[-1] / eig[0])

    def _sync_model(self) -> None:
        """The model holds the first solver's current weights (what `eval` and checkpoints show)."""
        theta = next(iter(self.solvers.values())).theta
        with torch.no_grad():
            for p, value in zip(self.model.parameters(), unflatten(self.model, theta).values(), strict=True):
                p.copy_(value)

    def step(self, batch: Any) -> dict[str, Any]:
        """One iteration of every unconverged solver; the batch is ignored (full-batch methods)."""
        metrics = {}
        for name, solver in self.solvers.items():
            if self.converged_at[name] is None:
                start = time.perf_counter()
                solver.step()
                self.seconds[name] += time.perf_counter() - start
                value, gnorm = self._measure(solver.theta)
                self.gap[name].append(value - self.f_star)
                self.grad_norm[name].append(gnorm)
                if gnorm <= self.cfg.grad_tol:
                    self.converged_at[name] = solver.iterations
            metrics[f"{name}/train/loss"] = self.gap[name][-1] + self.f_star
            metrics[f"{name}/grad_norm"] = self.grad_norm[name][-1]
        self.done = all(k is not None for k in self.converged_at.values())
        self._sync_model()
        return metrics

    @torch.no_grad()
    def _accuracy(self, theta: torch.Tensor) -> float:
        x, y = self.splits["test"]
        logits = torch.func.functional_call(self.model, unflatten(self.model, theta), (x,))  # (N,)
        return float(((logits > 0).double() == y).double().mean())

    def evaluate(self) -> dict[str, float]:
        metrics = {"optimum/test/acc": self._accuracy(self.theta_star), "optimum/train/loss": self.f_star}
        for name, solver in self.solvers.items():
            reached = self.converged_at[name]
            metrics[f"{name}/iterations"] = float(solver.iterations if reached is None else reached)
            metrics[f"{name}/converged"] = float(reached is not None)
            metrics[f"{name}/test/acc"] = self._accuracy(solver.theta)
            metrics[f"{name}/weight_error"] = float((solver.theta - self.theta_star).abs().max())
        metrics["compare/converged"] = min(metrics[f"{n}/converged"] for n in self.solvers)
        metrics["compare/max_weight_error"] = max(metrics[f"{n}/weight_error"] for n in self.solvers)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        n_params = self.theta_star.numel()
        lines = [f"L2-regularised logistic regression, {n_params} parameters, labels >= {self.cfg.positive_from} "
                 f"positive, l2 = {self.cfg.l2:g}; Hessian condition number at the optimum "
                 f"{self.condition:.0f} (L/mu = {self.lipschitz / self.cfg.l2:.0f}); f* = {self.f_star:.10f}; "
                 f"test accuracy at the optimum {m['optimum/test/acc']:.4f}. "
                 f"Converged: |grad f| <= {self.cfg.grad_tol:g}.",
                 "",
                 "| solver | iterations | gradients | Hessian-vector products | Hessians | line-search values | "
                 "final f - f* | max abs weight error | wall ms |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for name, solver in self.solvers.items():
            c = solver.objective.counts
            reached = self.converged_at[name]
            its = str(reached) if reached is not None else f"not within {solver.iterations}"
            lines.append(f"| {name} | {its} | {c['grads']} | {c['hvps']} | {c['hessians']} | {c['values']} | "
                         f"{self.gap[name][-1]:.1e} | {m[name + '/weight_error']:.1e} | "
                         f"{1000 * self.seconds[name]:.1f} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

        from neuralab.viz.curves import save_figure

        fig, (gap_ax, grad_ax) = plt.subplots(1, 2, figsize=(11, 4))
        floor = 1e-17  # gaps at or below float64 resolution of f are drawn at this floor
        for name in self.solvers:
            its = range(len(self.gap[name]))
            gap_ax.plot([k + 1 for k in its], [max(g, floor) for g in self.gap[name]], label=name, lw=1.5)
            grad_ax.plot([k + 1 for k in its], self.grad_norm[name], label=name, lw=1.5)
        grad_ax.axhline(self.cfg.grad_tol, color="grey", ls="--", lw=1)
        gap_ax.set(xscale="log", yscale="log", xlabel="iteration + 1", ylabel="f(theta) - f*",
                   title="Loss gap")
        grad_ax.set(xscale="log", yscale="log", xlabel="iteration + 1", ylabel="|grad f(theta)|",
                    title="Gradient norm (dashed: tolerance)")
        for ax in (gap_ax, grad_ax):
            ax.grid(alpha=0.3, which="both")
            ax.legend()
        return [save_figure(fig, plots_dir / "convergence.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"solvers": {name: s.state_dict() for name, s in self.solvers.items()},
                "seconds": self.seconds, "converged_at": self.converged_at, "gap": self.gap,
                "grad_norm": self.grad_norm}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, solver in self.solvers.items():
            solver.load_state_dict(state["solvers"][name])
        self.seconds = {k: float(v) for k, v in state["seconds"].items()}
        self.converged_at = {k: None if v is None else int(v) for k, v in state["converged_at"].items()}
        self.gap = {k: [float(x) for x in v] for k, v in state["gap"].items()}
        self.grad_norm = {k: [float(x) for x in v] for k, v in state["grad_norm"].items()}
        self.done = all(k is not None for k in self.converged_at.values())
        self._sync_model()

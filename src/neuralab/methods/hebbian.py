"""Hebbian learning of a linear neuron: plain Hebb (Hebb, "The organization of behavior", 1949), Oja's rule (Oja,
"Simplified neuron model as a principal component analyzer", 1982) and the generalised Hebbian algorithm (Sanger,
"Optimal unsupervised learning in a single-layer linear feedforward neural network", 1989) (curriculum E3, notes
002 section 4.2).

For a neuron y = w.x on centred inputs with covariance C, averaged over a batch of B examples:

    hebb:    dw = lr <y x>                     = lr C_batch w        (a power iteration: ||w|| grows without bound)
    oja:     dw = lr <y (x - y w)>             = lr (C w - (w^T C w) w)   (stays near ||w|| = 1, along PC1)
    sanger:  dW = lr (<y x^T> - LT(<y y^T>) W)  (K units: unit k learns the k-th principal component)

where LT keeps the lower triangle (diagonal included); with K = 1 Sanger's rule is Oja's. With the full data set
as the batch, Hebb's update is exactly w_t = (I + lr C)^t w_0, so ||w|| grows like (1 + lr lambda_1)^t and w turns
towards the first principal component while its length explodes; Oja's decay term -lr y^2 w is the first-order
effect of renormalising w after each Hebbian step, which holds ||w|| at 1. A Hebb run ends early (`done`) once
||W|| passes `max_norm`, so its metrics stay finite.

Evaluation compares W with the principal components of the training data (torch.linalg.eigh of its covariance,
the oracle the tests check against scikit-learn's PCA): |cos| between each unit and its component, and the share
of the test set's variance that the units' span captures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.decomposition import single_process
from neuralab.models.linear.pca import eigen
from neuralab.models.neuro.linear_neuron import LinearNeuron
from neuralab.registry import register_method

RULES = ("hebb", "oja", "sanger")


@dataclass(frozen=True)
class HebbianConfig:
    rule: str = field("oja", "Learning rule: hebb (dw = lr y x), oja (dw = lr y (x - y w)) or sanger (the "
                             "generalised Hebbian algorithm for K units).", choices=RULES)
    lr: float = field(0.01, "Learning rate eta.", gt=0)
    center: bool = field(True, "Subtract the training set's mean from every input, so the rule sees centred data "
                               "and its fixed point is the first principal component.")
    max_norm: float = field(1e6, "End the run once ||W|| passes this (Hebb's rule diverges; this keeps every "
                                 "metric finite).", gt=0)


def hebbian_update(rule: str, weight: torch.Tensor, x: torch.Tensor, lr: float) -> torch.Tensor:
    """The batch-mean update dW (K, D) of `rule` for weights W (K, D) and inputs x (B, D)."""
    y = x @ weight.T  # (B, K)
    hebb = y.T @ x / len(x)  # <y x^T> (K, D)
    if rule == "hebb":
        return lr * hebb
    yy = y.T @ y / len(x)  # <y y^T> (K, K)
    decay = torch.diag(torch.diagonal(yy)) if rule == "oja" else torch.tril(yy)  # oja: each unit on its own
    return lr * (hebb - decay @ weight)


def variance_captured(weight: torch.Tensor, x: torch.Tensor) -> float:
    """The share of the total variance of centred x (N, D) that lies in the span of W's rows (K, D)."""
    basis, _ = torch.linalg.qr(weight.double().T)  # (D, K) orthonormal columns spanning the rows of W
    x = x.double()
    return float((x @ basis).pow(2).sum() / x.pow(2).sum().clamp_min(1e-300))


@register_method("hebbian", config=HebbianConfig)
class Hebbian(Method):
    """Hebb's, Oja's or Sanger's rule on a `linear-neuron` model, one batch-mean update per step."""

    def __init__(self, cfg: HebbianConfig, model: LinearNeuron, data: SupervisedData, ctx: RunContext) -> None:
        single_process(ctx, "hebbian")
        if not isinstance(model, LinearNeuron):
            raise UserError(f"the hebbian method trains a linear-neuron model, not {type(model).__name__}")
        self.cfg, self.model, self.data, self.ctx = cfg, model.to(ctx.device), data, ctx
        x_train = data.x_train.flatten(1).double()
        self.mean = x_train.mean(0) if cfg.center else torch.zeros_like(x_train[0])  # (D,)
        k = model.cfg.outputs
        if k > x_train.shape[1]:
            raise UserError(f"--model.outputs {k}: {x_train.shape[1]} inputs have at most {x_train.shape[1]} "
                            "principal components")
        centred = x_train - self.mean
        # Principal components of the training data (what the rule sees), as rows (K, D), largest first.
        self.eigenvalues, self.components = eigen(centred.T @ centred / (len(centred) - 1), k)
        self.x_test = data.split("test")[0].flatten(1).double() - self.mean.to(data.x_test.device)
        self.steps = 0
        self.initial_norm = self.norm  # for the mean growth per step over the run

    @property
    def norm(self) -> float:
        return float(torch.linalg.norm(self.model.weight))

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x = batch[0].flatten(1) - self.mean.to(batch[0])
        before = self.norm
        self.model.weight += hebbian_update(self.cfg.rule, self.model.weight, x, self.cfg.lr)
        self.steps += 1
        after = self.norm
        self.done = not after < self.cfg.max_norm  # also ends a run whose norm became inf or nan
        return {"train/log_weight_norm": math.log(max(after, 1e-300)), "train/growth": after / max(before, 1e-300)}

    def cosines(self) -> torch.Tensor:
        """|cos| between each unit's weights and its principal component of the training data, (K,)."""
        w = self.model.weight.double().to(self.components.device)
        return ((w * self.components).sum(1).abs() / torch.linalg.norm(w, dim=1).clamp_min(1e-300))

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        cos = self.cosines()
        metrics = {"train/weight_norm": self.norm, "test/cosine_pc1": float(cos[0]),
                   "test/variance_captured": variance_captured(self.model.weight.to(self.x_test.device), self.x_test)}
        if len(cos) > 1:
            metrics["test/cosine_min"] = float(cos.min())
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        k, lam = self.model.cfg.outputs, self.eigenvalues
        pca_share = variance_captured(self.components.to(self.x_test.device), self.x_test)
        cos = ", ".join(f"{float(c):.4f}" for c in self.cosines())
        growth = (m["train/weight_norm"] / self.initial_norm) ** (1 / max(self.steps, 1))
        rows = [("rule", self.cfg.rule), ("learning rate", f"{self.cfg.lr:g}"), ("steps", str(self.steps)),
                ("units K", str(k)), ("weight norm ‖W‖ (initially)", f"{m['train/weight_norm']:.4g} "
                                                                    f"({self.initial_norm:.4g})"),
                ("abs. cosine of unit k with PC k (training data's components)", cos),
                ("test variance captured by span(W)", f"{m['test/variance_captured']:.4f}"),
                (f"test variance captured by the first {k} principal components", f"{pca_share:.4f}"),
                ("mean norm growth per step (‖W_T‖ / ‖W_0‖)^(1/T)", f"{growth:.5f}")]
        if self.cfg.rule == "hebb":
            rows.append(("Hebb's asymptotic growth 1 + lr λ1", f"{1 + self.cfg.lr * float(lam[0]):.5f}"))
        lines = [f"{self.cfg.rule} on {self.data.meta.source} (D = {self.components.shape[1]}, largest eigenvalue "
                 f"of the training covariance λ1 = {float(lam[0]):.4g}):", "", "| quantity | value |", "|---|---|"]
        return "\n".join(lines + [f"| {name} | {value} |" for name, value in rows])

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.hebbian import plot_hebbian

        meta = self.data.meta
        shape = tuple(meta.input_shape) if meta.kind == "images" else None
        points = self.data.x_train.flatten(1)[:2000].double() - self.mean.to(self.data.x_train.device)
        k = self.model.cfg.outputs
        paths = [plot_hebbian(plots_dir.parent / "metrics.jsonl", plots_dir / "hebbian.png", rule=self.cfg.rule,
                              lr=self.cfg.lr, eigenvalue=float(self.eigenvalues[0]), units=k,
                              weight=self.model.weight[0], component=self.components[0], points=points,
                              image_shape=shape)]
        if shape is not None and k > 1:  # every unit beside its principal component
            from neuralab.viz.bases import plot_bases

            paths.append(plot_bases([(f"PCA (eigh): the first {k} components", self.components),
                                     (f"{self.cfg.rule}: the {k} units' weights", self.model.weight)], shape,
                                    f"{meta.source}: principal components beside the learnt weights",
                                    plots_dir / "bases.png"))
        return paths

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "steps": self.steps, "initial_norm": self.initial_norm}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.steps, self.initial_norm = int(state["steps"]), float(state["initial_norm"])
        self.done = not self.norm < self.cfg.max_norm

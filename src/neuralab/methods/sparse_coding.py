"""Learning a sparse code (Olshausen and Field, "Emergence of simple-cell receptive field properties by learning a
sparse code for natural images", 1996) (curriculum G1, notes 002 1.9).

Each step alternates the two minimisations of E = 1/2 ||z - Phi a||^2 + lam ||a||_1 over a batch of whitened
patches z: inference of the codes a with Phi fixed (FISTA, the model's `infer`), then one gradient step on the
dictionary with the codes fixed, dPhi = -lr dE/dPhi = lr (z - Phi a) a^T / B (torch.optim through
`neuralab.methods.optim`), after which every atom is rescaled to unit norm.

Whitening: before the first step the method sets the model's whitening to ZCA from the training patches,
W = U diag((lambda + eps)^-1/2) U^T (U, lambda: eigenvectors and eigenvalues of their covariance), with eps a
fraction `whiten_eps` of the largest eigenvalue. Like Olshausen and Field's whitening filter with its low-pass
cut-off, it flattens the 1/f^2 power spectrum of natural images (so the dictionary is not spent on the few
high-variance, low-frequency directions) without amplifying the weakest, noisiest directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.methods.decomposition import Moments, pca_baseline, single_process
from neuralab.methods.linear_codes import code_metrics, spread, table
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, descend, make_optimizer, make_schedule
from neuralab.models.linear.sparse_coding import SparseCoding
from neuralab.registry import register_method


@dataclass(frozen=True)
class SparseCodingMethodConfig:
    optimizer: str = field("sgd", "Optimiser of the dictionary step.", choices=OPTIMIZERS)
    lr: float = field(1.0, "Learning rate of the dictionary step.", gt=0)
    schedule: str = field("cosine", "Learning-rate schedule over the run (cosine: anneals to 0, so the atoms "
                                    "settle).", choices=SCHEDULES)
    whiten: bool = field(True, "ZCA-whiten the patches (from the training set) before coding them.")
    whiten_eps: float = field(0.03, "Added to every eigenvalue before whitening, as a fraction of the largest: "
                                    "damps the weakest, noisiest directions (a low-pass cut-off).", gt=0)


def zca(cov: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """ZCA whitening of a covariance (D, D) and its inverse: U diag((lambda + eps lambda_max)^-+1/2) U^T."""
    values, vectors = torch.linalg.eigh(cov.double())
    scale = (values.clamp_min(0) + eps * values.max()).sqrt()
    return vectors @ torch.diag(1 / scale) @ vectors.T, vectors @ torch.diag(scale) @ vectors.T


@register_method("sparse-coding", config=SparseCodingMethodConfig)
class SparseCodingFit(Method):
    def __init__(self, cfg: SparseCodingMethodConfig, model: SparseCoding, data: SupervisedData,
                 ctx: RunContext) -> None:
        single_process(ctx, "sparse-coding")
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        moments = Moments(model.cfg.in_features, ctx.device)
        moments.add(data.x_train)
        with torch.no_grad():
            model.mean.copy_(moments.mean)
            if cfg.whiten:
                whitening, dewhitening = zca(moments.covariance(), cfg.whiten_eps)
                model.whitening.copy_(whitening)
                model.dewhitening.copy_(dewhitening)
        self.params = [model.dictionary]
        self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.steps = 0

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        z = self.model.whiten(batch[0])
        codes = self.model.infer(z)  # inference: Phi fixed
        with self.ctx.autocast():
            residual = z - self.model.synthesize(codes)
            loss = 0.5 * residual.float().pow(2).sum(1).mean()
        descend(loss, self.optimizer, self.params, 0.0, self.schedule)  # learning: the codes fixed
        self.model.normalize_()
        self.steps += 1
        l1 = codes.abs().sum(1).mean()
        return {"train/loss": loss.detach(), "train/energy": loss.detach() + self.model.cfg.lam * l1,
                "train/active": (codes != 0).float().mean()}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        x_test, _ = self.data.split("test")
        z = self.model.whiten(x_test)
        codes = self.model.infer(z)
        energy = 0.5 * (z - self.model.synthesize(codes)).pow(2).sum(1) + self.model.cfg.lam * codes.abs().sum(1)
        return {**code_metrics(self.model, x_test), "test/energy": float(energy.mean()),
                "basis/spread": spread(self.model.bases(), self.shape()),
                "basis/spread_whitened": spread(self.model.dictionary.T, self.shape())}

    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.meta.input_shape)

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        x_test, _ = self.data.split("test")
        cfg = self.model.cfg
        pca = pca_baseline(self.data.x_train, cfg.n_atoms)
        whitening = f"ZCA-whitened (eps {self.cfg.whiten_eps:g} of the largest eigenvalue)" if self.cfg.whiten \
            else "not whitened"
        return "\n".join([
            f"Sparse coding of {len(self.data.x_train)} training patches of {self.data.meta.source}, {whitening}: "
            f"{cfg.n_atoms} atoms, lambda {cfg.lam:g}, {cfg.n_iter} {cfg.inference.upper()} iterations per "
            f"inference, {self.steps} dictionary steps. Test set: {len(x_test)} patches; errors in pixel units "
            f"(grey levels / 255), spatial spread of the basis in pixels "
            f"(of the whitened atoms: {m['basis/spread_whitened']:.3f}).", "",
            table([("PCA (same data)", pca.cfg.n_components, code_metrics(pca, x_test),
                    spread(pca.bases(), self.shape())),
                   (f"sparse coding (L1, {cfg.inference.upper()})", cfg.n_atoms, m, m["basis/spread"])])])

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.bases import plot_bases

        cfg, shape = self.model.cfg, self.shape()
        pca = pca_baseline(self.data.x_train, cfg.n_atoms)
        panels = [(f"PCA: {pca.cfg.n_components} components", pca.bases()),
                  (f"sparse coding: {cfg.n_atoms} atoms" + (" (whitened)" if self.cfg.whiten else ""),
                   self.model.dictionary.T)]
        if self.cfg.whiten:
            panels.append(("sparse coding: the atoms in pixels", self.model.bases()))
        return [plot_bases(panels, shape, f"{self.data.meta.source}: PCA beside sparse coding",
                           plots_dir / "bases.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.steps = int(state["steps"])

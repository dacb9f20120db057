"""Closed-form linear decompositions fitted from the data's first two moments: PCA and CCA (curriculum G1).

Each step adds a batch to running float64 moments (count, mean and the sum of squared deviations, merged by
Chan, Golub and LeVeque's pairwise update, exact up to rounding in any batch order) and refits the model from the
covariance of everything seen: one epoch is the exact fit on the whole training set, whatever the batch size, and
further epochs see the same data again and change nothing. No gradient is taken.

Each evaluation also fits scikit-learn's estimator on the same training examples and reports how closely the two
agree (`train/sklearn_*`): the oracle for the hand-written fit.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.linear_codes import code_metrics, spread, table
from neuralab.models.linear.cca import CCA
from neuralab.models.linear.pca import PCA, PCAConfig
from neuralab.registry import register_method


class Moments:
    """Running count, mean (D,) and co-moment (D, D) = sum of (x - mean)(x - mean)^T, in float64."""

    def __init__(self, d: int, device: torch.device) -> None:
        self.count = 0
        self.mean = torch.zeros(d, dtype=torch.float64, device=device)
        self.comoment = torch.zeros(d, d, dtype=torch.float64, device=device)

    def add(self, x: torch.Tensor) -> None:
        """Merge a batch (B, ...) in (Chan, Golub and LeVeque 1979)."""
        flat = x.flatten(1).double()
        n, batch_mean = len(flat), flat.mean(0)
        centred = flat - batch_mean
        delta = batch_mean - self.mean
        total = self.count + n
        self.comoment += centred.T @ centred + torch.outer(delta, delta) * (self.count * n / total)
        self.mean += delta * (n / total)
        self.count = total

    def covariance(self) -> torch.Tensor:
        """The unbiased covariance (divisor count - 1) of everything added."""
        return self.comoment / max(self.count - 1, 1)

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean": self.mean, "comoment": self.comoment}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count = int(state["count"])
        self.mean = state["mean"].to(self.mean)
        self.comoment = state["comoment"].to(self.comoment)


@dataclass(frozen=True)
class DecompositionConfig:
    sklearn_check: bool = field(True, "At each evaluation, also fit scikit-learn's estimator on the training "
                                      "examples and report the agreement (train/sklearn_*).")


def single_process(ctx: RunContext, name: str) -> None:
    """Refuse a data-parallel run: each process would fit its own shard's statistics."""
    if ctx.procs is not None:
        raise UserError(f"{name} fits in closed form on one process; run it without torchrun")


class MomentFit(Method):
    """A model refitted from the running moments of the batches at every step."""

    name = ""

    def __init__(self, cfg: DecompositionConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        single_process(ctx, self.name)
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.moments = Moments(model.cfg.in_features, ctx.device)
        self.steps = 0

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        self.moments.add(batch[0])
        self.steps += 1
        if self.moments.count < 2:
            return {}
        self.model.fit(self.moments.mean, self.moments.covariance())
        return self.fitted_metrics()

    def fitted_metrics(self) -> dict[str, float]:
        """What the fit says about the training data seen so far."""
        return {}

    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.meta.input_shape)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "moments": self.moments.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.moments.load_state_dict(state["moments"])
        self.steps = int(state["steps"])


def pca_baseline(x: torch.Tensor, k: int) -> PCA:
    """PCA of rows x (N, ...) with at most `k` components, fewer where the data span fewer dimensions (patches
    without their mean have one less): the global basis the other linear methods are compared with."""
    moments = Moments(x[0].numel(), x.device)
    moments.add(x)
    cov = moments.covariance()
    values = torch.linalg.eigvalsh(cov)
    rank = int((values > 1e-6 * values.max()).sum())
    pca = PCA(PCAConfig(x[0].numel(), max(1, min(k, rank)))).to(x.device)
    pca.fit(moments.mean, cov)
    return pca


def sklearn_pca(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's PCA (full SVD) of rows x (N, D): components (k, D) and explained variances (k,)."""
    from sklearn.decomposition import PCA as SkPCA

    sk = SkPCA(n_components=k, svd_solver="full").fit(x.double().cpu().numpy())
    return torch.from_numpy(sk.components_), torch.from_numpy(sk.explained_variance_)


@register_method("pca", config=DecompositionConfig)
class PCAFit(MomentFit):
    """PCA from the covariance of the training set, by `torch.linalg.eigh`."""

    name = "pca"
    model: PCA

    def fitted_metrics(self) -> dict[str, float]:
        ratio = self.model.explained_variance.sum() / self.model.total_variance.clamp_min(1e-300)
        return {"train/explained_variance": float(ratio)}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        x_test, _ = self.data.split("test")
        metrics = {**code_metrics(self.model, x_test), **self.fitted_metrics(),
                   "basis/spread": spread(self.model.bases(), self.shape())}
        if self.cfg.sklearn_check:
            components, variances = sklearn_pca(self.data.x_train.flatten(1), self.model.cfg.n_components)
            ours = self.model.components.double().cpu()
            metrics["train/sklearn_cosine"] = float((ours * components).sum(1).abs().min())
            gap = (self.model.explained_variance.double().cpu() - variances).abs() / variances.clamp_min(1e-300)
            metrics["train/sklearn_variance_gap"] = float(gap.max())
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        k, n = self.model.cfg.n_components, self.moments.count
        lines = [f"PCA of {n} training examples of {self.data.meta.source} ({self.model.cfg.in_features} inputs), "
                 f"{k} components keeping {m['train/explained_variance']:.1%} of the variance; test set "
                 f"{len(self.data.x_test)} examples.", "",
                 table([("PCA (torch.linalg.eigh)", k, m, m["basis/spread"])])]
        if self.cfg.sklearn_check:
            lines += ["", f"scikit-learn's PCA on the same examples: smallest |cosine| between matching components "
                          f"{m['train/sklearn_cosine']:.6f}, largest relative difference of an explained variance "
                          f"{m['train/sklearn_variance_gap']:.1e}."]
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.bases import plot_bases

        return [plot_bases([(f"PCA: {self.model.cfg.n_components} components", self.model.bases())], self.shape(),
                           f"PCA of {self.data.meta.source}", plots_dir / "bases.png")]


def correlations(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each column pair of u, v (N, K)."""
    u, v = u.double() - u.double().mean(0), v.double() - v.double().mean(0)
    return (u * v).sum(0) / (u.norm(dim=0) * v.norm(dim=0)).clamp_min(1e-300)


def sklearn_cca(x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """The canonical correlations (k,) of scikit-learn's CCA (NIPALS with deflation) fitted on views x, y."""
    from sklearn.cross_decomposition import CCA as SkCCA

    sk = SkCCA(n_components=k, scale=False, max_iter=2000, tol=1e-10)
    u, v = sk.fit_transform(x.double().cpu().numpy(), y.double().cpu().numpy())
    return correlations(torch.from_numpy(u), torch.from_numpy(v))


@register_method("cca", config=DecompositionConfig)
class CCAFit(MomentFit):
    """CCA from the joint covariance of both views, by Cholesky whitening and an SVD."""

    name = "cca"
    model: CCA

    def __init__(self, cfg: DecompositionConfig, model: CCA, data: SupervisedData, ctx: RunContext) -> None:
        super().__init__(cfg, model, data, ctx)
        whole = Moments(model.cfg.in_features, ctx.device)
        whole.add(data.x_train)
        copy.deepcopy(model).fit(whole.mean, whole.covariance())  # a singular view is refused before the run starts

    def fitted_metrics(self) -> dict[str, float]:
        return {"train/corr1": float(self.model.correlations[0])}

    def test_correlations(self) -> torch.Tensor:
        u, v = self.model.encode(self.data.x_test).chunk(2, dim=1)
        return correlations(u, v)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        x_test, _ = self.data.split("test")
        rho = self.test_correlations()
        metrics = {**code_metrics(self.model, x_test), **self.fitted_metrics(),
                   **{f"test/corr{i + 1}": float(r) for i, r in enumerate(rho)}}
        if self.cfg.sklearn_check:
            xv, yv = self.model.views(self.data.x_train)
            theirs = sklearn_cca(xv, yv, self.model.cfg.n_components)
            ours = correlations(*self.model.encode(self.data.x_train).chunk(2, dim=1)).cpu()
            metrics["train/sklearn_corr_gap"] = float((ours - theirs).abs().max())
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        k, cfg = self.model.cfg.n_components, self.model.cfg
        xv, yv = self.model.views(self.data.x_train)
        train = correlations(*self.model.encode(self.data.x_train).chunk(2, dim=1))
        lines = [f"CCA of {self.data.meta.source}: view x = the first {cfg.x_features} of {cfg.in_features} inputs, "
                 f"view y = the other {cfg.in_features - cfg.x_features}; {self.moments.count} training and "
                 f"{len(self.data.x_test)} test examples, ridge {cfg.ridge:g}.", "",
                 "| pair | canonical correlation (train) | (test) |" + (" scikit-learn CCA (train) |"
                                                                       if self.cfg.sklearn_check else ""),
                 "|---|---|---|" + ("---|" if self.cfg.sklearn_check else "")]
        theirs = sklearn_cca(xv, yv, k) if self.cfg.sklearn_check else None
        for i in range(k):
            lines.append(f"| {i + 1} | {float(train[i]):.4f} | {m[f'test/corr{i + 1}']:.4f} |"
                         + (f" {float(theirs[i]):.4f} |" if theirs is not None else ""))
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """Each canonical pair as one image of loadings (the covariance of each input with its own view's variate: the
        weights themselves are large on nearly constant pixels and hard to read), view x then view y."""
        from neuralab.viz.bases import plot_bases

        pairs = torch.cat([self.model.x_loadings.T, self.model.y_loadings.T], 1)  # (K, D)
        rho = ", ".join(f"{float(r):.2f}" for r in self.test_correlations())
        return [plot_bases([(f"loadings of the {len(pairs)} canonical pairs (test correlations {rho})", pairs)],
                           self.shape(), f"CCA of {self.data.meta.source}: first {self.model.cfg.x_features} inputs "
                           "(x) against the rest (y)", plots_dir / "bases.png")]

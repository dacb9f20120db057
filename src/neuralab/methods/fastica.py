"""FastICA (Hyvarinen, "Fast and robust fixed-point algorithms for independent component analysis", 1999): the
symmetric ("parallel") fixed-point iteration with the log-cosh contrast, as scikit-learn's FastICA runs it
(curriculum G1).

On data whitened to K dimensions (z, identity covariance) the rows w_k of W (K, K) are moved to the fixed point

    W <- E[g(W z) z^T] - diag(E[g'(W z)]) W,       g(u) = tanh(u), g'(u) = 1 - tanh(u)^2,

then decorrelated symmetrically, W <- (W W^T)^-1/2 W, so that the sources s = W z stay uncorrelated with unit
variance. Each step is one iteration on the batch; with the whole training set as the batch (the recipe) this is
FastICA exactly, and the run stops when no row turns by more than `tol` (scikit-learn's test:
max |1 - |diag(W_new W^T)|| < tol). The whitening (the model's PCA to K dimensions) is fitted on the training set
before the first step; W starts from a random orthogonal matrix drawn from the run's seed. Each evaluation also
runs scikit-learn's FastICA on the same training set and reports how well the two sets of sources match
(`train/sklearn_match`: mean |correlation| of the sources paired one to one by the Hungarian algorithm).
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
from neuralab.models.linear.ica import ICA
from neuralab.registry import register_method

GAUSS_LOGCOSH = 0.374567207491438  # E[log cosh(u)] for a standard normal u (numerical quadrature)


@dataclass(frozen=True)
class FastICAConfig:
    tol: float = field(1e-4, "Stop when no row of W turns by more than this in one iteration (scikit-learn's "
                             "default); 0 never stops.", ge=0)
    sklearn_check: bool = field(True, "At each evaluation, also run scikit-learn's FastICA on the training set and "
                                      "report how well its sources match (train/sklearn_match).")


def symmetric_decorrelation(w: torch.Tensor) -> torch.Tensor:
    """(W W^T)^-1/2 W: the orthogonal matrix nearest W (K, K)."""
    values, vectors = torch.linalg.eigh(w @ w.T)
    return vectors @ torch.diag(values.clamp_min(1e-300).rsqrt()) @ vectors.T @ w


def fixed_point(w: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """One parallel FastICA iteration with g = tanh on whitened data z (N, K), decorrelated."""
    g = torch.tanh(z @ w.T)  # (N, K)
    return symmetric_decorrelation(g.T @ z / len(z) - torch.diag((1 - g * g).mean(0)) @ w)


def matched_correlation(s: torch.Tensor, t: torch.Tensor) -> float:
    """Mean |correlation| between the columns of s and t (N, K) paired one to one so that the sum is largest (sources
    are defined up to order and sign)."""
    from scipy.optimize import linear_sum_assignment

    s, t = s.double() - s.double().mean(0), t.double() - t.double().mean(0)
    corr = ((s / s.norm(dim=0)).T @ (t / t.norm(dim=0))).abs().cpu().numpy()
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return float(corr[rows, cols].mean())


def sklearn_unmixing(z: torch.Tensor, start: torch.Tensor, tol: float) -> torch.Tensor:
    """scikit-learn's FastICA (parallel, logcosh) run on already whitened data z (N, K) from the unmixing `start`
    (K, K): the same iteration on the same numbers as ours, to the same tolerance; its unmixing (K, K)."""
    from sklearn.decomposition import FastICA

    sk = FastICA(whiten=False, fun="logcosh", algorithm="parallel", tol=tol, max_iter=10000,
                 w_init=start.double().cpu().numpy())
    sk.fit(z.double().cpu().numpy())
    return torch.from_numpy(sk.components_)


def sklearn_sources(x: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """The sources of scikit-learn's FastICA with its own whitening and random start (the same settings otherwise)
    fitted on rows x (N, D): (N, k)."""
    from sklearn.decomposition import FastICA

    sk = FastICA(n_components=k, whiten="unit-variance", fun="logcosh", max_iter=10000, random_state=seed)
    return torch.from_numpy(sk.fit_transform(x.double().cpu().numpy()))


@register_method("fastica", config=FastICAConfig)
class FastICAFit(Method):
    def __init__(self, cfg: FastICAConfig, model: ICA, data: SupervisedData, ctx: RunContext) -> None:
        single_process(ctx, "fastica")
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        moments = Moments(model.cfg.in_features, ctx.device)
        moments.add(data.x_train)
        # population covariance (divisor N), as scikit-learn whitens: the sources' variance is 1 on the training set
        model.fit_whitening(moments.mean, moments.comoment / moments.count)
        model.unmixing.copy_(self.start())
        self.steps, self.change = 0, None
        self.done = False

    def start(self) -> torch.Tensor:
        """The random orthogonal unmixing (K, K) the iteration starts from, drawn from the run's seed."""
        k = self.model.cfg.n_components
        return symmetric_decorrelation(torch.randn(k, k, generator=torch.Generator().manual_seed(self.ctx.seed),
                                                   dtype=torch.float64))

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        z = self.model.whiten(batch[0]).double()
        w = self.model.unmixing.double()
        w_new = fixed_point(w, z)
        self.change = float((1 - (w_new * w).sum(1).abs()).abs().max())  # |1 - |<w_new_k, w_k>||, largest
        self.model.unmixing.copy_(w_new)
        self.steps += 1
        self.done = self.change < self.cfg.tol
        # |E[G(s)] - E[G(gauss)]| with G = log cosh: the contrast FastICA maximises (negentropy's approximation)
        contrast = (torch.log(torch.cosh(z @ w_new.T)).mean(0) - GAUSS_LOGCOSH).abs().mean()
        return {"train/change": self.change, "train/contrast": float(contrast)}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        x_test, _ = self.data.split("test")
        shape = tuple(self.data.meta.input_shape)
        metrics = {**code_metrics(self.model, x_test), "basis/spread": spread(self.model.bases(), shape)}
        if self.cfg.sklearn_check:
            z = self.model.whiten(self.data.x_train).double()
            theirs = sklearn_unmixing(z, self.start(), self.cfg.tol or 1e-4)
            metrics["train/sklearn_match"] = matched_correlation(z @ self.model.unmixing.double().T, z @ theirs.T)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m, pca = self.evaluate(), pca_baseline(self.data.x_train, self.model.cfg.n_components)
        x_test, _ = self.data.split("test")
        k = self.model.cfg.n_components
        state = (f"converged after {self.steps} iterations (tol {self.cfg.tol:g})" if self.done
                 else f"stopped after {self.steps} iterations, last change {self.change:.2g}")
        lines = [f"FastICA of {len(self.data.x_train)} training examples of {self.data.meta.source}, {k} components: "
                 f"{state}. Test set: {len(x_test)} examples.", "",
                 table([("PCA (same data)", pca.cfg.n_components, code_metrics(pca, x_test),
                         spread(pca.bases(), tuple(self.data.meta.input_shape))),
                        ("ICA (FastICA, log-cosh)", k, m, m["basis/spread"])])]
        if self.cfg.sklearn_check:
            own, other = (sklearn_sources(self.data.x_train.flatten(1), k, seed)
                          for seed in (self.ctx.seed, self.ctx.seed + 1))
            free = matched_correlation(self.model.encode(self.data.x_train), own)
            lines += ["", f"scikit-learn's FastICA run on our whitened training set from our starting point: its "
                          f"sources and ours, paired one to one, correlate {m['train/sklearn_match']:.4f} on average "
                          f"(|r|). Run with its own whitening and random start, {free:.4f}; and two of its own runs "
                          f"from different random starts, {matched_correlation(own, other):.4f}: the iteration is "
                          "the same, the optimum it reaches depends on where it starts."]
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.bases import plot_bases

        k, shape = self.model.cfg.n_components, tuple(self.data.meta.input_shape)
        return [plot_bases([(f"PCA: {k} components", pca_baseline(self.data.x_train, k).bases()),
                            (f"ICA: {k} basis functions (mixing matrix)", self.model.bases())], shape,
                           f"{self.data.meta.source}: PCA beside ICA", plots_dir / "bases.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "steps": self.steps, "change": self.change}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.steps, self.change = int(state["steps"]), state["change"]
        self.done = self.change is not None and self.change < self.cfg.tol


"""Contrastive divergence, CD-k (Hinton, "Training products of experts by minimizing contrastive divergence", 2002),
and persistent CD (Tieleman, "Training restricted Boltzmann machines using approximations to the likelihood
gradient", 2008) for the RBM (curriculum E6, notes 002 section 4.7).

The log-likelihood gradient of an RBM is a difference of two expectations, <v h^T>_data - <v h^T>_model (and
<v> and <h> for the biases). CD-k estimates the second from a Gibbs chain started at the data and run k steps;
persistent CD keeps the chains between updates (one per batch example), so they wander far from the data and
the estimate approaches the model's own. As in scikit-learn's BernoulliRBM and Hinton's practical guide, the
positive phase uses the hidden probabilities P(h | v_data), the negative phase the sampled visible state v_k and
its hidden probabilities P(h | v_k): less noise, same expectation.

The statistics are written into the parameters' `.grad` as the gradient of the negative log-likelihood, and a
torch optimiser takes the step (momentum and an L2 weight decay on the weights only, as the guide advises): the
update is the notes' `dW = lr (<v h>_data - <v h>_model)` for plain SGD. `tests/unit/test_contrastive_divergence.py`
checks the statistics against autograd of the free-energy difference F(v_data) - F(v_k).

`k_schedule` raises k in stages over the run, as the notes advise once the weights have grown (CD-1 -> 3 -> 10 -> 25).
Gaussian visible units have unit variance, so their data are standardised per pixel or ZCA-whitened (`whiten`) from
the training set first. Evaluation stays cheap (reconstruction error, free energy, scikit-learn's stochastic
pseudo-likelihood, the filters' spatial spread); the test log-likelihood -F(v) - log Z needs the partition function,
exact by enumeration for a tiny machine and otherwise estimated by AIS (`neuralab.models.energy.ais`), and is
computed only by `log_likelihood` (`neuralab eval RUN --nll --samples M`, M the AIS runs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.decomposition import pca_baseline, single_process
from neuralab.methods.elbo import binarized_test_set
from neuralab.methods.linear_codes import spread
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from neuralab.methods.sparse_coding import zca
from neuralab.models.energy.ais import SM_BETAS, ais_log_partition, base_rate_bias
from neuralab.models.energy.pseudo_likelihood import pseudo_likelihood
from neuralab.models.energy.rbm import RBM
from neuralab.registry import register_method

WHITEN = ("none", "standardize", "zca")
EXACT_UNITS = 20  # log Z by enumeration when the layer it sums over has at most this many units, AIS beyond
EVAL_SEED = 0  # the pseudo-likelihood's flipped units, the same at every evaluation
AIS_SEED = 0
CHAIN_STEPS_SHOWN = 10  # columns of the Gibbs-chain picture


@dataclass(frozen=True)
class ContrastiveDivergenceConfig:
    k: int = field(1, "Gibbs steps of the negative phase (CD-k).", ge=1)
    k_schedule: tuple[int, ...] = field((), "CD-k schedule, e.g. 1,3,10,25: each k in turn for an equal share of the "
                                            "run's steps, raising k as the weights grow (the notes); empty: `k` "
                                            "throughout.", ge=1)
    persistent: bool = field(False, "Persistent CD (Tieleman 2008): the negative chains carry on from the last "
                                    "update's state instead of restarting at the data.")
    optimizer: str = field("momentum", "Optimiser applying the CD update.", choices=OPTIMIZERS)
    lr: float = field(0.05, "Learning rate.", gt=0)
    momentum: float = field(0.5, "Momentum of the momentum/nesterov optimisers.", ge=0, le=0.999)
    weight_decay: float = field(0.0, "L2 weight decay on the weights (not the biases).", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the run.", choices=SCHEDULES)
    binarize: bool = field(False, "Binarise Bernoulli inputs in [0, 1]: each training batch drawn afresh as "
                                  "Bernoulli(pixel), the test set once with a fixed seed.")
    whiten: str = field("none", "Preprocessing for Gaussian visible units, fitted on the training set: none, "
                                "standardize (each pixel to mean 0, variance 1) or zca (ZCA whitening).",
                        choices=WHITEN)
    whiten_eps: float = field(0.03, "zca: added to every eigenvalue as a fraction of the largest, damping the "
                                    "weakest, noisiest directions.", gt=0)
    init_visible_bias: bool = field(True, "Start the visible biases at the training data's log-odds log p / (1 - p) "
                                          "(Hinton's practical guide; the mean for Gaussian units): pixels that are "
                                          "never on start off, instead of at 1/2 with nothing in CD to push them "
                                          "down, which leaves the model a vast noise mode CD never visits.")
    whiten_scale: float = field(1.0, "Multiply the whitened data by s: the unit-variance Gaussian units then model "
                                     "the unit-variance data with noise sigma = 1/s, so hidden units have structure "
                                     "to explain beyond the noise.", gt=0)
    sparsity_target: float = field(0.0, "Sparse RBM (Lee, Ekanadham and Ng 2008): the hidden units' mean activity "
                                        "on a batch is pulled towards this (0: no penalty).", ge=0, le=1)
    sparsity_cost: float = field(0.0, "Weight of that pull, added to the hidden biases' gradient as "
                                      "cost (mean P(h | v) - target).", ge=0)
    ais_steps: int = field(SM_BETAS, "Intermediate distributions of the AIS estimate of log Z in --nll (Salakhutdinov "
                                     "and Murray 2008: 14,500).", ge=1)
    sample_steps: int = field(1000, "Gibbs steps of each chain drawn from a random start (neuralab sample).", ge=1)


def cd_gradients(rbm: RBM, v_data: torch.Tensor, v_model: torch.Tensor) -> torch.Tensor:
    """Write into `.grad` of the RBM's parameters the CD estimate of the negative log-likelihood's gradient,
    -(<v h^T>_data - <v h^T>_model) and likewise for the biases, from data (B, V) and negative samples (M, V);
    returns the positive hidden probabilities (B, H) for the caller's metrics."""
    # Both phases in one pass (B + M, ...): at small batches a step is dominated by per-call overhead, and one
    # matmul of twice the rows costs about half of two (benchmarks/rbm_sklearn_peer.py, docs/energy.md).
    b, m = len(v_data), len(v_model)
    v = torch.cat([v_data, v_model])  # (B + M, V)
    h = rbm.hidden_probs(v)  # (B + M, H)
    sign = torch.cat([v.new_full((b,), -1 / b), v.new_full((m,), 1 / m)])  # -1/B per data row, +1/M per model row
    rbm.weight.grad = v.T @ (h * sign.unsqueeze(1))  # (V, H)
    rbm.visible_bias.grad = sign @ v
    rbm.hidden_bias.grad = sign @ h
    return h[:b]


@register_method("contrastive-divergence", config=ContrastiveDivergenceConfig)
class ContrastiveDivergence(Method):
    """CD-k or persistent CD on an `rbm` model, one update per batch."""

    def __init__(self, cfg: ContrastiveDivergenceConfig, model: RBM, data: SupervisedData, ctx: RunContext) -> None:
        single_process(ctx, "contrastive-divergence")
        if cfg.whiten != "none" and not model.gaussian:
            raise UserError(f"whiten={cfg.whiten} applies to Gaussian visible units; this RBM's are Bernoulli "
                            "(set model.visible=gaussian, or method.whiten=none)")
        self.cfg, self.model, self.data, self.ctx = cfg, model.to(ctx.device), data, ctx
        groups = [{"params": [model.weight], "weight_decay": cfg.weight_decay},
                  {"params": [model.visible_bias, model.hidden_bias], "weight_decay": 0.0}]
        self.optimizer = make_optimizer(cfg.optimizer, groups, cfg.lr, momentum=cfg.momentum)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.mean, self.whitening, self.dewhitening = self._fit_whitening(data.x_train.flatten(1))
        if cfg.init_visible_bias:  # a resumed run's checkpoint replaces them
            with torch.no_grad():
                model.visible_bias.copy_(base_rate_bias(self._whiten(data.x_train.flatten(1)), model.gaussian))
        x_test, _ = data.split("test")
        x_test = self._whiten(x_test.flatten(1))
        self.x_test = binarized_test_set(x_test) if self.binarizes else x_test
        self.chains: torch.Tensor | None = None  # persistent chains' visible state (B, V)
        self.steps = 0

    @property
    def binarizes(self) -> bool:
        return self.cfg.binarize and not self.model.gaussian

    def _fit_whitening(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """(mean (V,), whitening (V, V), its inverse) of the training rows x for `whiten`, or Nones for none.
        A data set of one row (a run loaded without its data) gets the identity, which its checkpoint replaces."""
        if self.cfg.whiten == "none":
            return None, None, None
        x = x.double()
        mean = x.mean(0)
        eye = torch.eye(x.shape[1], dtype=torch.float64, device=x.device)
        if len(x) < 2:
            whitening, dewhitening = eye, eye
        elif self.cfg.whiten == "standardize":
            std = x.std(0).clamp_min(1e-8)
            whitening, dewhitening = torch.diag(1 / std), torch.diag(std)
        else:
            centred = x - mean
            whitening, dewhitening = zca(centred.T @ centred / (len(x) - 1), self.cfg.whiten_eps)
        whitening, dewhitening = whitening * self.cfg.whiten_scale, dewhitening / self.cfg.whiten_scale
        dtype = self.model.weight.dtype
        return mean.to(dtype), whitening.to(dtype), dewhitening.to(dtype)

    def _whiten(self, v: torch.Tensor) -> torch.Tensor:
        """Flat data rows (B, V) as the visible units see them."""
        return v if self.mean is None else (v - self.mean) @ self.whitening

    def _pixels(self, v: torch.Tensor) -> torch.Tensor:
        """Visible states (B, V) back in the data's units (undoing `_whiten`)."""
        return v if self.mean is None else v @ self.dewhitening + self.mean

    def _pixel_bases(self) -> torch.Tensor:
        """Each hidden unit's weights (H, V) as what turning it on adds to E[v | h] in the data's units (the inverse
        of `_whiten`'s linear part applied to them), as sparse coding's and PCA's bases are shown."""
        weights = self.model.weight.T
        return weights if self.dewhitening is None else weights @ self.dewhitening

    def current_k(self) -> int:
        """The k of CD-k at this step: the stage of `k_schedule` the run is in, else `k`."""
        stages = self.cfg.k_schedule
        if not stages:
            return self.cfg.k
        return stages[min(len(stages) - 1, self.steps * len(stages) // max(1, self.ctx.total_steps))]

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        v = self._whiten(batch[0].flatten(1))
        if self.binarizes:
            v = torch.bernoulli(v)  # from the global generator, which the engine checkpoints
        k = self.current_k()
        start = v if not self.cfg.persistent or self.chains is None else self.chains
        v_model = self.model.gibbs(start, k)
        if self.cfg.persistent:
            self.chains = v_model
        h_data = cd_gradients(self.model, v, v_model)
        if self.cfg.sparsity_cost:
            self.model.hidden_bias.grad += self.cfg.sparsity_cost * (h_data.mean(0) - self.cfg.sparsity_target)
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.steps += 1
        reconstruction = self.model.visible_mean(h_data)
        return {"train/recon_error": (v - reconstruction).pow(2).sum(1).mean(), "train/k": k}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Cheap measures only: squared reconstruction error and mean free energy of the test set, and for
        Bernoulli units scikit-learn's pseudo-log-likelihood, for Gaussian ones the filters' spatial spread in
        pixels (basis/spread, comparable with PCA's and sparse coding's) and as weights on the whitened data
        (basis/spread_whitened)."""
        v = self.x_test
        reconstruction = self.model(v)
        metrics = {"test/recon_error": float((v - reconstruction).pow(2).sum(1).mean()),
                   "test/free_energy": float(self.model.free_energy(v).mean())}
        if self.model.gaussian:
            if self._images():
                metrics["basis/spread"] = spread(self._pixel_bases(), self._shape())
                metrics["basis/spread_whitened"] = spread(self.model.weight.T, self._shape())
        else:
            g = torch.Generator(device=v.device).manual_seed(EVAL_SEED)
            metrics["test/pseudo_likelihood"] = float(pseudo_likelihood(self.model, v, g).mean())
        return metrics

    # -- likelihood -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def log_likelihood(self, samples: int) -> dict[str, float]:
        """test/nll = mean over the test set of F(v) + log Z (nats), with log Z exact by enumeration when the layer
        it sums over has at most EXACT_UNITS units, else by AIS with `samples` runs from the training data's
        base-rate model (test/log_z with S&M's +-3 sigma bounds test/log_z_low, test/log_z_high; the lower one is
        left out when the runs' weights spread too far for it to exist). Gaussian units: the density of the
        whitened data."""
        free_energy = float(self.model.free_energy(self.x_test).double().mean())
        V, H = self.model.cfg.in_features, self.model.cfg.hidden
        if (H if self.model.gaussian else min(V, H)) <= EXACT_UNITS:
            log_z = self.model.log_partition()
            return {"test/nll": free_energy + log_z, "test/log_z": log_z}
        x_train = self._whiten(self.data.x_train.flatten(1))
        base = base_rate_bias(x_train, self.model.gaussian)
        g = torch.Generator(device=self.ctx.device).manual_seed(AIS_SEED)
        est = ais_log_partition(self.model, samples, self.cfg.ais_steps, g, base)
        metrics = {"test/nll": free_energy + est.log_z, "test/log_z": est.log_z, "test/log_z_high": est.high}
        if math.isfinite(est.low):
            metrics["test/log_z_low"] = est.low
        return metrics

    # -- drawing ----------------------------------------------------------------------------------------------------
    def _images(self) -> bool:
        return len(self.data.meta.input_shape) == 3

    def _shape(self) -> tuple[int, ...]:
        if not self._images():
            raise UserError(f"this run's inputs are rows of {math.prod(self.data.meta.input_shape)} features, not "
                            "images, so there is nothing to draw as a picture")
        return tuple(self.data.meta.input_shape)

    def _as_images(self, v: torch.Tensor) -> torch.Tensor:
        """Visible means (B, V) as images (B, C, H, W) in [0, 1]: Bernoulli probabilities as they are, Gaussian
        states in pixels, each scaled to its own largest magnitude about mid-grey."""
        if not self.model.gaussian:
            return v.reshape(len(v), *self._shape()).clamp(0, 1)
        from neuralab.viz.bases import as_tiles

        return as_tiles(self._pixels(v), self._shape())

    def _random_start(self, n: int, g: torch.Generator) -> torch.Tensor:
        shape, device = (n, self.model.cfg.in_features), self.ctx.device
        if self.model.gaussian:
            return torch.randn(shape, generator=g, device=device)
        return torch.bernoulli(torch.full(shape, 0.5, device=device), generator=g)

    @torch.no_grad()
    def chain(self, start: torch.Tensor, shown: list[int], g: torch.Generator) -> torch.Tensor:
        """Gibbs chains from `start` (B, V): their visible means E[v | h] after each step count in `shown`
        (ascending; 0 shows the start itself) as (B, len(shown), V)."""
        frames, v, done = [], start, 0
        for target in shown:
            mean = v if target == 0 else None
            while done < target:
                h = self.model.sample_hidden(v, g)
                mean = self.model.visible_mean(h)
                v = self.model.sample_visible(h, g)
                done += 1
            frames.append(mean if mean is not None else frames[-1])
        return torch.stack(frames, 1)

    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        """`n` samples: chains from random starts after `sample_steps` Gibbs steps, shown as E[v | h]. With
        `interpolate`, each row is one chain at increasing step counts (0, then roughly geometric up to
        `sample_steps`): the walk from noise to the model's digits."""
        if label is not None:
            raise UserError(f"--label {label}: an RBM models the images without their classes, so it cannot draw a "
                            "chosen one")
        self._shape()
        g = torch.Generator(device=self.ctx.device).manual_seed(seed)
        if not interpolate:
            return Drawn(self._as_images(self.chain(self._random_start(n, g), [self.cfg.sample_steps], g)[:, 0]),
                         min(n, 8), [])
        columns = min(n, 8) if n > 1 else 2
        rows = max(1, n // columns)
        frames = self.chain(self._random_start(rows, g), chain_steps(columns, self.cfg.sample_steps), g)
        notes = [] if rows * columns == n else [f"drew {rows} chains of {columns} steps ({rows * columns} images)"]
        return Drawn(self._as_images(frames.flatten(0, 1)), columns, notes)

    # -- pictures and report ----------------------------------------------------------------------------------------
    def plot(self, plots_dir: Path) -> list[Path]:
        """The filters (each hidden unit's weights as an image; the first 100), for whitened Gaussian units also in
        pixels (`_pixel_bases`, what `basis/spread` reads) beside PCA's components, and Gibbs chains from test
        examples at increasing step counts."""
        from neuralab.viz.bases import plot_bases
        from neuralab.viz.grid import save_grid

        if not self._images():
            return []
        shape, filters = self._shape(), self.model.weight.T[:100]
        on = "" if self.dewhitening is None else " (on the whitened units)"
        panels = [(f"RBM filters{on}: {len(filters)} of {self.model.cfg.hidden} hidden units", filters)]
        if self.model.gaussian:
            pca = pca_baseline(self.data.x_train, len(filters))
            panels.insert(0, (f"PCA of the pixels: {pca.cfg.n_components} components", pca.bases()))
            if self.dewhitening is not None:
                panels.append(("RBM filters in pixels", self._pixel_bases()[:100]))
        space = {"none": "", "standardize": " (standardised data)", "zca": " (ZCA-whitened data)"}[self.cfg.whiten]
        paths = [plot_bases(panels, shape, f"{self.data.meta.source}: {self.model.cfg.visible} RBM{space}",
                            plots_dir / "filters.png")]
        g = torch.Generator(device=self.ctx.device).manual_seed(EVAL_SEED)
        start = self.x_test[:10]
        frames = self.chain(start, chain_steps(CHAIN_STEPS_SHOWN, self.cfg.sample_steps), g)
        paths.append(save_grid(self._as_images(frames.flatten(0, 1)), plots_dir / "gibbs_chains.png",
                               CHAIN_STEPS_SHOWN))
        return paths

    def report(self, run_dir: Path | None = None) -> str:
        """Gaussian units on images: the filters' spatial spread against PCA's of the same pixels."""
        if not (self.model.gaussian and self._images()):
            return ""
        shape, x_train = self._shape(), self.data.x_train
        pca = pca_baseline(x_train, self.model.cfg.hidden)
        rows = [("PCA of the pixels", pca.cfg.n_components, spread(pca.bases(), shape), "-"),
                (f"Gaussian-Bernoulli RBM, CD-{self.current_k()}", self.model.cfg.hidden,
                 spread(self._pixel_bases(), shape), f"{spread(self.model.weight.T, shape):.3f}")]
        return "\n".join([
            f"Filters of a Gaussian-Bernoulli RBM trained for {self.steps} steps on {len(x_train)} patches of "
            f"{self.data.meta.source} (whiten={self.cfg.whiten}): spatial spread of each basis (1: spread over the "
            "whole patch like noise or a Fourier component, lower: localised; `neuralab.methods.linear_codes.spread`), "
            "in pixels and, for the RBM, as its weights on the whitened units.",
            "", "| basis | functions | spatial spread (pixels) | spatial spread (whitened) |", "|---|---|---|---|",
            *(f"| {name} | {k} | {s:.3f} | {w} |" for name, k, s, w in rows)])

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(),
                "chains": self.chains, "steps": self.steps,
                "whitening": None if self.mean is None else [self.mean, self.whitening, self.dewhitening]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.chains = None if state["chains"] is None else state["chains"].to(self.ctx.device)
        self.steps = int(state["steps"])
        if state.get("whitening") is not None:
            self.mean, self.whitening, self.dewhitening = (t.to(self.ctx.device) for t in state["whitening"])


def chain_steps(columns: int, last: int) -> list[int]:
    """`columns` ascending Gibbs step counts from 0 to `last`, roughly geometric in between (0, 1, 2, 5, ...)."""
    if columns == 1:
        return [last]
    return [0] + [max(i, round(last ** (i / (columns - 1)))) for i in range(1, columns)]

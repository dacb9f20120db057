"""Variational inference by the evidence lower bound (Kingma and Welling, "Auto-encoding variational Bayes", 2014;
curriculum G3; notes 002 sections 4.9-4.10), its beta-weighted form (Higgins et al., "beta-VAE: learning basic visual
concepts with a constrained variational framework", 2017), KL annealing (Bowman et al., "Generating sentences from a
continuous space", 2016) and the importance-weighted likelihood estimate (Burda, Grosse, Salakhutdinov, "Importance
weighted autoencoders", 2016).

One step maximises  ELBO = E_q(z|x)[log p(x|z)] - w * KL(q(z|x) || N(0, I))  with one reparameterised sample
z = mu + sigma * eps, where the KL of the diagonal Gaussian posterior has the closed form
1/2 sum(sigma^2 + mu^2 - 1 - log sigma^2), and the weight w rises linearly from 0 to beta over the first `kl_warmup`
share of training (beta 1: the VAE; beta > 1: the beta-VAE). The reconstruction term ("distortion") and the KL
("rate") are reported in nats per example. With `binarize` every training batch is drawn afresh as Bernoulli(pixel)
from the global generator (dynamic binarisation), and the test set is binarised once with a fixed seed, the usual
benchmark for MNIST likelihoods. The test negative log-likelihood is estimated as
-log (1/k) sum_k p(x, z_k) / q(z_k|x), z_k ~ q(z|x), which is an upper bound on -log p(x) in expectation that
tightens as k grows (k = 1 is the negative ELBO).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, descend, make_optimizer, make_schedule
from neuralab.registry import register_method

TEST_BINARIZE_SEED = 0  # the binarised test set is the same for every run, so likelihoods compare across runs
LOG_2PI = math.log(2 * math.pi)
ACTIVE_VARIANCE = 0.01  # a latent unit is active when its posterior mean varies over the data by more (Burda et al.)
SCALE = 4  # pixels per image pixel in the plots' grids
SAMPLE_BLOCK = 8192  # (example, sample) pairs decoded at once by the importance-sampled likelihood


@dataclass(frozen=True)
class ELBOConfig:
    optimizer: str = field("adam", "Optimiser from torch.optim.", choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate.", gt=0)
    weight_decay: float = field(0.0, "L2 penalty coefficient applied by the optimiser.", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the whole run.", choices=SCHEDULES)
    clip_grad_norm: float = field(0.0, "Rescale the gradients to this joint L2 norm at most; 0 disables.", ge=0)
    beta: float = field(1.0, "Weight of the KL term (rate) against the reconstruction term (distortion): 1 is the "
                             "VAE's ELBO, > 1 the beta-VAE (Higgins et al. 2017).", ge=0)
    kl_warmup: float = field(0.0, "KL annealing: share of the training steps over which the KL weight rises "
                                  "linearly from 0 to beta (0: beta from the first step).", ge=0, le=1)
    binarize: bool = field(True, "Dynamically binarise inputs in [0, 1]: each training batch drawn afresh as "
                                 "Bernoulli(pixel), the test set once with a fixed seed (the MNIST likelihood "
                                 "benchmark). Off: train and test on the grey values.")
    eval_batch_size: int = field(1000, "Examples per forward pass when evaluating.", ge=1)
    nll_samples: int = field(100, "Importance samples per test example for the test/nll that the run's last "
                                  "evaluation reports (`neuralab eval --nll` uses --samples, default 5000); 0: none.",
                             ge=0)
    grid: int = field(64, "Images in the sample grid each evaluation writes to RUN_DIR/samples.", ge=1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) per example (B,): 1/2 sum(sigma^2 + mu^2 - 1 - log sigma^2)."""
    return 0.5 * (logvar.exp() + mu.pow(2) - 1 - logvar).sum(1)


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) of independent Bernoulli features, summed over the last axis; `x` (broadcast against the
    logits) may hold grey values in [0, 1], for which this is the negative binary cross-entropy."""
    logits, x = torch.broadcast_tensors(logits, x)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(x | mean, diag(std^2)) summed over the last axis."""
    return (-0.5 * ((x - mean) / std).pow(2) - std.log() - 0.5 * LOG_2PI).sum(-1)


def diagonal_normal_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z | mu, diag(exp(logvar))) summed over the last axis."""
    return (-0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI)).sum(-1)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z | 0, I), the prior p(z), summed over the last axis."""
    return (-0.5 * (z.pow(2) + LOG_2PI)).sum(-1)


def kl_weight(step: int, total_steps: int, warmup: float, beta: float) -> float:
    """The KL weight at training step `step` (0-based): rising linearly from 0 over the first `warmup` share of
    `total_steps`, then `beta`."""
    ramp = warmup * total_steps
    return beta if ramp <= 0 else beta * min(1.0, step / ramp)


def binarized_test_set(x: torch.Tensor) -> torch.Tensor:
    """`x` (values in [0, 1]) drawn once as Bernoulli(x) with the fixed test seed."""
    g = torch.Generator(device=x.device).manual_seed(TEST_BINARIZE_SEED)
    return torch.bernoulli(x, generator=g)


def _log_likelihood(model: nn.Module, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x|z) (over the last axis) for the decoder's outputs `out` and flat inputs `x` broadcast against them."""
    if model.cfg.likelihood == "bernoulli":
        return bernoulli_log_prob(out, x)
    return gaussian_log_prob(x, out, model.std())


@torch.no_grad()
def importance_log_likelihood(model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None, samples: int,
                              generator: torch.Generator) -> torch.Tensor:
    """log p(x) per example (B,) estimated as log (1/k) sum_k p(x|z_k) p(z_k) / q(z_k|x) with k = `samples` draws
    z_k ~ q(z|x) (Burda et al. 2016); at most SAMPLE_BLOCK (example, sample) pairs are decoded at once, so memory
    stays bounded for any k. `x` is flat (B, F); a conditional model gives log p(x|label)."""
    mu, logvar = model.encode(x, labels)
    per_example = max(1, SAMPLE_BLOCK // samples)  # examples per block when all their samples fit at once
    chunk = min(samples, SAMPLE_BLOCK)
    results = []
    for i in range(0, len(x), per_example):
        xb, mb, lb = x[i:i + per_example, None], mu[i:i + per_example, None], logvar[i:i + per_example, None]
        yb = None if labels is None else labels[i:i + per_example]
        parts = []
        for j in range(0, samples, chunk):
            c = min(chunk, samples - j)
            eps = torch.randn((len(xb), c, mu.shape[1]), generator=generator, device=x.device, dtype=x.dtype)
            z = mb + (0.5 * lb).exp() * eps  # (b, c, Z)
            flat_y = None if yb is None else yb.repeat_interleave(c)
            out = model.decode(z.flatten(0, 1), flat_y).view(len(xb), c, -1)
            log_w = _log_likelihood(model, out, xb) + standard_normal_log_prob(z) - diagonal_normal_log_prob(z, mb, lb)
            parts.append(torch.logsumexp(log_w, dim=1))
        results.append(torch.logsumexp(torch.stack(parts, 1), dim=1) - math.log(samples))
    return torch.cat(results)


@register_method("elbo", config=ELBOConfig)
class ELBO(Method):
    """Trains a `vae` model by stochastic gradient ascent on the (beta-weighted) ELBO."""

    def __init__(self, cfg: ELBOConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.plain = model.module if ctx.procs is not None else model  # encode/decode outside DDP's forward
        if not hasattr(self.plain, "encode") or not hasattr(self.plain, "decode"):
            raise UserError(f"method elbo trains a variational autoencoder; {type(self.plain).__name__} has no "
                            "encoder and decoder (use model vae)")
        if cfg.binarize:
            low, high = float(data.x_train.min()), float(data.x_train.max())
            if low < 0 or high > 1:
                raise UserError(f"--method.binarize: inputs must lie in [0, 1] to be drawn as Bernoulli pixels, "
                                f"these span [{low:.3g}, {high:.3g}]; use --data.normalize scale")
        self.conditional = self.plain.cfg.num_classes > 0
        self.optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr, weight_decay=cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.steps = 0
        self._test: tuple[torch.Tensor, torch.Tensor] | None = None  # the (binarised) test split, made once

    # -- training ---------------------------------------------------------------------------------------------------
    def _terms(self, x: torch.Tensor, y: torch.Tensor, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """(-log p(x|z), KL) per example (B,), (B,) for one reparameterised z per example."""
        parts = model(x, y if self.conditional else None, parts=True)
        return -_log_likelihood(self.plain, parts.out, x.flatten(1)), gaussian_kl(parts.mu, parts.logvar)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        if self.cfg.binarize:
            x = torch.bernoulli(x)  # dynamic binarisation, from the global generator the engine checkpoints
        weight = kl_weight(self.steps, self.ctx.total_steps, self.cfg.kl_warmup, self.cfg.beta)
        self.model.train()
        with self.ctx.autocast():
            rec, kl = self._terms(x, y, self.model)
            rec, kl = rec.float().mean(), kl.float().mean()
        descend(rec + weight * kl, self.optimizer, list(self.model.parameters()), self.cfg.clip_grad_norm,
                self.schedule)
        self.steps += 1
        return {"train/loss": (rec + weight * kl).detach(), "train/rec": rec.detach(), "train/kl": kl.detach(),
                "train/neg_elbo": (rec + kl).detach(), "train/kl_weight": weight}

    # -- evaluation -------------------------------------------------------------------------------------------------
    def _split(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """A split's inputs (binarised once with the fixed seed when `binarize`) and labels."""
        if name == "test" and self._test is not None:
            return self._test
        split = self.data.split(name)
        if split is None:
            return None
        x, y = split
        x = binarized_test_set(x) if self.cfg.binarize else x
        if name == "test":
            self._test = (x, y)
        return x, y

    @torch.no_grad()
    def _bound(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Mean -ELBO, distortion and rate (nats per example, one z per example from a seeded generator) and the
        number of active latent units on (x, y)."""
        g = torch.Generator(device=self.ctx.device).manual_seed(self.ctx.seed)
        rec_sum = kl_sum = 0.0
        means = []
        self.plain.eval()
        for i in range(0, len(x), self.cfg.eval_batch_size):
            xb, yb = x[i:i + self.cfg.eval_batch_size].flatten(1), y[i:i + self.cfg.eval_batch_size]
            labels = yb if self.conditional else None
            mu, logvar = self.plain.encode(xb, labels)
            z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g, device=mu.device, dtype=mu.dtype)
            rec_sum += float(-_log_likelihood(self.plain, self.plain.decode(z, labels), xb).sum())
            kl_sum += float(gaussian_kl(mu, logvar).sum())
            means.append(mu)
        mu = torch.cat(means)
        active = int((mu.var(0) > ACTIVE_VARIANCE).sum()) if len(mu) > 1 else 0
        n = len(x)
        return {"neg_elbo": (rec_sum + kl_sum) / n, "rec": rec_sum / n, "kl": kl_sum / n, "active_units": active}

    def nll(self, samples: int) -> float:
        """The test set's mean negative log-likelihood (nats per example) from `samples` importance samples, with a
        seeded generator (the global one, which the engine checkpoints, is not touched)."""
        x, y = self._split("test")
        g = torch.Generator(device=self.ctx.device).manual_seed(self.ctx.seed + 1)
        self.plain.eval()
        total = 0.0
        for i in range(0, len(x), self.cfg.eval_batch_size):
            xb, yb = x[i:i + self.cfg.eval_batch_size].flatten(1), y[i:i + self.cfg.eval_batch_size]
            total += float(importance_log_likelihood(self.plain, xb, yb if self.conditional else None, samples,
                                                     g).sum())
        return -total / len(x)

    def evaluate(self) -> dict[str, Any]:
        metrics = {}
        for name in ("val", "test"):
            split = self._split(name)
            if split is not None:
                metrics.update({f"{name}/{k}": v for k, v in self._bound(*split).items()})
        if self.cfg.nll_samples and self.steps >= self.ctx.total_steps:  # the run's last evaluation
            metrics["test/nll"] = self.nll(self.cfg.nll_samples)
        if self._images():
            self.ctx.write_samples(self.steps, self.draw(self.cfg.grid))
        return metrics

    def log_likelihood(self, samples: int) -> dict[str, float]:
        bound = self._bound(*self._split("test"))
        return {"test/nll": self.nll(samples), "test/neg_elbo": bound["neg_elbo"]}

    # -- drawing ----------------------------------------------------------------------------------------------------
    def _images(self) -> bool:
        """Whether the inputs are images (C, H, W), which can be drawn."""
        return len(self.data.meta.input_shape) == 3

    def _image_shape(self) -> tuple[int, ...]:
        shape = tuple(self.data.meta.input_shape)
        if not self._images():
            raise UserError(f"this run's inputs are rows of {math.prod(shape)} features, not images, so there is "
                            "nothing to draw as a picture")
        return shape

    def _labels(self, n: int, label: int | None, columns: int) -> torch.Tensor | None:
        """The class of each drawn image: `label` for all, else the classes in turn along each row (unconditional
        models: None); a label the run cannot draw is refused in one line."""
        k = self.plain.cfg.num_classes
        if not self.conditional:
            if label is not None:
                raise UserError(f"--label {label}: this VAE is unconditional (model num_classes 0) and cannot draw a "
                                "chosen class; train a conditional one, e.g. cvae-mnist")
            return None
        if label is not None and not 0 <= label < k:
            raise UserError(f"--label {label}: this conditional VAE draws classes 0 to {k - 1}")
        if label is not None:
            return torch.full((n,), label, dtype=torch.long, device=self.ctx.device)
        return torch.arange(n, device=self.ctx.device) % columns % k

    @torch.no_grad()
    def decode_images(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """E[x|z] as images (N, C, H, W) clamped to [0, 1]."""
        self.plain.eval()
        return self.plain.mean(self.plain.decode(z, labels)).clamp(0, 1).view(len(z), *self._image_shape())

    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        """`n` images decoded from z ~ N(0, I) (their means E[x|z], as VAE papers show them); with `interpolate`,
        rows that walk in equal steps from one draw of z to another. A conditional model draws `label`, or else
        class c in column c (each row 0, 1, ..., K-1)."""
        self._image_shape()
        g = torch.Generator(device=self.ctx.device).manual_seed(seed)
        latent, k = self.plain.cfg.latent, self.plain.cfg.num_classes
        if interpolate:
            columns = min(n, 8) if n > 1 else 2
            rows = max(1, n // columns)
            ends = torch.randn((rows, 2, latent), generator=g, device=self.ctx.device)
            t = torch.linspace(0, 1, columns, device=self.ctx.device)[None, :, None]
            z = (ends[:, :1] * (1 - t) + ends[:, 1:] * t).flatten(0, 1)
            labels = self._labels(len(z), label, columns)
            if labels is not None and label is None:  # one class per row, so the row shows one digit changing
                labels = torch.arange(rows, device=self.ctx.device).repeat_interleave(columns) % k
            notes = [] if rows * columns == n else [f"drew {rows} rows of {columns} steps ({rows * columns} images)"]
            return Drawn(self.decode_images(z, labels), columns, notes)
        columns = k if self.conditional and label is None else min(n, 8)
        z = torch.randn((n, latent), generator=g, device=self.ctx.device)
        return Drawn(self.decode_images(z, self._labels(n, label, columns)), columns, [])

    # -- pictures ---------------------------------------------------------------------------------------------------
    def plot(self, plots_dir: Path) -> list[Path]:
        """Reconstructions of test digits (rows of digits, each followed by their reconstructions), interpolations
        between the codes of test digits and a latent traversal of the most active units, as image grids."""
        from neuralab.viz.grid import save_grid

        if not self._images():
            return []
        x, y = self._split("test")
        x, y = x[:512], y[:512]
        labels = y if self.conditional else None
        self.plain.eval()
        with torch.no_grad():
            mu, _ = self.plain.encode(x.flatten(1), labels)
        paths = []
        recon = self.decode_images(mu[:16], None if labels is None else y[:16])
        pairs_of_rows = [part for i in (0, 8) for part in (x[i:i + 8], recon[i:i + 8])]  # digits, then theirs
        paths.append(save_grid(torch.cat(pairs_of_rows), plots_dir / "reconstructions.png", nrow=8, scale=SCALE))
        # Interpolations between the codes of pairs of test digits of different classes, one pair a row.
        firsts = [int((y == c).nonzero()[0]) for c in range(10) if (y == c).any()]
        pairs = list(zip(firsts, firsts[1:] + firsts[:1], strict=True))[:8]
        t = torch.linspace(0, 1, 10, device=mu.device)[None, :, None]
        a, b = mu[[p[0] for p in pairs]][:, None], mu[[p[1] for p in pairs]][:, None]
        z = (a * (1 - t) + b * t).flatten(0, 1)
        row_labels = None
        if self.conditional:  # the label of the row's first digit throughout
            row_labels = y[[p[0] for p in pairs]].repeat_interleave(10)
        paths.append(save_grid(self.decode_images(z, row_labels), plots_dir / "interpolation.png", nrow=10,
                               scale=SCALE))
        # Latent traversal: the 8 units whose posterior means vary most over the data, each from -3 to 3 with the
        # others at a test digit's code.
        units = mu.var(0).argsort(descending=True)[:8]
        steps = torch.linspace(-3, 3, 11, device=mu.device)
        z = mu[:1].repeat(len(units) * len(steps), 1)
        for r, u in enumerate(units):
            z[r * len(steps):(r + 1) * len(steps), u] = steps
        traversal_labels = None if labels is None else y[:1].repeat(len(z))
        paths.append(save_grid(self.decode_images(z, traversal_labels), plots_dir / "traversal.png",
                               nrow=len(steps), scale=SCALE))
        return paths

    # -- state ------------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"model": self.plain.state_dict(), "optimizer": self.optimizer.state_dict(), "steps": self.steps}
        if self.schedule is not None:
            state["schedule"] = self.schedule.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.plain.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.steps = int(state["steps"])


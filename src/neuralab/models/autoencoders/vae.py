"""Variational autoencoder (Kingma and Welling, "Auto-encoding variational Bayes", 2014), with the conditional
variant of Sohn, Lee and Yan, "Learning structured output representation using deep conditional generative
models", 2015 (curriculum G3; notes 002 sections 4.9-4.10).

An MLP encoder maps an input to the mean and log-variance of a diagonal Gaussian q(z|x) = N(mu, diag(sigma^2)); a
sample z = mu + sigma * eps, eps ~ N(0, I) (the reparameterisation, so gradients flow through mu and sigma) is decoded
by a mirrored MLP into the parameters of p(x|z): Bernoulli logits, or a Gaussian mean with a standard deviation that
is fixed or learned per feature. With `num_classes` > 0 the label, one-hot, is concatenated to the encoder's input and
to the decoder's latent code, so the decoder draws a requested class. The losses live in `neuralab.methods.elbo`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.nn.activations import make
from neuralab.registry import register_model

LIKELIHOODS = ("bernoulli", "gaussian")
MIN_LOG_STD = math.log(1e-3)  # a learned Gaussian std stays >= 1e-3: constant pixels (MNIST's border) would
# otherwise shrink it without bound and the density with it


@dataclass(frozen=True)
class VAEConfig:
    in_features: int = field(784, "Inputs per example (images are flattened); set from the data.", ge=1)
    hidden: tuple[int, ...] = field((512, 256), "Units of the encoder's hidden layers, e.g. 512,256; the decoder "
                                                "mirrors them (256,512).")
    latent: int = field(32, "Dimensions of the latent code z.", ge=1)
    num_classes: int = field(0, "Conditional VAE (Sohn et al. 2015) when > 0: the one-hot label joins the encoder's "
                                "input and the decoder's code; set from the data. 0: unconditional.", ge=0)
    activation: str = field("relu", "Hidden-layer activation of encoder and decoder.",
                            choices=("relu", "tanh", "elu", "leaky_relu", "swish"))
    likelihood: str = field("bernoulli", "p(x|z): bernoulli (the decoder gives logits; binary or [0, 1] data) or "
                                         "gaussian (the decoder gives the mean).", choices=LIKELIHOODS)
    gaussian_std: float = field(0.0, "Gaussian likelihood only: the decoder's fixed standard deviation; 0 learns "
                                     "one per feature (at least 1e-3).", ge=0)


class VAEOutput(NamedTuple):
    """One pass through the VAE: the decoder's output (Bernoulli logits or Gaussian mean) (B, F), the posterior's mean
    and log-variance (B, Z), and the code z that was decoded (B, Z)."""

    out: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers of `sizes` with the activation between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(make(activation))
    return nn.Sequential(*layers)


def _example(cfg: VAEConfig) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(3, cfg.in_features)
    return (x, torch.arange(3) % cfg.num_classes) if cfg.num_classes else x


@register_model("vae", family="vae", config=VAEConfig, sizing=sizing.conditional_flat_inputs, example_input=_example,
                paper="Kingma, Welling 2014, Auto-encoding variational Bayes; conditional: Sohn, Lee, Yan 2015, "
                      "Learning structured output representation using deep conditional generative models")
class VAE(nn.Module):
    """(B, ...) [+ labels (B,)] -> flatten -> encoder -> (mu, logvar) (B, Z) -> z -> decoder -> (B, F).

    `forward` returns the decoder's output for a code drawn from q(z|x) in training mode (from the global generator)
    and for z = mu in evaluation mode; with `parts=True` it returns the whole `VAEOutput` the ELBO needs.
    """

    output_fields = ("in_features",)  # the reconstruction has one value per input feature

    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        self.cfg = cfg
        k = cfg.num_classes
        self.encoder = _mlp([cfg.in_features + k, *cfg.hidden, 2 * cfg.latent], cfg.activation)
        self.decoder = _mlp([cfg.latent + k, *reversed(cfg.hidden), cfg.in_features], cfg.activation)
        learned_std = cfg.likelihood == "gaussian" and not cfg.gaussian_std
        self.log_std = nn.Parameter(torch.zeros(cfg.in_features)) if learned_std else None

    def _with_labels(self, h: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.cfg.num_classes:
            return h
        if labels is None:
            raise ValueError("a conditional VAE (num_classes > 0) needs the labels")
        return torch.cat([h, F.one_hot(labels, self.cfg.num_classes).to(h.dtype)], dim=1)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (B, Z), (B, Z) of q(z|x[, label])."""
        h = self.encoder(self._with_labels(x.flatten(1), labels))
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's output (B, F) for codes z (B, Z): Bernoulli logits or the Gaussian mean."""
        return self.decoder(self._with_labels(z, labels))

    def std(self) -> torch.Tensor:
        """The Gaussian likelihood's standard deviation per feature (F,), fixed or learned."""
        if self.log_std is None:
            return self.decoder[-1].bias.new_full((self.cfg.in_features,), self.cfg.gaussian_std or 1.0)
        return self.log_std.clamp_min(MIN_LOG_STD).exp()

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x|z] from the decoder's output: sigmoid of the logits, or the Gaussian mean itself."""
        return torch.sigmoid(out) if self.cfg.likelihood == "bernoulli" else out

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, *,
                parts: bool = False) -> torch.Tensor | VAEOutput:
        if math.prod(x.shape[1:]) != self.cfg.in_features:
            raise ValueError(f"VAE expects {self.cfg.in_features} inputs per example, got {tuple(x.shape[1:])}")
        mu, logvar = self.encode(x, labels)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if self.training else mu  # reparameterisation
        out = self.decode(z, labels)
        return VAEOutput(out, mu, logvar, z) if parts else out

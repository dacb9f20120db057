"""Generative adversarial nets with fully connected players (Goodfellow et al., "Generative adversarial nets",
2014), conditional on a class label when asked (Mirza and Osindero, "Conditional generative adversarial nets",
2014; notes 002 section 4.11).

One module holds both players: `generator` maps a latent code z (B, latent_dim) to a data point (B, in_features)
and `discriminator` maps a data point to one logit (B,) (D(x) = sigmoid(logit), or a critic's score for WGAN-GP).
`forward(z[, y])` is the generator, so sampling, export and the contract tests see a generator. With
`conditional`, a learnt embedding of the label y (B,) is concatenated to the generator's latent code and to the
discriminator's input, so both players see which class is meant (Mirza and Osindero fed the one-hot label through a
linear layer, which is what an embedding is). The `adversarial` method trains both players.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model

OUTPUTS = {"tanh": nn.Tanh, "linear": nn.Identity}


@dataclass(frozen=True)
class MLPGANConfig:
    in_features: int = field(784, "Values per data point (an image's pixels, flattened); set from the data.", ge=1)
    num_classes: int = field(10, "Classes a conditional GAN can be asked for; set from the data.", ge=1)
    conditional: bool = field(False, "Give both players the class label (conditional GAN); sampling then takes a "
                                     "label.")
    latent_dim: int = field(64, "Size of the latent code z ~ N(0, I) the generator maps to a data point.", ge=1)
    g_hidden: tuple[int, ...] = field((256, 256), "Units of the generator's hidden layers (ReLU).", nonempty=True)
    d_hidden: tuple[int, ...] = field((256, 256), "Units of the discriminator's hidden layers (LeakyReLU 0.2).",
                                      nonempty=True)
    output: str = field("tanh", "Generator output: tanh (pixels mapped to [-1, 1]) or linear (unbounded points).",
                        choices=tuple(OUTPUTS))
    label_dim: int = field(16, "Width of the learnt label embedding each player gets when conditional.", ge=1)
    g_batch_norm: bool = field(False, "Batch-normalise the generator's hidden layers (Radford et al. 2016's advice, "
                                      "which keeps a fully connected generator from collapsing on MNIST).")


def _stack(width: int, hidden: tuple[int, ...], out: int, activation: type[nn.Module], batch_norm: bool = False,
           **kwargs) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(width, h), *([nn.BatchNorm1d(h)] if batch_norm else []), activation(**kwargs)]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, out))


class _Generator(nn.Module):
    def __init__(self, cfg: MLPGANConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.num_classes, cfg.label_dim) if cfg.conditional else None
        width = cfg.latent_dim + (cfg.label_dim if cfg.conditional else 0)
        self.net = nn.Sequential(_stack(width, cfg.g_hidden, cfg.in_features, nn.ReLU, cfg.g_batch_norm),
                                 OUTPUTS[cfg.output]())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z if self.embed is None else torch.cat([z, self.embed(y)], 1))  # (B, in_features)


class _Discriminator(nn.Module):
    def __init__(self, cfg: MLPGANConfig) -> None:
        super().__init__()
        self.embed = nn.Embedding(cfg.num_classes, cfg.label_dim) if cfg.conditional else None
        width = cfg.in_features + (cfg.label_dim if cfg.conditional else 0)
        self.net = _stack(width, cfg.d_hidden, 1, nn.LeakyReLU, negative_slope=0.2)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = x.flatten(1)
        return self.net(x if self.embed is None else torch.cat([x, self.embed(y)], 1)).squeeze(1)  # (B,) logits


def _example(cfg: MLPGANConfig) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(3, cfg.latent_dim)
    return (z, torch.arange(3) % cfg.num_classes) if cfg.conditional else z


@register_model("mlp-gan", family="gan", config=MLPGANConfig, sizing=sizing.flat_inputs, example_input=_example,
                paper="Goodfellow et al. 2014, Generative adversarial nets; Mirza and Osindero 2014, Conditional "
                      "generative adversarial nets")
class MLPGAN(nn.Module):
    """z (B, latent_dim) [, y (B,)] -> generator -> (B, in_features); `discriminate(x[, y])` -> (B,) logits."""

    latent_input = True  # the input is a latent code: the data's shape sizes the output, not the input
    output_fields = ("in_features",)

    def __init__(self, cfg: MLPGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.conditional, self.num_classes = cfg.latent_dim, cfg.conditional, cfg.num_classes
        self.generator = _Generator(cfg)
        self.discriminator = _Discriminator(cfg)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator(z, y)

    def discriminate(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The discriminator's logit (B,) for data points or images x (B, ...) [of class y]."""
        return self.discriminator(x, y)

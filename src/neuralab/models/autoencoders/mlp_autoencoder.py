"""Fully connected autoencoder (Hinton and Salakhutdinov, "Reducing the dimensionality of data with neural
networks", 2006; notes 002 section 4.1): an encoder maps the input to a code, a mirrored decoder maps the
code back to a reconstruction of the input.

Widths in_features -> hidden... -> code -> ...reversed hidden -> in_features. Decoder layer i mirrors encoder
layer i (it maps that layer's output back to its input), which is what tied weights (W2 = W1^T, each decoder
layer using the transpose of its mirror's weight and a bias of its own) and greedy layer-wise stacking
(Bengio et al. 2007: train encoder layer i with its mirror as a one-layer autoencoder) pair up. With
`linear` every activation is the identity: such a network trained on squared error spans the same subspace
as the first `code` principal components (Baldi and Hornik 1989), though its weights need not be orthogonal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.nn.activations import ACTIVATIONS, make
from neuralab.registry import register_model

# Activations that keep a layer's width (maxout halves it) and act element-wise.
UNIT_ACTIVATIONS = tuple(a for a in ACTIVATIONS if a != "maxout")
OUTPUTS = ("sigmoid", "identity")


@dataclass(frozen=True)
class MLPAutoencoderConfig:
    in_features: int = field(784, "Inputs per example (images are flattened); set from the data.", ge=1)
    hidden: tuple[int, ...] = field((256,), "Widths of the encoder's hidden layers, input side first (the decoder "
                                            "mirrors them); empty: one layer from the input to the code.", ge=1)
    code: int = field(32, "Units of the code (the bottleneck); fewer than in_features makes it undercomplete.", ge=1)
    activation: str = field("relu", "Activation of every hidden layer, in the encoder and the decoder.",
                            choices=UNIT_ACTIVATIONS)
    code_activation: str = field("identity", "Activation of the code units (sigmoid: codes in (0, 1), which the "
                                             "KL sparsity target needs).", choices=UNIT_ACTIVATIONS)
    output: str = field("sigmoid", "Activation of the reconstruction: sigmoid (values in (0, 1), for pixels scaled "
                                   "to [0, 1] and the bce loss) or identity (any value, for mse).", choices=OUTPUTS)
    tied: bool = field(False, "Tied weights: every decoder layer multiplies by the transpose of its mirror encoder "
                              "layer's weight (W2 = W1^T) and adds a bias of its own.")
    linear: bool = field(False, "A linear autoencoder: every activation (hidden, code and output) is the identity.")


@register_model("mlp_autoencoder", family="autoencoder", config=MLPAutoencoderConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.rand(3, c.in_features),
                paper="Hinton, Salakhutdinov 2006, Reducing the dimensionality of data with neural networks")
class MLPAutoencoder(nn.Module):
    """(B, ...) -> flatten -> encoder -> code (B, code) -> decoder -> reconstruction shaped like the input."""

    output_fields = ("in_features",)  # the flat output's width is the input's

    def __init__(self, cfg: MLPAutoencoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = [cfg.in_features, *cfg.hidden, cfg.code]
        self.depth = len(widths) - 1
        act = "identity" if cfg.linear else cfg.activation
        self.encoder = nn.ModuleList(nn.Linear(widths[i], widths[i + 1]) for i in range(self.depth))
        code_act = "identity" if cfg.linear else cfg.code_activation
        self.encoder_acts = nn.ModuleList(make(code_act if i == self.depth - 1 else act) for i in range(self.depth))
        if cfg.tied:  # only biases: the weights are the encoder's, transposed
            self.decoder_bias = nn.ParameterList(nn.Parameter(torch.zeros(widths[i])) for i in range(self.depth))
        else:
            self.decoder = nn.ModuleList(nn.Linear(widths[i + 1], widths[i]) for i in range(self.depth))
        # Decoder layers 1.. end in the hidden activation; layer 0 in the output's.
        self.decoder_acts = nn.ModuleList(make(act) for _ in range(1, self.depth))
        self.output = "identity" if cfg.linear else cfg.output

    def decoder_weight(self, i: int) -> torch.Tensor:
        """The weight (widths[i], widths[i + 1]) of decoder layer i: encoder layer i's, transposed, when tied."""
        return self.encoder[i].weight.t() if self.cfg.tied else self.decoder[i].weight

    def encode_layer(self, h: torch.Tensor, i: int) -> torch.Tensor:
        """Encoder layer i on its input (B, widths[i]) -> (B, widths[i + 1])."""
        return self.encoder_acts[i](self.encoder[i](h))

    def decode_layer(self, h: torch.Tensor, i: int, logits: bool = False) -> torch.Tensor:
        """Decoder layer i, the mirror of encoder layer i: (B, widths[i + 1]) -> (B, widths[i]). Layer 0 gives the
        reconstruction, before the output sigmoid when `logits`."""
        bias = self.decoder_bias[i] if self.cfg.tied else self.decoder[i].bias
        h = F.linear(h, self.decoder_weight(i), bias)
        if i > 0:
            return self.decoder_acts[i - 1](h)
        return torch.sigmoid(h) if self.output == "sigmoid" and not logits else h

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (B, ...) -> codes (B, code)."""
        if math.prod(x.shape[1:]) != self.cfg.in_features:
            raise ValueError(f"the autoencoder expects {self.cfg.in_features} inputs per example, got "
                             f"{tuple(x.shape[1:])}")
        h = x.flatten(1)
        for i in range(self.depth):
            h = self.encode_layer(h, i)
        return h

    def decode(self, z: torch.Tensor, logits: bool = False) -> torch.Tensor:
        """Codes (B, code) -> flat reconstructions (B, in_features), as logits when `logits` and the output is a
        sigmoid."""
        for i in reversed(range(self.depth)):
            z = self.decode_layer(z, i, logits)
        return z

    def forward(self, x: torch.Tensor, logits: bool = False, return_code: bool = False):
        """The reconstruction of `x`, shaped like it (logits of a sigmoid output when `logits`); with `return_code`
        the pair (reconstruction, code)."""
        code = self.encode(x)
        out = self.decode(code, logits).view_as(x)
        return (out, code) if return_code else out

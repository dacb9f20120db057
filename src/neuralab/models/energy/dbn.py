"""Deep belief network (Hinton, Osindero and Teh, "A fast learning algorithm for deep belief nets", 2006; fine-tuned
by backpropagation as in Hinton and Salakhutdinov, "Reducing the dimensionality of data with neural networks", 2006)
(curriculum E7, notes 002 section 4.8).

Two networks over the same layer sizes, e.g. 784-500-500-2000 with 10 classes:

- the generative model, a stack of RBMs (`rbms`, trained greedily by contrastive divergence): RBM l models the
  hidden probabilities of RBM l - 1; the top one is the associative memory, whose visible layer is the
  penultimate layer joined with one softmax unit per class, so it models (features, label) jointly and a clamped
  label generates its class;
- the classifier (`layers` and `head`): the deterministic up-pass of sigmoid layers followed by a softmax, logits
  (B, num_classes). `init_classifier_from_rbms` copies the RBMs' weights and hidden biases into it (the top RBM's
  feature rows into the last sigmoid layer, its label rows and label biases into the softmax, which then computes
  P(label | top hidden units) of the associative memory), so pre-training initialises it.

Hinton et al. untie the recognition (upward) weights from the generative (downward) ones once the greedy stage is
done; here backpropagation fine-tunes the classifier's copy while the RBMs, which generate, keep their pre-trained
weights. The RBMs' parameters have `requires_grad` off: contrastive divergence writes their `.grad` by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.models.energy.rbm import RBM, RBMConfig
from neuralab.registry import register_model


@dataclass(frozen=True)
class DBNConfig:
    in_features: int = field(784, "Visible units (images are flattened, pixels in [0, 1]); set from the data.", ge=1)
    hidden: tuple[int, ...] = field((500, 500, 2000), "Units of each hidden layer, bottom to top, e.g. 500,500,2000 "
                                                      "(Hinton et al. 2006); the last is the associative memory's.",
                                    ge=1, nonempty=True)
    num_classes: int = field(10, "Label units of the associative memory and outputs of the softmax; set from the "
                                 "data.", ge=2)
    init_std: float = field(0.01, "Standard deviation of the RBMs' initial weights (Hinton's practical guide); the "
                                  "classifier starts from torch's default initialisation until pre-training "
                                  "overwrites it.", gt=0)
    dropout: float = field(0.0, "Probability of dropping each hidden unit of the classifier while fine-tuning "
                                "(inverted dropout; Hinton et al. 2012); 0 disables.", ge=0, le=0.9)


@register_model("dbn", family="energy", config=DBNConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.rand(3, c.in_features),
                paper="Hinton, Osindero, Teh 2006, A fast learning algorithm for deep belief nets")
class DBN(nn.Module):
    """(B, ...) -> flatten -> [Linear -> sigmoid] * len(hidden) -> Linear -> logits (B, K); beside it the RBM stack."""

    def __init__(self, cfg: DBNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        sizes = (cfg.in_features, *cfg.hidden)
        visible = [*sizes[:-2], sizes[-2] + cfg.num_classes]  # the top RBM also sees the labels
        self.rbms = nn.ModuleList(RBM(RBMConfig(v, h, init_std=cfg.init_std))
                                  for v, h in zip(visible, sizes[1:], strict=True))
        for p in self.rbms.parameters():
            p.requires_grad_(False)  # learnt by contrastive divergence, never by backpropagation
        self.layers = nn.ModuleList(nn.Linear(v, h) for v, h in zip(sizes[:-1], sizes[1:], strict=True))
        self.head = nn.Linear(sizes[-1], cfg.num_classes)
        self.drop = nn.Dropout(cfg.dropout)

    @property
    def top(self) -> RBM:
        """The associative memory: visible = (penultimate features, one-hot label), hidden = the top layer."""
        return self.rbms[-1]

    @property
    def features(self) -> int:
        """Feature units of the top RBM's visible layer (its label units follow them)."""
        return self.top.cfg.in_features - self.cfg.num_classes

    def up(self, v: torch.Tensor, layers: int) -> torch.Tensor:
        """The generative stack's deterministic up-pass of flat inputs (B, V) through the first `layers` lower RBMs:
        hidden probabilities of hidden probabilities, what the next RBM is trained on."""
        for rbm in self.rbms[:layers]:
            v = rbm.hidden_probs(v)
        return v

    def sample_top_visible(self, h: torch.Tensor, generator: torch.Generator | None = None,
                           label: torch.Tensor | None = None) -> torch.Tensor:
        """(features, label) ~ P(v | h) of the associative memory, (B, H) -> (B, F + K): Bernoulli feature units and
        one softmax group of label units (one-hot), or the label units clamped to `label` (B, K)."""
        top, f = self.top, self.features
        pre = h @ top.weight.T + top.visible_bias  # (B, F + K)
        features = torch.bernoulli(torch.sigmoid(pre[:, :f]), generator=generator)
        if label is None:
            drawn = torch.multinomial(pre[:, f:].softmax(1), 1, generator=generator).squeeze(1)
            label = nn.functional.one_hot(drawn, self.cfg.num_classes).to(pre.dtype)
        return torch.cat([features, label], 1)

    def top_gibbs(self, v: torch.Tensor, k: int, generator: torch.Generator | None = None,
                  label: torch.Tensor | None = None) -> torch.Tensor:
        """The associative memory's visible state (B, F + K) after `k` block Gibbs steps from `v`, the label units
        sampled (contrastive divergence's negative phase) or clamped to `label` (B, K) (generation)."""
        for _ in range(k):
            v = self.sample_top_visible(self.top.sample_hidden(v, generator), generator, label)
        return v

    @torch.no_grad()
    def generate(self, label: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Images (N, V) of pixel probabilities for label units clamped to `label` (N, K) (one-hot, or a mixture to
        walk between classes): `steps` Gibbs steps in the associative memory from all-off features, then one
        stochastic down-pass through the lower RBMs' generative weights, the bottom layer's probabilities shown
        (Hinton et al. 2006, section 7)."""
        v = torch.cat([label.new_zeros(len(label), self.features), label], 1)
        h = self.top_gibbs(v, steps, generator, label)[:, :self.features]
        for depth, rbm in enumerate(reversed(self.rbms[:-1])):
            bottom = depth == len(self.rbms) - 2
            h = rbm.visible_mean(h) if bottom else rbm.sample_visible(h, generator)
        return h

    @torch.no_grad()
    def init_classifier_from_rbms(self) -> None:
        """Copy the pre-trained RBMs into the classifier: each sigmoid layer computes its RBM's P(h | v) (the top RBM
        with its label units at zero) and the softmax computes the associative memory's P(label | h)."""
        for layer, rbm in zip(self.layers, self.rbms, strict=True):
            layer.weight.copy_(rbm.weight[:layer.in_features].T)
            layer.bias.copy_(rbm.hidden_bias)
        self.head.weight.copy_(self.top.weight[self.features:])  # (K, H)
        self.head.bias.copy_(self.top.visible_bias[self.features:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.flatten(1)
        for layer in self.layers:
            h = self.drop(torch.sigmoid(layer(h)))
        return self.head(h)

"""Explicit regularisers of a supervised update (curriculum F11; notes 002 section 2.10): L1, L2 and
elastic-net penalties on the loss, max-norm projection after the update (Srivastava et al., "Dropout: a
simple way to prevent neural networks from overfitting", 2014), and gradient clipping by norm or value
(Pascanu, Mikolov, Bengio, "On the difficulty of training recurrent neural networks", 2013).

"Weights" are the parameters with two or more dimensions (Linear and Conv kernels): biases and the
1-D scale/shift of batch norm are left unpenalised, as the notes advise (L1275).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn


def weights(model: nn.Module) -> Iterator[torch.nn.Parameter]:
    """Every trainable weight matrix or kernel of `model` (biases, norm parameters and frozen weights excluded:
    a penalty on a frozen weight is a constant, and max-norm must not move it)."""
    return (p for p in model.parameters() if p.dim() > 1 and p.requires_grad)


def weight_penalty(model: nn.Module, l1: float, l2: float) -> torch.Tensor:
    """Elastic-net penalty l1 * sum|w| + l2/2 * sum w^2 over the weights; its gradient is l1*sign(w) + l2*w."""
    total = torch.zeros((), device=next(model.parameters()).device)
    for w in weights(model):
        if l1:
            total = total + l1 * w.abs().sum()
        if l2:
            total = total + 0.5 * l2 * w.pow(2).sum()
    return total


@torch.no_grad()
def max_norm_(model: nn.Module, c: float) -> None:
    """Project each unit's incoming weight vector (a row of a Linear weight, one output channel of a kernel)
    onto the L2 ball of radius `c`; rows already inside are untouched."""
    for w in weights(model):
        w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=c))


def clip_gradients_(parameters: list[torch.nn.Parameter], max_norm: float, max_value: float) -> None:
    """Clip each gradient entry to [-max_value, max_value], then rescale all gradients together so their
    joint L2 norm is at most `max_norm` (0 disables either)."""
    if max_value:
        nn.utils.clip_grad_value_(parameters, max_value)
    if max_norm:
        nn.utils.clip_grad_norm_(parameters, max_norm)

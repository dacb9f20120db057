"""Vanilla gradient saliency (Simonyan, Vedaldi, Zisserman, "Deep inside convolutional networks: visualising
image classification models and saliency maps", 2014): how much each pixel changes a class score.

The map is |d S_c / d x| at the input, the largest over the colour channels (their section 3.1), where S_c is
the unnormalised class score (the logit), not the softmax, which also depends on the other classes.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.interpret.layers import class_logits, evaluating


def saliency(model: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Saliency maps (B, H, W) of images x (B, C, H, W) for the classes `target` (B,)."""
    x = x.detach().clone().requires_grad_(True)
    with evaluating(model):
        score = class_logits(model, x).gather(1, target[:, None]).sum()  # examples are independent in eval mode
    (grad,) = torch.autograd.grad(score, x)  # the input only: the weights' .grad stay untouched
    return grad.abs().amax(1)

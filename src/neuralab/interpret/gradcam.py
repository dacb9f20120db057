"""Grad-CAM (Selvaraju, Cogswell, Das, Vedantam, Parikh, Batra, "Grad-CAM: visual explanations from deep
networks via gradient-based localization", 2017): where a convolutional layer's evidence for a class lies.

Each feature map A_k of the layer is weighted by the spatial mean of d y_c / d A_k (their equation 1); the map
is ReLU(sum_k alpha_k A_k) (equation 2), upsampled bilinearly to the input's size. The layer's output is caught
with a forward hook and differentiated with `torch.autograd.grad`, which leaves the weights' .grad untouched.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.errors import UserError
from neuralab.interpret.layers import captured, class_logits, evaluating, find_layer, single_output


def gradcam(model: nn.Module, x: torch.Tensor, target: torch.Tensor, layer: str) -> torch.Tensor:
    """Grad-CAM maps (B, H, W) at the input's size for images x (B, C, H, W), classes `target` (B,), on the
    sub-module named `layer` (its output must be feature maps (B, K, h, w))."""
    module = find_layer(model, layer)
    x = x.detach().requires_grad_(True)  # a graph to the layer even where the weights are frozen
    with evaluating(model), captured(module) as outputs:
        score = class_logits(model, x).gather(1, target[:, None]).sum()
    act = single_output(outputs, layer)  # (B, K, h, w)
    if act.dim() != 4:
        raise UserError(f"--layer {layer} gives outputs of shape {tuple(act.shape)}, not feature maps "
                        "(B, channels, height, width); Grad-CAM needs a convolutional layer")
    (grad,) = torch.autograd.grad(score, act)
    alpha = grad.mean((2, 3), keepdim=True)  # (B, K, 1, 1): global-average-pooled gradients
    cam = F.relu((alpha * act).sum(1, keepdim=True))  # (B, 1, h, w)
    return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0].detach()

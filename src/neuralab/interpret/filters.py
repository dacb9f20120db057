"""First-layer filters (Krizhevsky, Sutskever, Hinton 2012, figure 3; Zeiler & Fergus 2014, figure 5): the
kernels of the first convolution, which look at pixels directly and so can be drawn as small images."""

from __future__ import annotations

import torch
from torch import nn

from neuralab.interpret.layers import require_conv


def first_filters(model: nn.Module) -> tuple[str, torch.Tensor]:
    """(layer name, kernels (O, I, kH, kW)) of the model's first 2-D convolution."""
    name, conv = require_conv(model, "filters")[0]
    return name, conv.weight.detach().cpu().float()

"""Top-activating examples (Zeiler & Fergus, "Visualizing and understanding convolutional networks", 2014,
figure 2): the images of a data set that excite one channel of a layer most.

A channel's response to an image is its strongest activation anywhere in the map (the spatial maximum), as
Zeiler & Fergus pick a feature map's strongest activation; a fully connected layer's units are single values.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.errors import UserError
from neuralab.interpret.layers import captured, evaluating, find_layer, single_output


@torch.no_grad()
def channel_responses(model: nn.Module, x: torch.Tensor, layer: str, batch_size: int = 256) -> torch.Tensor:
    """(N, K): the strongest activation of each of the K channels (or units) of `layer` for each image of x."""
    module = find_layer(model, layer)
    rows = []
    with evaluating(model):
        for start in range(0, len(x), batch_size):
            with captured(module) as outputs:
                model(x[start:start + batch_size])
            act = single_output(outputs, layer)  # (n, K, ...) feature maps or (n, K) units
            rows.append(act.flatten(2).amax(2) if act.dim() > 2 else act)
    return torch.cat(rows)


def top_examples(model: nn.Module, x: torch.Tensor, layer: str, channels: list[int],
                 k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, indices), each (len(channels), k): the k images of x that excite each channel most, strongest
    first."""
    responses = channel_responses(model, x, layer)
    bad = [c for c in channels if not 0 <= c < responses.shape[1]]
    if bad:
        raise UserError(f"--unit {bad[0]}: layer {layer} has channels 0..{responses.shape[1] - 1}")
    best = responses[:, channels].topk(min(k, len(x)), dim=0)  # (k, channels)
    return best.values.T, best.indices.T

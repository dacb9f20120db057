"""Activation maximisation (Erhan, Bengio, Courville, Vincent, "Visualizing higher-layer features of a deep
network", 2009; with the regularisers of Yosinski, Clune, Nguyen, Fuchs, Lipson, "Understanding neural networks
through deep visualization", 2015): gradient ascent on the input to excite one unit.

The objective of a class is its logit; of a convolutional channel, the mean of its feature map (the whole map
excited, not one position); of a fully connected unit, its value. An L2 penalty on the input keeps pixel values
in range and a random shift (jitter) of the image before every step keeps the ascent from building
high-frequency patterns that only excite the unit at one exact alignment. One image per unit, all optimised
in one batch.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.errors import UserError
from neuralab.interpret.layers import captured, class_logits, evaluating, find_layer, single_output


def _unit_scores(model: nn.Module, x: torch.Tensor, units: list[int], layer: str | None) -> torch.Tensor:
    """(U,): the objective of unit units[i] on image x[i]."""
    index = torch.tensor(units, device=x.device)[:, None]
    if layer is None:
        return class_logits(model, x).gather(1, index)[:, 0]
    with captured(find_layer(model, layer)) as outputs:
        model(x)
    act = single_output(outputs, layer)
    act = act.flatten(2).mean(2) if act.dim() > 2 else act  # (U, K)
    return act.gather(1, index)[:, 0]


def unit_count(model: nn.Module, example: torch.Tensor, layer: str | None) -> int:
    """Number of units the objective can pick: classes, or channels of `layer`."""
    with torch.no_grad(), evaluating(model):
        if layer is None:
            return class_logits(model, example[:1]).shape[1]
        with captured(find_layer(model, layer)) as outputs:
            model(example[:1])
        return single_output(outputs, layer).shape[1]


def activation_max(model: nn.Module, input_shape: tuple[int, ...], units: list[int], layer: str | None = None,
                   steps: int = 200, lr: float = 0.05, l2: float = 1e-3, jitter: int = 2,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (U, C, H, W), final objectives (U,)): one input per unit, grown by Adam ascent from faint noise
    on objective - l2 * ||x||^2 with the image shifted by up to `jitter` pixels each step. `units` are classes
    (layer None) or channels of the sub-module named `layer`."""
    device = next(model.parameters()).device
    available = unit_count(model, torch.zeros(1, *input_shape, device=device), layer)
    bad = [u for u in units if not 0 <= u < available]
    if bad:
        what = "classes" if layer is None else f"layer {layer} has channels"
        raise UserError(f"--unit {bad[0]}: {what} 0..{available - 1}")
    g = torch.Generator().manual_seed(seed)
    x = (0.01 * torch.randn(len(units), *input_shape, generator=g)).to(device).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    with evaluating(model):
        for _ in range(steps):
            dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=g) if jitter else torch.zeros(2)).tolist()
            score = _unit_scores(model, x.roll((int(dy), int(dx)), (-2, -1)), units, layer)
            loss = -score.sum() + l2 * x.pow(2).sum()
            opt.zero_grad(set_to_none=True)
            (grad,) = torch.autograd.grad(loss, x)  # the input only: the weights' .grad stay untouched
            x.grad = grad
            opt.step()
        with torch.no_grad():
            final = _unit_scores(model, x, units, layer)
    return x.detach(), final

"""Training diagnostics (curriculum F12; notes 002 section 2.9): per-layer gradient norms, activation
statistics and the fraction of dead ReLUs.

`ActivationRecorder` attaches forward hooks to the activation modules of a model and keeps the mean,
standard deviation and fraction of zero outputs of the last batch; `gradient_norms` reads the L2 norm
of every weight's gradient after `backward()`.
"""

from __future__ import annotations

import torch
from torch import nn

from neuralab.nn.activations import ACTIVATIONS

_ACTIVATION_TYPES = tuple({type(factory()) for factory in ACTIVATIONS.values()} - {nn.Identity})


def gradient_norms(model: nn.Module) -> dict[str, float]:
    """L2 norm of the gradient of every weight matrix or kernel (biases left out), in layer order."""
    return {name: float(p.grad.norm()) for name, p in model.named_parameters()
            if p.grad is not None and p.dim() > 1}


class ActivationRecorder:
    """Mean, std and zero fraction of every activation layer's output on the batches seen while active."""

    def __init__(self, model: nn.Module) -> None:
        self.stats: dict[str, dict[str, float]] = {}
        self._hooks = [m.register_forward_hook(self._hook(name)) for name, m in model.named_modules()
                       if isinstance(m, _ACTIVATION_TYPES)]

    def _hook(self, name: str):
        def fn(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            out = output.detach().float()
            self.stats[name] = {"mean": float(out.mean()), "std": float(out.std()),
                                "zero_fraction": float((out == 0).float().mean())}
        return fn

    def close(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def __enter__(self) -> ActivationRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@torch.no_grad()
def dead_relu_fraction(model: nn.Module, x: torch.Tensor) -> float:
    """Share of ReLU units that output 0 for every example of `x` (units that no longer learn)."""
    dead, total = 0, 0
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: outputs.append(o.detach()))
             for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    for out in outputs:
        units = out.flatten(1) if out.dim() > 1 else out[None]
        never_active = (units <= 0).all(dim=0)
        dead += int(never_active.sum())
        total += never_active.numel()
    return dead / max(total, 1)

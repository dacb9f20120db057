"""Global magnitude pruning (Han, Pool, Tran, Dally, "Learning both Weights and Connections for Efficient Neural
Networks", 2015) with `torch.nn.utils.prune`.

The weights of every convolution and linear layer are ranked together by |w| and the smallest fraction is
set to zero (`prune.global_unstructured` with `L1Unstructured`), so layers lose different shares: the
threshold is one number for the whole network. Pruning keeps a mask beside each weight (`weight_orig`,
`weight_mask`) and recomputes `weight = weight_orig * weight_mask` before every forward pass, so a pruned
weight stays exactly zero while the network is fine-tuned; `make_permanent` (`prune.remove`) folds the mask
into a plain `weight` before saving. Biases are not pruned.

Iterative pruning reaches the target in rounds on a geometric schedule (each round removes the same share
of the weights still alive), fine-tuning between rounds; `prune_to` takes the number of weights to remove
as a count, so the final sparsity is exactly round(target * total) whatever the rounding on the way.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils import prune

PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def prunable(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, module) of every convolution and linear layer of `model`: the weights pruning ranks."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, PRUNABLE)]


def total_weights(model: nn.Module) -> int:
    return sum(m.weight.numel() for _, m in prunable(model))


def sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero entries over the conv and linear weights (masked ones count as zero)."""
    zeros = sum(int((m.weight == 0).sum()) for _, m in prunable(model))
    return zeros / total_weights(model)


def prune_to(model: nn.Module, target: float) -> None:
    """Prune `model` globally by |w| until round(target * total) of its conv/linear weights are zero masks.

    On a model that already carries masks only weights still alive are ranked (torch's PruningContainer), so
    repeated calls with rising targets are iterative pruning.
    """
    if not 0 < target < 1:
        raise ValueError(f"sparsity must lie in (0, 1), got {target}")
    layers = prunable(model)
    masked = sum(int((m.weight_mask == 0).sum()) for _, m in layers if prune.is_pruned(m))
    remove = round(target * total_weights(model)) - masked
    if remove > 0:
        prune.global_unstructured([(m, "weight") for _, m in layers], pruning_method=prune.L1Unstructured,
                                  amount=remove)


def schedule(target: float, rounds: int) -> list[float]:
    """Sparsity after each of `rounds` rounds: 1 - (1 - target)^(r / rounds), the same share of the surviving
    weights removed each round; the last is `target`."""
    return [1 - (1 - target) ** (r / rounds) for r in range(1, rounds + 1)]


def iterative_prune(model: nn.Module, target: float, rounds: int, steps: int,
                    fine_tune: Callable[[nn.Module, int], None]) -> None:
    """Prune to `target` in `rounds` rounds; after each, `fine_tune(model, n)` trains it n steps with the masks
    applied. The `steps` are shared out over the rounds (the remainder goes to the last)."""
    per_round = [steps // rounds] * rounds
    per_round[-1] += steps - sum(per_round)
    for level, n in zip(schedule(target, rounds), per_round, strict=True):
        prune_to(model, level)
        if n:
            fine_tune(model, n)


def masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """{layer name: 0/1 mask} of every pruned layer."""
    return {name: m.weight_mask.detach().clone() for name, m in prunable(model) if prune.is_pruned(m)}


def apply_masks(model: nn.Module, layer_masks: dict[str, torch.Tensor]) -> None:
    """Fix the given masks on `model`'s layers of the same names (another initialisation, same connections)."""
    layers = dict(prunable(model))
    for name, mask in layer_masks.items():
        prune.custom_from_mask(layers[name], "weight", mask.to(layers[name].weight.device))


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every mask into its weight (`prune.remove`): plain parameters again, zeros where pruned."""
    for _, m in prunable(model):
        if prune.is_pruned(m):
            prune.remove(m, "weight")
    return model

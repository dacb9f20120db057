"""Weight initialisation by name (curriculum F9; notes 002 section 2.11).

zeros (shows the symmetry failure), normal N(0, 1), Glorot/Xavier uniform and normal (Glorot & Bengio
2010, "Understanding the difficulty of training deep feedforward neural networks"), He normal and
uniform (He et al. 2015, "Delving deep into rectifiers"), and sparse (Martens 2010, "Deep learning via
Hessian-free optimization": every unit gets exactly k non-zero incoming weights). "default" keeps
torch's own initialisation. Biases start at zero under every named scheme.
"""

from __future__ import annotations

import math

import torch
from torch import nn

INITS = ("default", "zeros", "normal", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "sparse")
SPARSE_K = 15  # Martens' choice of non-zero incoming weights per unit


def sparse_rows_(weight: torch.Tensor, k: int = SPARSE_K) -> torch.Tensor:
    """Martens' sparse init: each output unit (row) keeps k random N(0, 1) incoming weights, the rest 0."""
    rows = weight.shape[0]
    fan_in = weight[0].numel()
    k = min(k, fan_in)
    with torch.no_grad():
        flat = weight.view(rows, fan_in)
        flat.zero_()
        keep = torch.rand(rows, fan_in).argsort(dim=1)[:, :k]  # k distinct inputs per unit
        flat.scatter_(1, keep, torch.randn(rows, k))
    return weight


# torch's gain for He init per activation: the ReLU gain sqrt(2) by default, torch's 5/3 for tanh, 1 for
# sigmoid, and 1 (LeCun normal, Klambauer et al. 2017) for SELU and the identity.
_HE_GAIN = {"tanh": "tanh", "sigmoid": "sigmoid", "selu": "linear", "identity": "linear", "linear": "linear"}


def init_weight_(weight: torch.Tensor, scheme: str, nonlinearity: str = "relu") -> torch.Tensor:
    if scheme == "zeros":
        return nn.init.zeros_(weight)
    if scheme == "normal":
        return nn.init.normal_(weight, 0.0, 1.0)
    if scheme == "xavier_uniform":
        return nn.init.xavier_uniform_(weight)
    if scheme == "xavier_normal":
        return nn.init.xavier_normal_(weight)
    gain_for = _HE_GAIN.get(nonlinearity, "relu")
    if scheme == "he_normal":
        return nn.init.kaiming_normal_(weight, nonlinearity=gain_for)
    if scheme == "he_uniform":
        return nn.init.kaiming_uniform_(weight, nonlinearity=gain_for)
    if scheme == "sparse":
        return sparse_rows_(weight)
    raise ValueError(f"unknown init scheme {scheme!r}; choose one of {', '.join(INITS)}")


def apply_init(model: nn.Module, scheme: str, nonlinearity: str = "relu") -> nn.Module:
    """Initialise every Linear/Conv weight of `model` with `scheme` and zero its bias (no-op for default)."""
    if scheme == "default":
        return model
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Conv1d | nn.Conv2d | nn.Conv3d):
            init_weight_(module.weight, scheme, nonlinearity)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def glorot_bound(fan_in: int, fan_out: int) -> float:
    """The notes' Glorot uniform limit sqrt(6 / (m + n))."""
    return math.sqrt(6.0 / (fan_in + fan_out))

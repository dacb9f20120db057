"""Muon for a network's hidden matrices, AdamW for the rest (Jordan et al., "Muon: An optimizer for hidden layers in
neural networks", 2024; Liu et al., "Muon is Scalable for LLM Training", 2025).

Muon keeps a Nesterov momentum M of each weight matrix's gradient and steps along its orthogonalised form,
W <- W - lr sqrt(max(1, rows/cols)) UV^T for M = U S V^T, computed with a few Newton-Schulz iterations instead of an
SVD: every direction of the update gets the same size, however skewed the gradient's spectrum. It is meant for
the matrices between hidden layers only; the input embedding, the output layer, biases and norms keep AdamW, as
its authors prescribe. Both optimisers are torch's (`torch.optim.Muon`, `torch.optim.AdamW`); this file only
splits the parameters and steps the two as one `torch.optim.Optimizer`, so a learning-rate schedule scales both.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neuralab.errors import UserError


def hidden_matrices(model: nn.Module, params: list[nn.Parameter]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(Muon's, AdamW's) share of `params`: the weights of every `nn.Linear` in `model` but the last one (the output
    layer, last in definition order in this package's models) for Muon; embeddings, the output layer, biases and
    norms for AdamW."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    chosen = {id(m.weight) for m in linears[:-1]}
    return [p for p in params if id(p) in chosen], [p for p in params if id(p) not in chosen]


class MuonAdamW(torch.optim.Optimizer):
    """`torch.optim.Muon` at `muon_lr` on the hidden matrices of `model` among `params`, `torch.optim.AdamW` at `lr`
    on the others; `param_groups` holds both optimisers' groups (Muon's first), so schedules set either rate."""

    def __init__(self, model: nn.Module, params: list[nn.Parameter], lr: float, muon_lr: float,
                 weight_decay: float = 0.0) -> None:
        hidden, other = hidden_matrices(model, params)
        if not hidden:
            raise UserError("--method.optimizer muon: the model has no hidden nn.Linear weights to orthogonalise; "
                            "use adamw")
        self.muon = torch.optim.Muon(hidden, lr=muon_lr, weight_decay=weight_decay)
        self.adamw = torch.optim.AdamW(other, lr=lr, weight_decay=weight_decay)
        # The same group dicts as the two optimisers': a rate set here is the rate they step with.
        super().__init__(self.muon.param_groups + self.adamw.param_groups, {})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        if closure is not None:
            raise ValueError("MuonAdamW.step takes no closure")
        self.muon.step()
        self.adamw.step()

    def state_dict(self) -> dict[str, Any]:
        return {"muon": self.muon.state_dict(), "adamw": self.adamw.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.muon.load_state_dict(state_dict["muon"])
        self.adamw.load_state_dict(state_dict["adamw"])
        self.param_groups = self.muon.param_groups + self.adamw.param_groups  # loading made new group dicts

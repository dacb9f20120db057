"""Contrastive divergence, CD-k (Hinton, "Training products of experts by minimizing contrastive divergence", 2002),
and persistent CD (Tieleman, "Training restricted Boltzmann machines using approximations to the likelihood
gradient", 2008) for the RBM (curriculum E6, notes 002 section 4.7).

The log-likelihood gradient of an RBM is a difference of two expectations, <v h^T>_data - <v h^T>_model (and
<v> and <h> for the biases). CD-k estimates the second from a Gibbs chain started at the data and run k steps;
persistent CD keeps the chains between updates (one per batch example), so they wander far from the data and
the estimate approaches the model's own. As in scikit-learn's BernoulliRBM and Hinton's practical guide, the
positive phase uses the hidden probabilities P(h | v_data), the negative phase the sampled visible state v_k and
its hidden probabilities P(h | v_k): less noise, same expectation.

The statistics are written into the parameters' `.grad` as the gradient of the negative log-likelihood, and a
torch optimiser takes the step (momentum and an L2 weight decay on the weights only, as the guide advises): the
update is the notes' `dW = lr (<v h>_data - <v h>_model)` for plain SGD. `tests/unit/test_contrastive_divergence.py`
checks the statistics against autograd of the free-energy difference F(v_data) - F(v_k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.methods.decomposition import single_process
from neuralab.methods.elbo import binarized_test_set
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from neuralab.models.energy.rbm import RBM
from neuralab.registry import register_method


@dataclass(frozen=True)
class ContrastiveDivergenceConfig:
    k: int = field(1, "Gibbs steps of the negative phase (CD-k).", ge=1)
    persistent: bool = field(False, "Persistent CD (Tieleman 2008): the negative chains carry on from the last "
                                    "update's state instead of restarting at the data.")
    optimizer: str = field("momentum", "Optimiser applying the CD update.", choices=OPTIMIZERS)
    lr: float = field(0.05, "Learning rate.", gt=0)
    momentum: float = field(0.5, "Momentum of the momentum/nesterov optimisers.", ge=0, le=0.999)
    weight_decay: float = field(0.0, "L2 weight decay on the weights (not the biases).", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the run.", choices=SCHEDULES)
    binarize: bool = field(False, "Binarise Bernoulli inputs in [0, 1]: each training batch drawn afresh as "
                                  "Bernoulli(pixel), the test set once with a fixed seed.")


def cd_gradients(rbm: RBM, v_data: torch.Tensor, v_model: torch.Tensor) -> dict[str, torch.Tensor]:
    """Write into `.grad` of the RBM's parameters the CD estimate of the negative log-likelihood's gradient,
    -(<v h^T>_data - <v h^T>_model) and likewise for the biases, from data (B, V) and negative samples (M, V);
    returns the positive hidden probabilities (B, H) for the caller's metrics."""
    # Both phases in one pass (B + M, ...): at small batches a step is dominated by per-call overhead, and one
    # matmul of twice the rows costs about half of two (benchmarks/rbm_sklearn_peer.py, docs/energy.md).
    b, m = len(v_data), len(v_model)
    v = torch.cat([v_data, v_model])  # (B + M, V)
    h = rbm.hidden_probs(v)  # (B + M, H)
    sign = torch.cat([v.new_full((b,), -1 / b), v.new_full((m,), 1 / m)])  # -1/B per data row, +1/M per model row
    rbm.weight.grad = v.T @ (h * sign.unsqueeze(1))  # (V, H)
    rbm.visible_bias.grad = sign @ v
    rbm.hidden_bias.grad = sign @ h
    return h[:b]


@register_method("contrastive-divergence", config=ContrastiveDivergenceConfig)
class ContrastiveDivergence(Method):
    """CD-k or persistent CD on an `rbm` model, one update per batch."""

    def __init__(self, cfg: ContrastiveDivergenceConfig, model: RBM, data: SupervisedData, ctx: RunContext) -> None:
        single_process(ctx, "contrastive-divergence")
        self.cfg, self.model, self.data, self.ctx = cfg, model.to(ctx.device), data, ctx
        groups = [{"params": [model.weight], "weight_decay": cfg.weight_decay},
                  {"params": [model.visible_bias, model.hidden_bias], "weight_decay": 0.0}]
        self.optimizer = make_optimizer(cfg.optimizer, groups, cfg.lr, momentum=cfg.momentum)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps, cfg.lr)
        x_test, _ = data.split("test")
        x_test = x_test.flatten(1)
        self.x_test = binarized_test_set(x_test) if self.binarizes else x_test
        self.chains: torch.Tensor | None = None  # persistent chains' visible state (B, V)
        self.steps = 0

    @property
    def binarizes(self) -> bool:
        return self.cfg.binarize and not self.model.gaussian

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        v = batch[0].flatten(1)
        if self.binarizes:
            v = torch.bernoulli(v)  # from the global generator, which the engine checkpoints
        start = v if not self.cfg.persistent or self.chains is None else self.chains
        v_model = self.model.gibbs(start, self.cfg.k)
        if self.cfg.persistent:
            self.chains = v_model
        h_data = cd_gradients(self.model, v, v_model)
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.steps += 1
        reconstruction = self.model.visible_mean(h_data)
        return {"train/recon_error": (v - reconstruction).pow(2).sum(1).mean()}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        v = self.x_test
        reconstruction = self.model(v)
        return {"test/recon_error": float((v - reconstruction).pow(2).sum(1).mean()),
                "test/free_energy": float(self.model.free_energy(v).mean())}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(),
                "chains": self.chains, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.chains = None if state["chains"] is None else state["chains"].to(self.ctx.device)
        self.steps = int(state["steps"])

"""The Boltzmann machine learning rule (Ackley, Hinton and Sejnowski, "A learning algorithm for Boltzmann machines",
1985), with persistent free chains (Neal, "Connectionist learning of belief networks", 1992; Tieleman 2008)
(curriculum E5, notes 002 section 4.6).

The gradient of the data's mean log-likelihood in a pair weight is a difference of two correlations,

    d <log P(v)>_data / d w_ij = <x_i x_j>_clamped - <x_i x_j>_free    (and <x_i>_clamped - <x_i>_free for b_i),

the first with the visible units clamped to the data and the hidden ones sampled given them (the positive, data-driven
phase), the second with every unit free (the negative, model-driven phase). Each step estimates both by Gibbs
sampling: the clamped phase starts the hidden units of each batch row at random and runs `clamped_sweeps` sweeps
over them; the free phase carries `chains` persistent chains on by `free_sweeps` sweeps over all units. The
estimate, negated, is written into the parameters' `.grad` and a torch optimiser takes the step: plain SGD is the
notes' dw_ij = lr (<x_i x_j>_clamped - <x_i x_j>_free). Both statistics are symmetric, so W stays symmetric; the
mask keeps absent pairs and the diagonal at zero.

Evaluation is exact, by enumeration (tiny machines): KL(P_data || P_model) over the 2^V visible states, P_data
being the training set's empirical distribution, and the test set's mean log-likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.decomposition import single_process
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from neuralab.models.energy.boltzmann import MAX_ENUMERATED, BoltzmannMachine
from neuralab.models.energy.rbm import binary_states
from neuralab.registry import register_method


@dataclass(frozen=True)
class BoltzmannLearningConfig:
    lr: float = field(0.2, "Learning rate.", gt=0)
    optimizer: str = field("sgd", "Optimiser applying the update (sgd: the notes' rule as it stands).",
                           choices=OPTIMIZERS)
    momentum: float = field(0.5, "Momentum of the momentum/nesterov optimisers.", ge=0, le=0.999)
    weight_decay: float = field(0.0, "L2 weight decay on the pair weights (not the biases).", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the run (a decaying rate quiets the sampling noise "
                                  "of the last updates).", choices=SCHEDULES)
    clamped_sweeps: int = field(10, "Gibbs sweeps over the hidden units, visibles clamped to each batch row, before "
                                    "the positive statistics are read.", ge=1)
    free_sweeps: int = field(5, "Gibbs sweeps over all units of the persistent free chains per step (too few for "
                                "the learning rate, and the chains lag behind the model: the estimate is biased "
                                "and learning can diverge).", ge=1)
    chains: int = field(500, "Persistent free chains whose states give the negative statistics.", ge=1)


def correlations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(<x x^T> (N, N), <x> (N,)) of states x (B, N)."""
    return x.T @ x / len(x), x.mean(0)


def clamped_phase(model: BoltzmannMachine, v: torch.Tensor, sweeps: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """States (B, N): visibles clamped to v (B, V), hiddens started at random and Gibbs-sampled `sweeps` sweeps."""
    h = (torch.rand(len(v), model.cfg.hidden, generator=generator, device=v.device) < 0.5).to(v.dtype)
    return model.gibbs(torch.cat([v, h], 1), sweeps, units=model.hidden_units, generator=generator)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """KL(p || q) in nats of two distributions over the same states; terms with p = 0 count zero."""
    support = p > 0
    return float((p[support] * (p[support].log() - q[support].log())).sum())


@register_method("boltzmann-learning", config=BoltzmannLearningConfig)
class BoltzmannLearning(Method):
    """Gibbs-sampled Boltzmann machine learning on a `boltzmann-machine` model, one update per batch."""

    def __init__(self, cfg: BoltzmannLearningConfig, model: BoltzmannMachine, data: SupervisedData,
                 ctx: RunContext) -> None:
        single_process(ctx, "boltzmann-learning")
        if not isinstance(model, BoltzmannMachine):
            raise UserError(f"boltzmann-learning trains a boltzmann-machine model, not {type(model).__name__}")
        self.cfg, self.model, self.data, self.ctx = cfg, model.to(ctx.device), data, ctx
        if model.units > MAX_ENUMERATED:  # evaluation sums over every state
            raise UserError(f"boltzmann-learning evaluates exactly, by enumerating 2^{model.units} states; use at "
                            f"most {MAX_ENUMERATED} visible and hidden units together")
        x_train = data.x_train.flatten(1)
        if not ((x_train == 0) | (x_train == 1)).all():
            raise UserError(f"boltzmann-learning needs binary data (0 and 1); {data.meta.source} has other values")
        groups = [{"params": [model.weight], "weight_decay": cfg.weight_decay},
                  {"params": [model.bias], "weight_decay": 0.0}]
        self.optimizer = make_optimizer(cfg.optimizer, groups, cfg.lr, momentum=cfg.momentum)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.states = binary_states(model.visible, device=ctx.device)  # (2^V, V) every visible state
        self.p_data = self._histogram(x_train)  # the training set's empirical distribution (2^V,)
        self.x_test = data.split("test")[0].flatten(1)
        self.chains: torch.Tensor | None = None  # the persistent free chains' states (M, N)
        self.steps = 0

    def _histogram(self, v: torch.Tensor) -> torch.Tensor:
        index = (v.long() << torch.arange(v.shape[1], device=v.device)).sum(1)  # unit j is bit j, as in binary_states
        return torch.bincount(index, minlength=len(self.states)).double() / len(v)

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        v = batch[0].flatten(1).float()
        if self.chains is None:  # drawn from the global generator, which the engine checkpoints
            self.chains = (torch.rand(self.cfg.chains, self.model.units, device=v.device) < 0.5).float()
        self.chains = self.model.gibbs(self.chains, self.cfg.free_sweeps)
        pos, pos_mean = correlations(clamped_phase(self.model, v, self.cfg.clamped_sweeps))
        neg, neg_mean = correlations(self.chains)
        # .grad is the negative log-likelihood's gradient; W holds each pair twice, and each copy gets the full
        # pair gradient, so (with the symmetric statistics) the update of w_ij is the notes' lr (pos - neg)
        self.model.weight.grad = -(pos - neg) * self.model.mask
        self.model.bias.grad = -(pos_mean - neg_mean)
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        self.steps += 1
        return {"train/correlation_gap": float(((pos - neg) * self.model.mask).abs().sum() / self.model.mask.sum())}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        p_model = self.model.visible_distribution()
        return {"test/kl": kl_divergence(self.p_data, p_model),
                "test/log_likelihood": float(self.model.log_prob(self.x_test).mean())}

    def log_likelihood(self, samples: int) -> dict[str, float]:
        """The exact test negative log-likelihood in nats (`samples` is not needed: the sum is exact)."""
        with torch.no_grad():
            return {"test/nll": -float(self.model.log_prob(self.x_test).mean())}

    def report(self, run_dir: Path | None = None) -> str:
        p_model = self.model.visible_distribution()
        m, cfg = self.evaluate(), self.model.cfg
        entropy = -float((self.p_data[self.p_data > 0] * self.p_data[self.p_data > 0].log()).sum())
        lines = [f"Boltzmann machine, {cfg.in_features} visible and {cfg.hidden} hidden units, after {self.steps} "
                 f"steps: KL(P_data || P_model) = {m['test/kl']:.4f} nats (exact, over the {len(self.states)} visible "
                 f"states); entropy of P_data {entropy:.4f} nats, so the training log-likelihood is "
                 f"{-entropy - m['test/kl']:.4f} nats per pattern (the optimum is {-entropy:.4f}).", "",
                 "| visible state | P_data | P_model |", "|---|---:|---:|"]
        for state, p, q in zip(self.states, self.p_data, p_model, strict=True):
            bits = "".join(str(int(b)) for b in state)
            lines.append(f"| {bits} | {float(p):.4f} | {float(q):.4f} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.boltzmann import plot_boltzmann

        labels = ["".join(str(int(b)) for b in state) for state in self.states]
        return [plot_boltzmann(plots_dir.parent / "metrics.jsonl", plots_dir / "boltzmann.png", labels=labels,
                               p_data=self.p_data, p_model=self.model.visible_distribution())]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(), "chains": self.chains,
                "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.chains = None if state["chains"] is None else state["chains"].to(self.ctx.device)
        self.steps = int(state["steps"])


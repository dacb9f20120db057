"""Boltzmann machine (Ackley, Hinton and Sejnowski, "A learning algorithm for Boltzmann machines", 1985; Hinton and
Sejnowski, "Learning and relearning in Boltzmann machines", 1986) (curriculum E5, notes 002 section 4.6).

N = V + H binary units x = (v, h) in {0, 1}, V visible and H hidden, joined by a symmetric weight matrix W (N, N)
with zero diagonal, and biases b (N,):

    E(x) = -1/2 x^T W x - b^T x = -sum_{i<j} w_ij x_i x_j - sum_i b_i x_i,     P(x) = exp(-E(x) / T) / Z.

The 1/2 counts each pair once: W holds the pair weight w_ij twice, at (i, j) and (j, i). The notes write the same
energy as E(v, h) = -v^T R v - v^T W h - h^T S h - b^T v - c^T h; their R and S are the strictly upper triangles of
this W's visible-visible and hidden-hidden blocks (any matrix R works too: the pair weight is R_ij + R_ji, and its
diagonal, since v_i^2 = v_i for binary units, adds to the biases: see `from_blocks`), their W this W's
visible-hidden block. `visible_connections` and `hidden_connections` switch R and S off (both off: an RBM).

Each unit sees the others through its local field a_i = sum_j w_ij x_j + b_i, and P(x_i = 1 | rest) =
sigmoid(a_i / T): `gibbs` updates one unit at a time (sequential Gibbs sampling, every chain of a batch at once),
over all units (free, model-driven) or over the hidden units only with the visible ones clamped to data
(data-driven); `anneal` does the same while lowering T. For tiny machines (N <= 20) everything is also exact, by
enumerating the 2^N states: log Z, P(v) and the log-likelihood gradient <x_i x_j>_data - <x_i x_j>_model.

The forward pass is the free energy F(v) = -log sum_h exp(-E(v, h)) (B,), exact by enumerating the hidden states,
so P(v) = exp(-F(v)) / Z. Learning is `neuralab.methods.boltzmann_learning`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.models.energy.rbm import binary_states
from neuralab.registry import register_model

MAX_ENUMERATED = 20  # units summed over exactly (2^20 states)


@dataclass(frozen=True)
class BoltzmannConfig:
    in_features: int = field(4, "Visible units V (images are flattened); set from the data.", ge=1)
    hidden: int = field(2, "Hidden units H (0: a fully visible machine).", ge=0)
    visible_connections: bool = field(True, "Visible-visible weights (the notes' R); off leaves only the "
                                            "visible-hidden and hidden-hidden ones.")
    hidden_connections: bool = field(True, "Hidden-hidden weights (the notes' S).")
    init_std: float = field(0.1, "Standard deviation of the initial pair weights; biases start at zero.", ge=0)


@register_model("boltzmann-machine", family="energy", config=BoltzmannConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randint(0, 2, (3, c.in_features)).float(),
                paper="Ackley, Hinton and Sejnowski 1985, A learning algorithm for Boltzmann machines")
class BoltzmannMachine(nn.Module):
    """(B, ...) -> flatten to v (B, V) in {0, 1} -> free energy F(v) (B,), exact over the 2^H hidden states."""

    def __init__(self, cfg: BoltzmannConfig) -> None:
        super().__init__()
        self.cfg = cfg
        v, n = cfg.in_features, cfg.in_features + cfg.hidden
        mask = torch.ones(n, n) - torch.eye(n)
        if not cfg.visible_connections:
            mask[:v, :v] = 0
        if not cfg.hidden_connections:
            mask[v:, v:] = 0
        self.register_buffer("mask", mask)  # (N, N): 1 where a pair weight exists, symmetric, zero diagonal
        upper = torch.triu(torch.randn(n, n) * cfg.init_std, 1)
        self.weight = nn.Parameter((upper + upper.T) * mask)  # W (N, N), symmetric
        self.bias = nn.Parameter(torch.zeros(n))  # b (N,): the notes' (b, c)

    @classmethod
    def from_blocks(cls, R: torch.Tensor, W: torch.Tensor, S: torch.Tensor, b: torch.Tensor,
                    c: torch.Tensor) -> BoltzmannMachine:
        """The machine of the notes' E(v, h) = -v^T R v - v^T W h - h^T S h - b^T v - c^T h, with R (V, V),
        W (V, H), S (H, H), b (V,), c (H,); the diagonals of R and S become biases (x_i^2 = x_i)."""
        v, h = W.shape
        machine = cls(BoltzmannConfig(in_features=v, hidden=h, init_std=0.0))
        with torch.no_grad():
            machine.weight.zero_()
            machine.weight[:v, :v] = (R + R.T) * machine.mask[:v, :v]
            machine.weight[:v, v:] = W
            machine.weight[v:, :v] = W.T
            machine.weight[v:, v:] = (S + S.T) * machine.mask[v:, v:]
            machine.bias.copy_(torch.cat([b + torch.diagonal(R), c + torch.diagonal(S)]))
        return machine

    @property
    def visible(self) -> int:
        return self.cfg.in_features

    @property
    def units(self) -> int:
        return self.cfg.in_features + self.cfg.hidden

    @property
    def hidden_units(self) -> range:
        return range(self.visible, self.units)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) = -1/2 x^T W x - b^T x: states (..., N) -> (...,)."""
        w, b = self.weight.to(x.dtype), self.bias.to(x.dtype)
        return -0.5 * ((x @ w) * x).sum(-1) - x @ b

    @torch.no_grad()
    def gibbs(self, x: torch.Tensor, sweeps: int, *, units: range | None = None, temperature: float = 1.0,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """`sweeps` sweeps of sequential Gibbs sampling from states x (B, N): each unit of `units` (default all; the
        hidden ones for the clamped phase) in turn set to 1 with probability sigmoid(a_i / T); a new tensor."""
        return self.anneal(x, [temperature] * sweeps, units=units, generator=generator)

    @torch.no_grad()
    def anneal(self, x: torch.Tensor, temperatures: list[float], *, units: range | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """Simulated annealing: one Gibbs sweep over `units` at each temperature of the schedule in turn."""
        x = x.clone()
        w, b = self.weight.to(x.dtype), self.bias.to(x.dtype)
        order = range(self.units) if units is None else units
        for t in temperatures:
            for i in order:
                p = torch.sigmoid((x @ w[:, i] + b[i]) / t)  # (B,) W[i, i] = 0: a unit does not see itself
                x[:, i] = (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(x.dtype)
        return x

    def _check_enumerable(self, n: int) -> None:
        if n > MAX_ENUMERATED:
            raise UserError(f"exact sums over a Boltzmann machine enumerate 2^{n} states; at most "
                            f"2^{MAX_ENUMERATED} (use fewer units)")

    def _joint(self, v: torch.Tensor) -> torch.Tensor:
        """Every completion of visible states v (B, V) by the 2^H hidden states: (B, 2^H, N) in float64."""
        self._check_enumerable(self.cfg.hidden)
        h = binary_states(self.cfg.hidden, device=v.device)  # (2^H, H)
        return torch.cat([v.double()[:, None].expand(-1, len(h), -1), h.expand(len(v), -1, -1)], -1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) = -log sum_h exp(-E(v, h)), exact: (B, V) -> (B,) float64."""
        return -torch.logsumexp(-self.energy(self._joint(v)), -1)

    def log_partition(self) -> torch.Tensor:
        """log Z = log sum_x exp(-E(x)), exact over the 2^N states (a float64 scalar, differentiable)."""
        self._check_enumerable(self.units)
        return torch.logsumexp(-self.energy(binary_states(self.units, device=self.weight.device)), 0)

    def log_prob(self, v: torch.Tensor) -> torch.Tensor:
        """log P(v) = -F(v) - log Z, exact: (B, V) -> (B,) float64."""
        return -self.free_energy(v) - self.log_partition()

    @torch.no_grad()
    def visible_distribution(self) -> torch.Tensor:
        """P(v) for every visible state, (2^V,), state k being `binary_states(V)[k]` (unit j is bit j of k)."""
        return self.log_prob(binary_states(self.visible, device=self.weight.device)).exp()

    @torch.no_grad()
    def exact_statistics(self, v: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(<x x^T> (N, N), <x> (N,)) in float64, exact: with visibles clamped to the data v (B, V) and hiddens
        from P(h | v) (the data-driven phase), or under the model's P(x) when v is None (the free phase)."""
        if v is None:
            self._check_enumerable(self.units)
            x = binary_states(self.units, device=self.weight.device)[None]  # (1, 2^N, N)
        else:
            x = self._joint(v)  # (B, 2^H, N)
        p = torch.softmax(-self.energy(x), -1) / len(x)  # each row's posterior, the rows averaged
        return torch.einsum("bs,bsi,bsj->ij", p, x, x), torch.einsum("bs,bsi->i", p, x)

    def exact_gradient(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The gradient of the mean log-likelihood of data v (B, V) in each pair weight and bias, by enumeration:
        (<x_i x_j>_data - <x_i x_j>_model on the existing pairs (N, N), <x_i>_data - <x_i>_model (N,))."""
        clamped, free = self.exact_statistics(v), self.exact_statistics()
        return (clamped[0] - free[0]) * self.mask.double(), clamped[1] - free[1]

    def blocks(self) -> dict[str, torch.Tensor]:
        """The notes' R (V, V) and S (H, H) as strictly upper triangles, W (V, H), b (V,) and c (H,)."""
        v = self.visible
        w = self.weight.detach()
        return {"R": torch.triu(w[:v, :v], 1), "W": w[:v, v:], "S": torch.triu(w[v:, v:], 1),
                "b": self.bias.detach()[:v], "c": self.bias.detach()[v:]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.free_energy(x.flatten(1)).to(x.dtype if x.is_floating_point() else torch.float32)

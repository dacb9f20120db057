"""Hopfield network (Hopfield, "Neural networks and physical systems with emergent collective computational
abilities", 1982; its capacity: Amit, Gutfreund and Sompolinsky, "Storing infinite numbers of patterns in a
spin-glass model of neural networks", 1985) (curriculum E4, notes 002 section 4.4).

N binary units x_i in {-1, +1}, fully connected by symmetric weights W (N, N) with no self-connections (w_ii = 0),
and thresholds theta (N,). Its energy is

    E(x) = -1/2 x^T W x + theta . x

and the local field of unit i is h_i = sum_j w_ij x_j. Recall runs the dynamics from a start state:

- asynchronous (Hopfield's): one unit at a time, in a random order drawn afresh for every sweep of the N units,
  x_i <- +1 if h_i > theta_i, -1 if h_i < theta_i, unchanged if h_i = theta_i (the tie keeps the state, so the
  x -> -x symmetry of theta = 0 holds exactly). Flipping unit i changes the energy by -(x_i' - x_i)(h_i - theta_i)
  <= 0, so E never increases and the dynamics stops in a fixed point (an attractor);
- synchronous: every unit at once from the same old state; the energy argument fails and the state can settle in
  a 2-cycle instead of a fixed point;
- stochastic units at temperature T > 0 (asynchronous): P(x_i = +1) = sigmoid(2 (h_i - theta_i) / T), the Glauber
  rule whose stationary distribution is exp(-E(x) / T) / Z for the E above. The notes write
  1 / (1 + exp(-h_i / T)), the same rule for 0/1 units; for +-1 units their T is ours halved. Simulated annealing
  lowers T step by step from hot (every state likely) towards 0 (`anneal_temperatures`), then the zero-temperature
  dynamics ends the run in a fixed point.

Every function here takes a batch: states (..., B, N) with weights (N, N) for one network or (..., N, N) for a
batch of networks (the capacity experiment recalls from many stored sets at once). An asynchronous sweep loops
over the units and updates unit i of every state of the batch in one tensor operation.

Storage (the one-shot Hebbian rule) is a method, `neuralab.methods.hebbian_storage`; the model holds the weights
as buffers (nothing here is trained by gradients) and its forward pass is recall: (B, ...) -> (B, N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model

UPDATES = ("asynchronous", "synchronous")


@dataclass(frozen=True)
class HopfieldConfig:
    in_features: int = field(256, "Units N, one per pixel (images are flattened); set from the data.", ge=1)
    update: str = field("asynchronous", "Recall dynamics: asynchronous (one unit at a time in a random order, the "
                                        "energy never rises) or synchronous (all units at once, can 2-cycle).",
                        choices=UPDATES)
    max_sweeps: int = field(100, "Recall stops after this many sweeps (N unit updates each) if it has not settled.",
                            ge=1)
    threshold: float = field(0.0, "Threshold theta of every unit (0: the symmetric network of the notes).")
    order_seed: int = field(0, "Seed of the asynchronous update order in the forward pass (methods pass their own "
                               "generator).")


class Recall(NamedTuple):
    """The outcome of recall from a batch of start states (..., B, N)."""

    states: torch.Tensor  # (..., B, N) final states
    sweeps: torch.Tensor  # (..., B) sweeps until the state stopped changing (max_sweeps if it never did)
    settled: torch.Tensor  # (..., B) bool: a fixed point (asynchronous) or a fixed point or 2-cycle (synchronous)
    energies: torch.Tensor  # (S + 1, ..., B) energy at the start and after each of the S sweeps run


def energy(x: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """E(x) = -1/2 x^T W x + theta . x: states (..., B, N), weights (..., N, N), thresholds (..., N) -> (..., B)."""
    return -0.5 * ((x @ weight) * x).sum(-1) + (x * threshold.unsqueeze(-2)).sum(-1)


TIE = 1e-5  # a drive within this fraction of the largest possible field |h_i| counts as h_i = theta_i (float sums)
BLOCK = 64  # units whose fields one matrix product computes in an asynchronous sweep


def _tie_tolerance(weight: torch.Tensor) -> torch.Tensor:
    """(..., 1): per network, TIE times the largest row sum of |w_ij|, which bounds every local field. A Hebbian
    field is a multiple of 1/N, so a true tie is exactly zero; float sums miss zero by far less than this."""
    return TIE * weight.abs().sum(-1).amax(-1).unsqueeze(-1)


def _sign_or_keep(drive: torch.Tensor, old: torch.Tensor, tolerance: torch.Tensor) -> torch.Tensor:
    """sign(drive), or the old state where |drive| is within the tie tolerance."""
    return torch.where(drive.abs() <= tolerance, old, torch.sign(drive))


def asynchronous_sweep(x: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor, order: torch.Tensor,
                       temperature: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """Update every unit once, in `order` (N,), in place on `x` (..., B, N); returns which states changed (..., B).

    At temperature 0 unit i takes the sign of h_i - theta_i (kept on a tie); above 0 it is +1 with probability
    sigmoid(2 (h_i - theta_i) / T), the uniforms for the whole sweep drawn at once from `generator`.

    The result is exactly that of updating one unit after another, computed faster: the fields of a block of
    BLOCK units come from one matrix product at the block's start, and each update within the block corrects the
    fields of the block's other units by its flip times their coupling (a rank-one update of a (..., B, BLOCK)
    tensor instead of a product over all N units per unit)."""
    changed = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
    tolerance = _tie_tolerance(weight)
    if temperature > 0:
        # drawn on the CPU, where the order's generator lives, so a run on any device draws the same numbers
        uniforms = torch.rand((len(order), *x.shape[:-1]), generator=generator, dtype=x.dtype).to(x.device)
    order = order.to(x.device)
    for start in range(0, len(order), BLOCK):
        block = order[start:start + BLOCK]  # (K,)
        rows = weight[..., block, :]  # (..., K, N)
        drives = x @ rows.transpose(-1, -2) - threshold[..., block].unsqueeze(-2)  # (..., B, K)
        within = rows[..., block]  # (..., K, K) couplings inside the block
        for k, i in enumerate(block.tolist()):
            old = x[..., i]
            drive = drives[..., k]
            if temperature > 0:
                p_up = torch.sigmoid(2 * drive / temperature)
                new = torch.where(uniforms[start + k] < p_up, 1.0, -1.0).to(x.dtype)
            else:
                new = _sign_or_keep(drive, old, tolerance)
            flip = new - old  # (..., B): 0 or +-2
            changed |= flip != 0
            x[..., i] = new
            drives += flip.unsqueeze(-1) * within[..., k, :].unsqueeze(-2)
    return changed


def synchronous_step(x: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Every unit at once from the same state: sign(W x - theta), a tie keeping the unit's state; a new tensor."""
    return _sign_or_keep(x @ weight - threshold.unsqueeze(-2), x, _tie_tolerance(weight).unsqueeze(-1))


def is_fixed_point(x: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Whether no unit of states (..., B, N) would change at zero temperature (each agrees with the sign of its
    drive or sits on a tie): (..., B) bool."""
    drive = x @ weight - threshold.unsqueeze(-2)
    return ((drive * x) >= -_tie_tolerance(weight).unsqueeze(-1)).all(-1)


def anneal_temperatures(start: float, end: float, sweeps: int) -> list[float]:
    """A geometric cooling schedule: `sweeps` temperatures from `start` down to `end` (both > 0)."""
    if sweeps == 1:
        return [end]
    ratio = math.log(end / start) / (sweeps - 1)
    return [start * math.exp(ratio * k) for k in range(sweeps)]


def recall(x: torch.Tensor, weight: torch.Tensor, threshold: torch.Tensor, *, update: str = "asynchronous",
           max_sweeps: int = 100, generator: torch.Generator | None = None,
           temperatures: list[float] | tuple[float, ...] = ()) -> Recall:
    """Run the dynamics from states `x` (..., B, N) (left unchanged) until every state settles or `max_sweeps`.

    Asynchronous recall first runs one stochastic sweep at each of `temperatures` (simulated annealing; they count
    among the sweeps), then zero-temperature sweeps until a sweep changes no state. A state that settled is a fixed
    point, which further zero-temperature sweeps cannot change, so later sweeps skip it (the batch shrinks to the
    item positions some network still moves). Synchronous recall stops when every state repeats itself (a fixed
    point) or the state before last (a 2-cycle)."""
    x = x.clone()
    batch = x.shape[-2]
    sweeps = torch.full(x.shape[:-1], max_sweeps, dtype=torch.long, device=x.device)
    settled = torch.zeros(x.shape[:-1], dtype=torch.bool, device=x.device)
    energies = [energy(x, weight, threshold)]
    active = torch.arange(batch, device=x.device)  # item positions still running (asynchronous)
    previous = None
    for s in range(max_sweeps):
        if update == "synchronous":
            new = synchronous_step(x, weight, threshold)
            stop = (new == x).all(-1)
            if previous is not None:
                stop |= (new == previous).all(-1)  # a 2-cycle
            previous, x = x, new
            energies.append(energy(x, weight, threshold))
        else:
            temperature = temperatures[s] if s < len(temperatures) else 0.0
            part = x[..., active, :]
            changed = asynchronous_sweep(part, weight, threshold, torch.randperm(x.shape[-1], generator=generator),
                                         temperature, generator)
            x[..., active, :] = part
            stop = settled.clone()
            # a hot sweep that changed nothing is no fixed point
            stop[..., active] = ~changed if temperature == 0 else torch.zeros_like(changed)
            current = energies[-1].clone()
            current[..., active] = energy(part, weight, threshold)
            energies.append(current)
        sweeps[stop & ~settled] = s + 1
        settled |= stop
        running = ~settled.reshape(-1, batch).all(0)  # (B,): some network still moves this item
        if not bool(running.any()):
            break
        active = running.nonzero().squeeze(-1)
    return Recall(x, sweeps, settled, torch.stack(energies))


def to_spins(x: torch.Tensor) -> torch.Tensor:
    """Inputs (B, ...) as flat states (B, N) in {-1, +1}: positive values are +1, the rest -1."""
    x = x.flatten(1)
    return torch.where(x > 0, 1.0, -1.0).to(x.dtype if x.is_floating_point() else torch.float32)


@register_model("hopfield", family="energy", config=HopfieldConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randint(0, 2, (3, c.in_features)).float() * 2 - 1,
                paper="Hopfield 1982, Neural networks and physical systems with emergent collective computational "
                      "abilities; capacity: Amit, Gutfreund and Sompolinsky 1985")
class Hopfield(nn.Module):
    """(B, ...) -> states in {-1, +1} (B, N) -> recall by the configured dynamics -> final states (B, N)."""

    output_fields = ("in_features",)  # the recalled state is as wide as the input

    def __init__(self, cfg: HopfieldConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("weight", torch.zeros(cfg.in_features, cfg.in_features))  # W (N, N), zero diagonal
        self.register_buffer("threshold", torch.full((cfg.in_features,), float(cfg.threshold)))  # theta (N,)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) of states (B, N) -> (B,)."""
        return energy(x, self.weight, self.threshold)

    def recall(self, x: torch.Tensor, generator: torch.Generator | None = None,
               temperatures: list[float] | tuple[float, ...] = ()) -> Recall:
        """Recall from states (B, N) in {-1, +1} with the configured dynamics and sweep limit."""
        return recall(x, self.weight, self.threshold, update=self.cfg.update, max_sweeps=self.cfg.max_sweeps,
                      generator=generator, temperatures=temperatures)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.recall(to_spins(x), torch.Generator().manual_seed(self.cfg.order_seed)).states

"""Input currents of a simulated neuron experiment (curriculum E1, notes 002 sections 1.2-1.4): the stimulus
protocol that the `lif-simulation` method feeds to a population of leaky integrate-and-fire neurons.

Two protocols:

- `steps`: constant current steps. Stimulus value p is a current I_p in nA (a grid from `low` to `high`), one
  neuron per value: the f-I curve.
- `tuning`: oriented stimuli shown to `neurons` neurons whose preferred orientations phi_j are spread evenly over
  180 degrees. Stimulus value p is an orientation theta_p in degrees, and neuron j receives the von Mises tuned
  current  I_pj = baseline + (peak - baseline) exp(kappa (cos 2(theta_p - phi_j) - 1))  (period 180 degrees: a
  bar at theta and at theta + 180 is the same bar).

Every (stimulus, neuron) pair is repeated in `trials` independent trials. The protocol lasts `duration` ms and is
simulated `block` ms per training step, so one epoch is the whole experiment; `next_batch` gives the index of the
next block. White current noise, when asked for, is the method's: it is drawn at the simulation's time step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from neuralab.config import field
from neuralab.registry import register_data

PROTOCOLS = ("steps", "tuning")


@dataclass(frozen=True)
class CurrentsConfig:
    protocol: str = field("steps", "steps: one constant current per stimulus value (f-I curve); tuning: oriented "
                                   "stimuli shown to a population with von Mises tuned input currents.",
                          choices=PROTOCOLS)
    low: float = field(0.0, "First stimulus value: a current in nA (steps) or an orientation in degrees (tuning).")
    high: float = field(5.0, "Last stimulus value (included).")
    points: int = field(101, "Stimulus values, evenly spaced from low to high.", ge=1)
    trials: int = field(1, "Independent repetitions of every (stimulus, neuron) pair.", ge=1)
    neurons: int = field(8, "tuning: neurons, their preferred orientations evenly spaced over 180 degrees.", ge=1)
    baseline: float = field(1.0, "tuning: input current (nA) at the orientation orthogonal to a neuron's preferred.")
    peak: float = field(3.0, "tuning: input current (nA) at a neuron's preferred orientation.")
    kappa: float = field(2.0, "tuning: concentration of the von Mises tuning (larger: narrower).", gt=0)
    duration: float = field(1000.0, "Length of the experiment (ms): every stimulus is on this long.", gt=0)
    block: float = field(100.0, "Time simulated per training step (ms).", gt=0)


class Currents:
    """The protocol's stimulus grid, the population's mean input currents, and a stream of time-block indices."""

    meta = None  # a stimulus protocol: no inputs or classes to size a model from

    def __init__(self, cfg: CurrentsConfig) -> None:
        self.cfg = cfg
        self.stimuli = torch.linspace(cfg.low, cfg.high, cfg.points, dtype=torch.float64)  # (P,)
        neurons = cfg.neurons if cfg.protocol == "tuning" else 1
        self.preferred = torch.arange(neurons, dtype=torch.float64) * 180.0 / neurons  # (N,) degrees
        self.pos = 0

    @property
    def neurons(self) -> int:
        return len(self.preferred)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.cfg.duration / self.cfg.block - 1e-9)

    def block_window(self, index: int) -> tuple[float, float]:
        """(start, stop) in ms of the experiment's block `index`."""
        return index * self.cfg.block, min((index + 1) * self.cfg.block, self.cfg.duration)

    def mean_current(self, stimuli: torch.Tensor | None = None) -> torch.Tensor:
        """Noise-free input current (nA) of every neuron under each stimulus, (P, N); the protocol's grid when
        `stimuli` is None."""
        stimuli = self.stimuli if stimuli is None else stimuli.to(torch.float64)
        if self.cfg.protocol == "steps":
            return stimuli[:, None]
        cfg = self.cfg
        angle = torch.deg2rad(2.0 * (stimuli[:, None] - self.preferred[None, :]))
        return cfg.baseline + (cfg.peak - cfg.baseline) * torch.exp(cfg.kappa * (torch.cos(angle) - 1.0))

    def to(self, device: torch.device | str) -> Currents:
        return self  # the grid is tiny; the method puts its currents on its device

    def next_batch(self) -> int:
        index = self.pos % self.steps_per_epoch
        self.pos += 1
        return index

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos = int(state["pos"])


@register_data("currents", config=CurrentsConfig)
def build_currents(cfg: CurrentsConfig, seed: int) -> Currents:
    return Currents(cfg)

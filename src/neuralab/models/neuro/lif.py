"""Leaky integrate-and-fire neuron (Lapicque, "Recherches quantitatives sur l'excitation electrique des nerfs
traitee comme une polarisation", 1907; in the form of Dayan and Abbott, "Theoretical Neuroscience", 2001, ch. 5.4)
(curriculum E1, notes 002 sections 1.2-1.3).

The membrane is a leaky capacitor driven by an input current I(t):

    tau_m dV/dt = -(V - V_rest) + R I(t)

When V reaches the threshold V_th the neuron spikes, V is reset to V_reset and held there for an absolute
refractory period t_ref. The notes' integrator has no leak (C_m dV/dt = I, erratum 13 of the inventory), so any
positive current would fire it; the leak gives the f-I curve its threshold, the rheobase
I_th = (V_th - V_rest) / R. Above it a constant current fires the neuron periodically at the rate

    f(I) = 1 / (t_ref + tau_m ln((R I + V_rest - V_reset) / (R I + V_rest - V_th)))

which the refractory period bounds by 1 / t_ref. `rheobase` and `lif_rate` compute both; the simulation below
integrates the equation by forward Euler with step dt, so its rates differ from `lif_rate` by the discretisation
error (O(dt): a spike can only fall on the time grid).

Units: ms, mV, megaohm and nA (so R I is in mV); rates are in Hz. A batch of B neurons, each driven by its own
current trace, is simulated at once: one loop over the T time steps with tensor operations over B.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from neuralab.config import field
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class LIFConfig:
    tau_m: float = field(10.0, "Membrane time constant tau_m = R C_m (ms).", gt=0)
    r_m: float = field(10.0, "Membrane resistance R (megaohm): R I is in mV for I in nA.", gt=0)
    v_rest: float = field(-65.0, "Resting potential V_rest (mV), where the membrane settles without input.")
    v_th: float = field(-50.0, "Spike threshold V_th (mV).")
    v_reset: float = field(-65.0, "Potential V_reset (mV) the membrane is reset to after a spike.")
    t_ref: float = field(2.0, "Absolute refractory period t_ref (ms): V is held at V_reset this long after a spike.",
                         ge=0)
    dt: float = field(0.1, "Time step of the forward-Euler integration (ms).", gt=0)


class LIFState(NamedTuple):
    """Where B neurons stand between two blocks of a simulation."""

    v: torch.Tensor  # (B,) membrane potential, mV
    refractory: torch.Tensor  # (B,) int64: time steps left to hold V at V_reset


class LIFTrace(NamedTuple):
    """What `LIF.simulate` records."""

    spikes: torch.Tensor  # (B, T) 0/1
    voltage: torch.Tensor  # (B, T) mV
    state: LIFState  # after the last step


def rheobase(cfg: LIFConfig) -> float:
    """The smallest constant current (nA) that ever fires the neuron: I_th = (V_th - V_rest) / R."""
    return (cfg.v_th - cfg.v_rest) / cfg.r_m


def lif_rate(cfg: LIFConfig, current: torch.Tensor) -> torch.Tensor:
    """The exact firing rate (Hz) of the continuous-time LIF under constant currents (nA), elementwise; 0 at and
    below the rheobase."""
    drive = cfg.r_m * current + cfg.v_rest  # V_inf, the potential the membrane relaxes to
    above = drive > cfg.v_th
    safe = torch.where(above, drive, torch.full_like(drive, cfg.v_th + 1.0))  # keeps the log finite where unused
    period = cfg.t_ref + cfg.tau_m * torch.log((safe - cfg.v_reset) / (safe - cfg.v_th))  # ms
    return torch.where(above, 1000.0 / period, torch.zeros_like(period))


def spike_count_rate(spikes: torch.Tensor, dt: float) -> torch.Tensor:
    """The spike-count rate r = n / T (Hz) of spike trains (..., T) sampled every `dt` ms."""
    return spikes.sum(-1) / (spikes.shape[-1] * dt / 1000.0)


@register_model("lif", family="neuro", config=LIFConfig, sizing=sizing.unsized,
                example_input=lambda c: torch.linspace(0.0, 3.0, 4)[:, None].expand(4, 200).contiguous(),
                paper="Lapicque 1907; Dayan and Abbott 2001, Theoretical Neuroscience, ch. 5.4")
class LIF(nn.Module):
    """Input currents (B, T) in nA -> spike trains (B, T) of 0/1 floats; no parameters to learn."""

    def __init__(self, cfg: LIFConfig) -> None:
        super().__init__()
        if cfg.v_reset >= cfg.v_th:
            raise UserError(f"--model.v_reset {cfg.v_reset:g} must lie below --model.v_th {cfg.v_th:g}: a neuron "
                            "reset at or above its threshold would fire at every step")
        self.cfg = cfg
        self.refractory_steps = round(cfg.t_ref / cfg.dt)

    def rest(self, batch: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> LIFState:
        """The state of `batch` neurons at rest, none refractory."""
        return LIFState(torch.full((batch,), self.cfg.v_rest, dtype=dtype, device=device),
                        torch.zeros(batch, dtype=torch.long, device=device))

    def simulate(self, current: torch.Tensor, state: LIFState | None = None) -> LIFTrace:
        """Spikes (B, T) of 0/1, the membrane potential (B, T) in mV and the state after the last step, for
        currents (B, T) from `state` (at rest when None), so a long protocol can be simulated block by block.

        The potential recorded at a spike's step is V_reset (the reset is instantaneous); plots mark the spike.
        """
        cfg = self.cfg
        batch, steps = current.shape
        v, refractory = state if state is not None else self.rest(batch, current.dtype, current.device)
        spikes, voltage = torch.zeros_like(current), torch.empty_like(current)
        leak = cfg.dt / cfg.tau_m
        for t in range(steps):
            free = refractory == 0
            integrated = v + leak * (cfg.v_rest - v + cfg.r_m * current[:, t])
            fired = free & (integrated >= cfg.v_th)
            v = torch.where(free & ~fired, integrated, torch.full_like(v, cfg.v_reset))
            refractory = torch.where(fired, self.refractory_steps, (refractory - 1).clamp_min(0))
            spikes[:, t] = fired.to(current.dtype)
            voltage[:, t] = v
        return LIFTrace(spikes, voltage, LIFState(v, refractory))

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        return self.simulate(current).spikes

"""Figures of simulated spiking neurons (curriculum E1): the f-I curve against the analytic LIF rate, a population's
tuning curves, and voltage traces with their spikes, a raster and a peri-stimulus time histogram (PSTH)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.models.neuro.lif import LIFConfig, lif_rate, rheobase
from neuralab.viz.curves import save_figure


def plot_fi_curve(currents: torch.Tensor, rates: torch.Tensor, cfg: LIFConfig, path: Path) -> Path:
    """Measured rates (P,) against currents (P,) beside the exact LIF rate, the rheobase and the 1/t_ref bound."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    fine = torch.linspace(float(currents.min()), float(currents.max()), 1000, dtype=torch.float64)
    ax.plot(fine, lif_rate(cfg, fine), color="C0", label="analytic LIF rate")
    ax.plot(currents, rates, "o", ms=3, color="C1", label="simulated (spike count / T)")
    ax.axvline(rheobase(cfg), color="grey", ls=":", label=f"rheobase (V_th - V_rest)/R = {rheobase(cfg):.3g} nA")
    if cfg.t_ref > 0 and float(rates.max()) > 0.4 * 1000.0 / cfg.t_ref:  # the bound, when the curve nears it
        ax.axhline(1000.0 / cfg.t_ref, color="grey", ls="--", label="1 / t_ref")
    ax.set_xlabel("input current I (nA)")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(f"f-I curve of the LIF neuron (tau_m {cfg.tau_m:g} ms, t_ref {cfg.t_ref:g} ms, dt {cfg.dt:g} ms)",
                 fontsize=10)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_tuning(stimuli: torch.Tensor, preferred: torch.Tensor, rates: torch.Tensor, analytic: torch.Tensor,
                path: Path) -> Path:
    """Each neuron's measured rate (P, N) against the orientation (P,), with the rate its noise-free input would
    give (dashed) and its preferred orientation (N,) marked."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2), layout="constrained")
    cmap = plt.get_cmap("hsv")
    for j in range(rates.shape[1]):
        colour = cmap(j / rates.shape[1])
        ax.plot(stimuli, rates[:, j], "o-", ms=2.5, lw=1, color=colour, label=f"{float(preferred[j]):.0f} deg")
        ax.plot(stimuli, analytic[:, j], "--", lw=0.8, color=colour)
    ax.set_xlabel("stimulus orientation (deg)")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title("Orientation tuning curves (dots: measured; dashed: exact rate without noise)", fontsize=10)
    ax.legend(title="preferred", fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_traces(voltage: torch.Tensor, spikes: torch.Tensor, labels: list[str], cfg: LIFConfig, psth_bin: float,
                path: Path) -> Path:
    """Voltage traces (E, T) of the first trial with spikes drawn as strokes above threshold; with several trials
    (spikes (E, R, T)) a raster and a PSTH of the middle example (the most irregular one) beside them."""
    examples, trials, steps = spikes.shape
    time = torch.arange(steps) * cfg.dt
    columns = 2 if trials > 1 else 1
    fig, axes = plt.subplots(examples, columns, figsize=(6.0 * columns, 1.9 * examples), squeeze=False,
                             layout="constrained")
    for i in range(examples):
        ax: Any = axes[i, 0]
        ax.plot(time, voltage[i], lw=0.7, color="C0")
        fired = time[spikes[i, 0] > 0]
        ax.vlines(fired, cfg.v_th, cfg.v_th + 20.0, color="C3", lw=0.8)
        ax.axhline(cfg.v_th, color="grey", ls=":", lw=0.8)
        ax.set_ylabel("V (mV)")
        ax.set_title(f"input {labels[i]}: {len(fired)} spikes in {steps * cfg.dt:g} ms", fontsize=9)
    axes[-1, 0].set_xlabel("time (ms)")
    if trials > 1:
        raster, psth, middle = axes[0, 1], axes[1, 1], examples // 2
        rows, cols = torch.nonzero(spikes[middle], as_tuple=True)
        raster.plot(time[cols], rows, "|", ms=4, color="k")
        raster.set_ylabel("trial")
        raster.yaxis.set_major_locator(MaxNLocator(integer=True))
        raster.set_title(f"raster, input {labels[middle]}, {trials} trials", fontsize=9)
        per_bin = max(1, round(psth_bin / cfg.dt))
        usable = steps // per_bin * per_bin
        binned = spikes[middle, :, :usable].reshape(trials, -1, per_bin).sum(-1).mean(0) / (per_bin * cfg.dt / 1000.0)
        psth.bar((torch.arange(len(binned)) * per_bin * cfg.dt).tolist(), binned.tolist(), width=per_bin * cfg.dt,
                 align="edge", color="C2")
        psth.set_ylabel("rate (Hz)")
        psth.set_title(f"PSTH ({psth_bin:g} ms bins, averaged over trials)", fontsize=9)
        for ax in axes[2:, 1]:
            ax.axis("off")
        psth.set_xlabel("time (ms)")
    return save_figure(fig, path)

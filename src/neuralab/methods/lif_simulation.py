"""Simulated experiments on leaky integrate-and-fire neurons (curriculum E1, notes 002 sections 1.2-1.4): the f-I
curve with its rheobase, and the orientation tuning curves of a population, each measured as a physiologist would,
by counting spikes.

The `currents` data source holds the protocol (stimulus values, the population's tuned input currents, trials,
duration); every (stimulus, neuron, trial) is one LIF neuron of the batch, and each training step simulates the
next block of time for all of them at once, carrying their membrane state over. The firing rate is the spike-count
rate r = n / T (notes 1.3) over the time simulated so far; a second pass over the protocol (another epoch) starts
the neurons at rest again and adds its spikes and time. Current noise, when asked for, is white: each time step adds
N(0, noise^2 / dt), drawn from the global generator the engine checkpoints, so a resumed run repeats the same noise.

`evaluate` compares the measured rates with the exact LIF rate of the noise-free current (`lif_rate`): for current
steps, the measured rheobase (the smallest current of the grid that fired), the analytic one and the largest rate
error; for tuning, how far each neuron's measured preferred orientation lies from its true one, the peak rate and
the trial-to-trial Fano factor of the spike counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.currents import Currents
from neuralab.errors import UserError
from neuralab.models.neuro.lif import LIF, LIFState, lif_rate, rheobase
from neuralab.neuro.tuning import orientation_distance
from neuralab.registry import register_method


@dataclass(frozen=True)
class LIFSimulationConfig:
    noise: float = field(0.0, "White current noise, nA sqrt(ms): each time step of dt ms adds N(0, noise^2 / dt) nA, "
                              "so the noise's effect on the membrane does not depend on dt.", ge=0)
    psth_bin: float = field(10.0, "Bin width (ms) of the peri-stimulus time histogram that `plot` draws.", gt=0)


@register_method("lif-simulation", config=LIFSimulationConfig)
class LIFSimulation(Method):
    """Simulates the `currents` protocol block by block on an `lif` model and measures rates by spike counts."""

    def __init__(self, cfg: LIFSimulationConfig, model: LIF, data: Currents, ctx: RunContext) -> None:
        if not isinstance(model, LIF) or not isinstance(data, Currents):
            raise UserError("lif-simulation simulates an lif model on a currents protocol (e.g. recipe lif-fi-curve)")
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.shape = (len(data.stimuli), data.neurons, data.cfg.trials)  # (P, N, R)
        self.batch = math.prod(self.shape)
        self.mean = data.mean_current().float().to(ctx.device)  # (P, N) noise-free current, nA
        self.state = model.rest(self.batch, device=ctx.device)
        self.counts = torch.zeros(self.shape, dtype=torch.float64, device=ctx.device)  # spikes so far
        self.time = 0.0  # ms simulated so far, the same for every neuron

    def currents(self, mean: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Input currents (B, steps): each row's mean (B,) plus the configured white noise."""
        current = mean[:, None].expand(len(mean), steps)
        if self.cfg.noise == 0:
            return current.contiguous()
        scale = self.cfg.noise / math.sqrt(self.model.cfg.dt)
        return current + scale * torch.randn(len(mean), steps, device=mean.device, generator=generator)

    @torch.no_grad()
    def step(self, index: int) -> dict[str, Any]:
        start, stop = self.data.block_window(index)
        steps = round((stop - start) / self.model.cfg.dt)
        if index == 0 and self.time > 0:  # another pass over the protocol starts from rest
            self.state = self.model.rest(self.batch, device=self.ctx.device)
        mean = self.mean[:, :, None].expand(self.shape).reshape(-1)  # (B,) in (P, N, R) order
        trace = self.model.simulate(self.currents(mean, steps), self.state)
        self.state = trace.state
        self.counts += trace.spikes.sum(-1).view(self.shape).double()
        self.time += steps * self.model.cfg.dt
        return {"train/rate": float(trace.spikes.mean()) * 1000.0 / self.model.cfg.dt}

    def rates(self) -> torch.Tensor:
        """Spike-count rates (P, N, R) in Hz over the time simulated so far."""
        return self.counts.cpu() / (self.time / 1000.0)

    def analytic_rates(self) -> torch.Tensor:
        """The exact LIF rate (P, N) of each noise-free input current, in Hz."""
        return lif_rate(self.model.cfg, self.data.mean_current())

    def evaluate(self) -> dict[str, float]:
        if self.time == 0:
            return {}
        rates = self.rates().mean(-1)  # (P, N) averaged over trials
        metrics = {"sim/time_ms": self.time, "sim/mean_rate": float(rates.mean())}
        if self.cfg.noise == 0:
            metrics["sim/rate_error"] = float((rates - self.analytic_rates()).abs().max())
        if self.data.cfg.protocol == "steps":
            metrics["sim/rheobase_analytic"] = rheobase(self.model.cfg)
            fired = rates[:, 0] > 0
            if fired.any():
                metrics["sim/rheobase"] = float(self.data.stimuli[fired].min())
                metrics["sim/rheobase_error"] = abs(metrics["sim/rheobase"] - metrics["sim/rheobase_analytic"])
            metrics["sim/max_rate"] = float(rates.max())
            return metrics
        best = rates.argmax(0)  # (N,) index of each neuron's measured preferred stimulus
        error = orientation_distance(self.data.stimuli[best], self.data.preferred)
        metrics["sim/preferred_error"] = float(error.mean())
        metrics["sim/peak_rate"] = float(rates.max(0).values.mean())
        if self.shape[2] > 1:
            metrics["sim/fano"] = float(self.fano()[best, torch.arange(len(best))].mean())
        return metrics

    def fano(self) -> torch.Tensor:
        """Fano factor var/mean (P, N) of the spike counts across trials; 0 where no trial fired."""
        counts = self.counts.cpu()
        mean = counts.mean(-1)
        return torch.where(mean > 0, counts.var(-1) / mean.clamp_min(1e-12), torch.zeros_like(mean))

    def examples(self) -> tuple[list[int], int]:
        """(three stimulus indices, the neuron) whose voltage traces `plot` draws: for current steps just below,
        just above and well above the rheobase; for tuning neuron 0 at the orthogonal, the oblique and its
        preferred orientation."""
        stimuli = self.data.stimuli
        if self.data.cfg.protocol == "steps":
            targets = [f * rheobase(self.model.cfg) for f in (0.9, 1.1, 2.0)]
        else:
            targets = [float(self.data.preferred[0]) + d for d in (90.0, 45.0, 0.0)]
        dist = [orientation_distance(stimuli, t) if self.data.cfg.protocol == "tuning" else (stimuli - t).abs()
                for t in targets]
        return [int(d.argmin()) for d in dist], 0

    @torch.no_grad()
    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.spikes import plot_fi_curve, plot_traces, plot_tuning

        if self.time == 0:
            return []
        paths = []
        rates = self.rates()
        if self.data.cfg.protocol == "steps":
            paths.append(plot_fi_curve(self.data.stimuli, rates.mean(-1)[:, 0], self.model.cfg,
                                       plots_dir / "lif_fi_curve.png"))
        else:
            paths.append(plot_tuning(self.data.stimuli, self.data.preferred, rates.mean(-1), self.analytic_rates(),
                                     plots_dir / "lif_tuning.png"))
        picks, neuron = self.examples()
        cfg, trials = self.model.cfg, self.shape[2]
        steps = round(self.data.cfg.duration / cfg.dt)
        g = torch.Generator(device=self.ctx.device).manual_seed(self.ctx.seed)  # leaves the training noise alone
        mean = self.mean[picks, neuron].repeat_interleave(trials)  # (3 R,)
        trace = self.model.simulate(self.currents(mean, steps, g))
        spikes = trace.spikes.view(3, trials, steps).cpu()
        labels = [f"{self.data.stimuli[p]:.3g} {'nA' if self.data.cfg.protocol == 'steps' else 'deg'}" for p in picks]
        paths.append(plot_traces(trace.voltage.view(3, trials, steps)[:, 0].cpu(), spikes, labels, cfg,
                                 self.cfg.psth_bin, plots_dir / "lif_traces.png"))
        return paths

    def report(self, run_dir: Path | None = None) -> str:
        from neuralab.studies.tables import markdown_table

        m = self.evaluate()
        if not m:
            return ""
        rates, analytic = self.rates().mean(-1), self.analytic_rates()
        if self.data.cfg.protocol == "steps":
            picks = sorted({round(i * (len(rates) - 1) / 7) for i in range(8)})
            table = markdown_table(["current (nA)", "simulated rate (Hz)", "analytic rate (Hz)"],
                                   [[float(self.data.stimuli[p]), float(rates[p, 0]), float(analytic[p, 0])]
                                    for p in picks])
            measured = f"{m['sim/rheobase']:.4g} nA" if "sim/rheobase" in m else "none (no current fired)"
            return (f"{table}\n\nRheobase: measured {measured} (the smallest current of the grid that fired), "
                    f"analytic (V_th - V_rest) / R = {m['sim/rheobase_analytic']:.4g} nA. Largest rate error "
                    f"{m.get('sim/rate_error', float('nan')):.3g} Hz over {len(rates)} currents and "
                    f"{self.time:g} ms.")
        best = rates.argmax(0)
        fano = self.fano()
        rows = []
        for j in range(self.shape[1]):
            orthogonal = int(orientation_distance(self.data.stimuli, self.data.preferred[j] + 90.0).argmin())
            rows.append([j, float(self.data.preferred[j]), float(self.data.stimuli[best[j]]),
                         float(rates[best[j], j]), float(rates[orthogonal, j]),
                         float(fano[best[j], j]) if self.shape[2] > 1 else None])
        table = markdown_table(["neuron", "preferred (deg)", "measured preferred (deg)", "peak rate (Hz)",
                                "rate at orthogonal (Hz)", "Fano factor at peak"], rows)
        return (f"{table}\n\nMean |measured - true preferred orientation| = {m['sim/preferred_error']:.3g} deg over "
                f"{self.shape[2]} trial(s) of {self.time:g} ms.")

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "v": self.state.v, "refractory": self.state.refractory,
                "counts": self.counts, "time": self.time}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = LIFState(state["v"].to(self.ctx.device), state["refractory"].to(self.ctx.device))
        self.counts = state["counts"].to(self.ctx.device)
        self.time = float(state["time"])

"""The storage capacity of a Hopfield network: the overlap after recall against the load alpha = P / N (Amit,
Gutfreund and Sompolinsky, "Storing infinite numbers of patterns in a spin-glass model of neural networks", 1985;
curriculum E4, notes 002 section 4.4).

Each step is one grid point (N, alpha): P = round(alpha N) random +-1 patterns are stored by the one-shot Hebbian
rule in each of T networks (T = ceil(samples / P), so every point averages about `samples` recalls), every stored
pattern is the start of zero-temperature asynchronous recall (lightly corrupted first if `corruption` > 0), and the
final overlaps m = (1/N) x . xi are averaged. The networks of a point are recalled as one batch.

AGS's mean-field theory (N -> infinity): retrieval states, with overlap m >= 0.967, exist up to the critical load
alpha_c = 0.138, where they vanish and recall falls to spin-glass states of small overlap (about 0.3 just above).
The experiment therefore estimates alpha_c, for each N, as the load where the mean overlap falls below that
m_c = 0.967, interpolated linearly between the two grid points around the first crossing: below alpha_c a
retrieval state should hold the mean above m_c, above it nothing should. Finite networks smear and delay the
drop (a retrieval state survives as a metastable state a little past alpha_c, and the smaller N the more), so
the estimate is reported for each N; `capacity/alpha_c` is the largest N's and `capacity/alpha_c_error` its
distance from 0.138. The notes' "error-free recall needs about k / log k" is erratum 4: for every pattern to be
a fixed point with high probability the standard bound is N / (2 ln N) (N / (4 ln N) for all at once); the
fraction of patterns recalled exactly, also reported, shows how much earlier perfect recall goes.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.binary_patterns import random_patterns
from neuralab.methods.hebbian_storage import flip_bits, hebbian_weights
from neuralab.models.energy.hopfield import recall
from neuralab.registry import register_data, register_method

CRITICAL_LOAD = 0.138  # Amit, Gutfreund and Sompolinsky 1985
CRITICAL_OVERLAP = 0.967  # the retrieval state's overlap at that load (same paper)


@dataclass(frozen=True)
class LoadGridConfig:
    sizes: tuple[int, ...] = field((100, 500, 1000), "Network sizes N, comma list.", ge=2, nonempty=True,
                                   unique=True)
    loads: tuple[float, ...] = field(tuple(round(0.05 + 0.01 * k, 2) for k in range(21)),
                                     "Loads alpha = P / N, comma list (one grid point each per N).", gt=0,
                                     nonempty=True, unique=True)
    samples: int = field(200, "Recalls averaged per grid point: ceil(samples / P) networks of P patterns each.",
                         ge=1)


class LoadGrid:
    """A stream of grid points: step k stores random patterns (T, P, N) drawn from a generator seeded by
    (seed, k), sizes in order and, within a size, loads in order, so a resumed run draws the same patterns."""

    meta = None  # random patterns of several sizes: nothing to size one model from

    def __init__(self, cfg: LoadGridConfig, seed: int) -> None:
        self.points = [(n, max(1, round(alpha * n))) for n in cfg.sizes for alpha in cfg.loads]
        self.samples, self.seed, self.pos = cfg.samples, seed, 0
        self.device: torch.device | str = "cpu"

    @property
    def steps_per_epoch(self) -> int:
        return len(self.points)

    def to(self, device: torch.device | str) -> LoadGrid:
        self.device = device
        return self

    def next_batch(self) -> torch.Tensor:
        n, p = self.points[self.pos % len(self.points)]
        networks = math.ceil(self.samples / p)
        patterns = random_patterns(networks * p, n, self.seed * 1_000_003 + self.pos).view(networks, p, n)
        self.pos += 1
        return patterns.to(self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos = int(state["pos"])


@register_data("load-grid", config=LoadGridConfig)
def build_load_grid(cfg: LoadGridConfig, seed: int) -> LoadGrid:
    return LoadGrid(cfg, seed)


@dataclass(frozen=True)
class HopfieldCapacityConfig:
    corruption: float = field(0.0, "Fraction of each pattern's bits flipped before recall (0: start at the "
                                   "stored pattern itself, as the theory's retrieval state).", ge=0, le=0.5)
    max_sweeps: int = field(30, "Recall stops after this many asynchronous sweeps.", ge=1)
    threshold: float = field(CRITICAL_OVERLAP, "Mean overlap whose crossing estimates the critical load "
                                               "(0.967: AGS's retrieval overlap at alpha_c).", gt=0, le=1)


def crossing(loads: list[float], overlaps: list[float], threshold: float) -> float | None:
    """The load where the mean overlap first falls below `threshold`, linearly interpolated between the two grid
    points around it (loads ascending); None when it never does, or already does at the first load."""
    if not overlaps or overlaps[0] < threshold:
        return None
    for k in range(1, len(loads)):
        if overlaps[k] < threshold:
            a, b = overlaps[k - 1], overlaps[k]
            return loads[k - 1] + (loads[k] - loads[k - 1]) * (a - threshold) / (a - b)
    return None


@register_method("hopfield-capacity", config=HopfieldCapacityConfig)
class HopfieldCapacity(Method):
    """One (N, alpha) grid point per step: store, recall, record the overlaps."""

    def __init__(self, cfg: HopfieldCapacityConfig, model: torch.nn.Module, data: LoadGrid, ctx: RunContext) -> None:
        self.cfg, self.ctx, self.seed = cfg, ctx, ctx.seed
        self.results: list[dict[str, float]] = []  # one per grid point, in step order

    @torch.no_grad()
    def step(self, patterns: torch.Tensor) -> dict[str, float]:
        networks, p, n = patterns.shape
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + len(self.results))
        start = flip_bits(patterns, self.cfg.corruption, g) if self.cfg.corruption else patterns
        weight = hebbian_weights(patterns)
        out = recall(start, weight, torch.zeros(networks, n, device=patterns.device), max_sweeps=self.cfg.max_sweeps,
                     generator=g)
        overlap = (out.states * patterns).sum(-1) / n  # (T, P)
        row = {"n": n, "p": p, "load": p / n, "overlap": float(overlap.mean()),
               "exact": float((overlap == 1).float().mean()), "sweeps": float(out.sweeps.float().mean()),
               "settled": float(out.settled.float().mean())}
        self.results.append(row)
        return {f"train/{k}": v for k, v in row.items()}

    def critical_loads(self, threshold: float | None = None) -> dict[int, float]:
        """N -> the estimated critical load, for each size whose overlaps cross the threshold so far."""
        threshold = self.cfg.threshold if threshold is None else threshold
        out = {}
        for n in sorted({int(r["n"]) for r in self.results}):
            rows = sorted((r for r in self.results if r["n"] == n), key=lambda r: r["load"])
            found = crossing([r["load"] for r in rows], [r["overlap"] for r in rows], threshold)
            if found is not None:
                out[n] = found
        return out

    def evaluate(self) -> dict[str, float]:
        if not self.results:
            return {}
        metrics = {"capacity/points": float(len(self.results)),
                   "capacity/min_overlap": min(r["overlap"] for r in self.results)}
        found = self.critical_loads()
        for n, alpha in found.items():
            metrics[f"capacity/alpha_c_n{n}"] = alpha
        if found:
            largest = found[max(found)]
            metrics["capacity/alpha_c"] = largest
            metrics["capacity/alpha_c_error"] = abs(largest - CRITICAL_LOAD)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        from neuralab.studies.tables import markdown_table

        if not self.results:
            return ""
        sizes = sorted({int(r["n"]) for r in self.results})
        at = {(int(r["n"]), round(r["load"], 4)): r for r in self.results}
        loads = sorted({round(r["load"], 2) for r in self.results})
        found, loose = self.critical_loads(), self.critical_loads(0.9)
        estimates = markdown_table(
            ["N", f"alpha_c (mean overlap < {self.cfg.threshold})", "alpha_c (mean overlap < 0.9)",
             "load 1 / (2 ln N) (every pattern a fixed point; erratum 4)"],
            [[n, found.get(n, "not crossed"), loose.get(n, "not crossed"), 1 / (2 * math.log(n))] for n in sizes])
        rows = []
        for alpha in loads:
            row: list[Any] = [alpha]
            for n in sizes:
                r = at.get((n, round(max(1, round(alpha * n)) / n, 4)))
                row += ["" if r is None else r["overlap"], "" if r is None else r["exact"]]
            rows.append(row)
        table = markdown_table(["load P/N", *[f"{h} N={n}" for n in sizes for h in ("mean overlap", "exact")]], rows)
        sweeps = statistics.fmean(r["sweeps"] for r in self.results)
        return (f"{estimates}\n\nAmit, Gutfreund and Sompolinsky (1985): alpha_c = {CRITICAL_LOAD}. Mean overlap after "
                f"asynchronous recall from each stored pattern (corruption {self.cfg.corruption}), and the fraction "
                f"recalled exactly; {sweeps:.1f} sweeps on average:\n\n{table}")

    def plot(self, plots_dir: Path) -> list[Path]:
        import matplotlib.pyplot as plt

        from neuralab.viz.curves import save_figure

        if not self.results:
            return []
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
        found = self.critical_loads()
        for k, n in enumerate(sorted({int(r["n"]) for r in self.results})):
            rows = sorted((r for r in self.results if r["n"] == n), key=lambda r: r["load"])
            loads = [r["load"] for r in rows]
            label = f"N = {n}" + (f" (alpha_c ~ {found[n]:.3f})" if n in found else "")
            axes[0].plot(loads, [r["overlap"] for r in rows], marker="o", ms=3, color=f"C{k}", label=label)
            axes[1].plot(loads, [r["exact"] for r in rows], marker="o", ms=3, color=f"C{k}", label=f"N = {n}")
        for ax in axes:
            ax.axvline(CRITICAL_LOAD, color="k", ls="--", lw=1, label=f"alpha_c = {CRITICAL_LOAD} (AGS 1985)")
            ax.grid(alpha=0.3)
        axes[0].axhline(self.cfg.threshold, color="gray", ls=":", lw=1, label=f"m = {self.cfg.threshold}")
        axes[0].set(xlabel="load alpha = P / N", ylabel="mean overlap after recall",
                    title="retrieval breaks down near alpha_c")
        axes[1].set(xlabel="load alpha = P / N", ylabel="fraction recalled exactly",
                    title="perfect recall ends earlier")
        axes[0].legend(fontsize=8)
        axes[1].legend(fontsize=8)
        return [save_figure(fig, plots_dir / "capacity.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"results": self.results}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.results = [{k: float(v) for k, v in row.items()} for row in state["results"]]

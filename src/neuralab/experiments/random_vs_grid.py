"""Random search beats grid search when few hyper-parameters matter (Bergstra, Bengio, "Random Search for
Hyper-Parameter Optimization", 2012; notes 002 section 2.14).

With a budget of B = k*k trials over two hyper-parameters, a grid tries only k distinct values of each, while
random search tries B distinct values of each. When the score depends almost only on x, the grid spends k
trials on every x value to vary the irrelevant y, so random search lands closer to the best x.

Each step of the recipe is one repetition: an optimum (x*, y*) drawn uniformly in the unit square is searched
once with Optuna's GridSampler and once with its RandomSampler, B trials each, and the best value each finds
is recorded. The grid sits at the cell centres (i + 1/2)/k, the placement that serves an optimum anywhere in
the square best, so the grid gets its fairest chance. f is exact and noise-free, so the best value a search
finds is also that point's true value: there is no data to hold out and no test score to be optimistic about.
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
from neuralab.errors import UserError
from neuralab.registry import register_data, register_method
from neuralab.studies.optuna_setup import import_optuna, quiet

SEARCHES = ("grid", "random")


@dataclass(frozen=True)
class RandomOptimaConfig:
    repetitions: int = field(200, "Repetitions per epoch, each with its own optimum drawn in the unit square.", ge=1)


class RandomOptima:
    """A stream of optima (x*, y*) ~ U[0, 1]^2; the i-th comes from a generator seeded by (seed, i)."""

    meta = None  # a stream of optima: no inputs or classes to size a model from

    def __init__(self, cfg: RandomOptimaConfig, seed: int) -> None:
        self.repetitions, self.seed, self.pos = cfg.repetitions, seed, 0

    @property
    def steps_per_epoch(self) -> int:
        return self.repetitions

    def to(self, device: torch.device | str) -> RandomOptima:
        return self  # two numbers per step: they stay on the CPU

    def next_batch(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.pos)
        self.pos += 1
        return torch.rand(2, generator=g)  # (2,) = (x*, y*)

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos = int(state["pos"])


@register_data("random-optima", config=RandomOptimaConfig)
def build_random_optima(cfg: RandomOptimaConfig, seed: int) -> RandomOptima:
    return RandomOptima(cfg, seed)


@dataclass(frozen=True)
class RandomVsGridConfig:
    budget: int = field(16, "Trials per search: a square k*k, so the grid has k values per hyper-parameter.", ge=4)


@register_method("random-vs-grid", config=RandomVsGridConfig)
class RandomVsGrid(Method):
    def __init__(self, cfg: RandomVsGridConfig, model: torch.nn.Module, data: RandomOptima, ctx: RunContext) -> None:
        side = math.isqrt(cfg.budget)
        if side * side != cfg.budget:
            raise UserError(f"--method.budget {cfg.budget}: must be a square (4, 9, 16, 25...) so that the grid and "
                            f"random search get the same number of trials")
        self.cfg, self.model, self.seed = cfg, model, ctx.seed
        self.grid_values = [(i + 0.5) / side for i in range(side)]
        self.best: dict[str, list[float]] = {s: [] for s in SEARCHES}  # best value per repetition
        self.distinct_x: dict[str, list[int]] = {s: [] for s in SEARCHES}
        self.last: dict[str, Any] = {}  # trial points of the latest repetition, for the plot
        self.done = False

    def _search(self, sampler: Any, optimum: torch.Tensor) -> tuple[float, list[list[float]]]:
        optuna = import_optuna()
        study = optuna.create_study(sampler=sampler, direction="minimize")

        def f(trial: Any) -> float:
            point = torch.tensor([trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("y", 0.0, 1.0)])
            return float(self.model((point - optimum)[None])[0])

        study.optimize(f, n_trials=self.cfg.budget)
        return study.best_value, [[t.params["x"], t.params["y"]] for t in study.trials]

    @torch.no_grad()
    def step(self, optimum: torch.Tensor) -> dict[str, float]:
        optuna = import_optuna()
        rep = len(self.best["grid"])
        samplers = {"grid": optuna.samplers.GridSampler({"x": self.grid_values, "y": self.grid_values}, seed=0),
                    "random": optuna.samplers.RandomSampler(seed=self.seed * 1_000_003 + rep)}
        metrics = {}
        with quiet(optuna):
            for name, sampler in samplers.items():
                best, points = self._search(sampler, optimum)
                self.best[name].append(best)
                self.distinct_x[name].append(len({x for x, _ in points}))
                self.last[name] = points
                metrics[f"{name}/best"] = best
        self.last["optimum"] = optimum.tolist()
        return metrics

    def evaluate(self) -> dict[str, float]:
        grid, rand = self.best["grid"], self.best["random"]
        if not grid:
            return {}
        metrics = {f"{s}/{k}": v for s in SEARCHES for k, v in (
            ("mean_best", statistics.fmean(self.best[s])), ("distinct_x", statistics.fmean(self.distinct_x[s])))}
        metrics["random/win_rate"] = sum(r < g for g, r in zip(grid, rand, strict=True)) / len(grid)
        metrics["compare/grid_over_random"] = metrics["grid/mean_best"] / max(metrics["random/mean_best"], 1e-12)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        from neuralab.studies.tables import markdown_table

        m = self.evaluate()
        if not m:
            return ""
        n = len(self.best["grid"])
        rows = [[s, self.cfg.budget, m[f"{s}/distinct_x"], m[f"{s}/mean_best"], statistics.median(self.best[s]),
                 sum(a < b for a, b in zip(self.best[s], self.best[o], strict=True))]
                for s, o in (("grid", "random"), ("random", "grid"))]
        table = markdown_table(["search", "trials", "distinct x tried", f"mean best f ({n} repetitions)",
                                "median best f", "repetitions won"], rows)
        return f"{table}\n\ngrid mean best / random mean best = {m['compare/grid_over_random']:.2f}"

    def plot(self, plots_dir: Path) -> list[Path]:
        import matplotlib.pyplot as plt
        import numpy as np

        from neuralab.viz.curves import save_figure

        if not self.last:
            return []
        ox, oy = self.last["optimum"]
        u = np.linspace(0, 1, 101)
        gx, gy = np.meshgrid(u, u)
        w = self.model.weights.tolist()
        f = w[0] * (gx - ox) ** 2 + w[1] * (gy - oy) ** 2
        fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.2), layout="constrained")
        for ax, name in zip(axes[:2], SEARCHES, strict=True):
            pts = np.array(self.last[name])
            ax.contourf(gx, gy, f, levels=12, cmap="Greys")
            ax.scatter(pts[:, 0], pts[:, 1], c="C0" if name == "grid" else "C1", s=30, edgecolors="k",
                       label=f"{name} trials")
            # one tick per distinct x value tried, along the bottom edge
            ax.plot(pts[:, 0], np.full(len(pts), 0.02), "|", color="C3", ms=12, transform=ax.get_xaxis_transform())
            ax.scatter([ox], [oy], marker="*", s=180, c="C3", edgecolors="k", label="optimum (x*, y*)")
            ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="x (matters)", ylabel="y (barely matters)",
                   title=f"{name}: {len(set(pts[:, 0].tolist()))} distinct x in {len(pts)} trials")
            ax.legend(loc="upper left", fontsize=7, framealpha=0.9)
        ax = axes[2]
        ax.boxplot([self.best["grid"], self.best["random"]], showmeans=True)  # the triangle is the mean
        ax.set_xticks([1, 2], list(SEARCHES))
        ax.set_yscale("log")
        ax.set(ylabel="best f found (lower is better)", title=f"best of each search, {len(self.best['grid'])} "
                                                              f"repetitions")
        ax.grid(alpha=0.3)
        return [save_figure(fig, plots_dir / "grid-vs-random.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "distinct_x": self.distinct_x, "last": self.last}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = {s: [float(v) for v in state["best"][s]] for s in SEARCHES}
        self.distinct_x = {s: [int(v) for v in state["distinct_x"][s]] for s in SEARCHES}
        self.last = dict(state["last"])

"""One-shot Hebbian storage in a Hopfield network (Hopfield, "Neural networks and physical systems with emergent
collective computational abilities", 1982) and its recall tests (curriculum E4, notes 002 section 4.4).

Storing patterns xi^1..xi^P in {-1, +1}^N sets

    w_ij = (1/N) sum_p xi_i^p xi_j^p  (i != j),   w_ii = 0

(the notes print the update as Delta w_ii = eta x_i x_i, erratum 3 of the inventory: it is Delta w_ij = eta x_i x_j,
and the diagonal stays zero). The rule is a sum, so the patterns can arrive one batch per step: each step adds its
batch's outer products, and after one epoch the weights are the one-shot rule's whatever the batch size. A pattern
presented twice (a second epoch) counts twice, as Hebb's rule has it; the recipes run one epoch.

Evaluation recalls every pattern stored so far from a corrupted copy (a fixed number of bits flipped, chosen by a
generator seeded with the run's seed and `eval_seed`) and reports the overlap m = (1/N) x . xi with the stored
pattern (1: perfect), the fraction recalled exactly, the fraction of stored patterns that are fixed points, and the
energy per unit before and after. It also runs recall from uniformly random states and sorts where each ends
(Amit, Gutfreund and Sompolinsky 1985): a stored pattern, a stored pattern's negative (E(-x) = E(x) when
theta = 0), a mixture of three, sign(+-xi^a +-xi^b +-xi^c) over the three patterns it overlaps most, or another
spurious state; and it counts the symmetric 3-mixtures sign(xi^a + xi^b + xi^c) that are themselves fixed points
(at low load all are). With `anneal_sweeps` > 0 the same random starts are also recalled after simulated annealing
(one stochastic sweep per temperature of a geometric schedule from `anneal_start` down to `anneal_end`), which
escapes the shallower spurious minima: compare the `spurious/` and `annealed/` metrics.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.decomposition import single_process
from neuralab.models.energy.hopfield import Hopfield, Recall, anneal_temperatures, is_fixed_point, to_spins
from neuralab.registry import register_method

MAX_MIXTURES = 200  # symmetric 3-mixtures checked for stability (the first ones in index order)
ENDS = ("pattern", "negative", "mixture", "other")  # where a recall from a random state can end


@dataclass(frozen=True)
class HebbianStorageConfig:
    corruption: float = field(0.2, "Fraction of each stored pattern's bits flipped before it is recalled.", ge=0,
                              le=1)
    random_starts: int = field(64, "Recalls from uniformly random states, sorted into stored patterns, negatives, "
                                   "3-mixtures and other spurious states.", ge=1)
    anneal_sweeps: int = field(0, "Sweeps of simulated annealing from the same random starts (0: none), one per "
                                  "temperature, before zero-temperature recall.", ge=0)
    anneal_start: float = field(2.0, "First (hottest) annealing temperature T: P(x_i = +1) = sigmoid(2 h_i / T).",
                                gt=0)
    anneal_end: float = field(0.05, "Last annealing temperature.", gt=0)
    eval_seed: int = field(0, "Seed (with the run's) of the corruption, the random starts and the update order of "
                              "evaluation.")


def hebbian_weights(patterns: torch.Tensor) -> torch.Tensor:
    """One-shot Hebbian weights (1/N) sum_p xi^p xi^p^T with a zero diagonal: patterns (..., P, N) -> (..., N, N)."""
    n = patterns.shape[-1]
    weight = patterns.transpose(-1, -2) @ patterns / n
    weight.diagonal(dim1=-2, dim2=-1).zero_()
    return weight


def flip_bits(patterns: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Copies of patterns (P, N) with round(fraction * N) bits of each flipped, at positions drawn from `generator`."""
    n = patterns.shape[-1]
    flips = round(fraction * n)
    ranks = torch.rand(patterns.shape, generator=generator).argsort(-1).argsort(-1).to(patterns.device)
    return torch.where(ranks < flips, -patterns, patterns)


def classify_ends(states: torch.Tensor, stored: torch.Tensor) -> list[str]:
    """Where each final state (B, N) lies among stored patterns (P, N): one of ENDS per state."""
    overlaps = states @ stored.T / stored.shape[1]  # (B, P)
    ends = []
    for state, m in zip(states, overlaps, strict=True):
        if bool((m == 1).any()):
            ends.append("pattern")
        elif bool((m == -1).any()):
            ends.append("negative")
        elif len(stored) >= 3:
            top = m.abs().topk(3).indices
            mixture = torch.sign((torch.sign(m[top])[:, None] * stored[top]).sum(0))  # three +-1 terms: never 0
            ends.append("mixture" if torch.equal(state, mixture) else "other")
        else:
            ends.append("other")
    return ends


@register_method("hebbian-storage", config=HebbianStorageConfig)
class HebbianStorage(Method):
    """Store each batch of +-1 patterns in a `hopfield` model (one step per batch); evaluate recall."""

    def __init__(self, cfg: HebbianStorageConfig, model: Hopfield, data: SupervisedData, ctx: RunContext) -> None:
        single_process(ctx, "hebbian-storage")
        if not isinstance(model, Hopfield):
            raise UserError("hebbian-storage stores patterns in a hopfield model")
        self.cfg, self.model, self.data, self.ctx = cfg, model.to(ctx.device), data, ctx
        self.stored = torch.zeros(0, model.cfg.in_features, device=ctx.device)  # (P, N) in storage order
        self.labels = torch.zeros(0, dtype=torch.long, device=ctx.device)  # (P,) their classes

    @property
    def units(self) -> int:
        return self.model.cfg.in_features

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x = to_spins(batch[0])  # (B, N)
        self.model.weight += hebbian_weights(x)
        self.stored = torch.cat([self.stored, x])
        self.labels = torch.cat([self.labels, batch[1]])
        return {"train/stored": len(self.stored), "train/load": len(self.stored) / self.units}

    def _generator(self, offset: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed((self.ctx.seed * 1_000_003 + self.cfg.eval_seed) * 16 + offset)

    def _recall_corrupted(self) -> tuple[torch.Tensor, Recall]:
        """The corrupted test copies of the stored patterns (P, N) and their recall."""
        start = flip_bits(self.stored, self.cfg.corruption, self._generator())
        return start, self.model.recall(start, self._generator(1))

    def _random_starts(self) -> torch.Tensor:
        return to_spins(torch.rand(self.cfg.random_starts, self.units, generator=self._generator(2)) - 0.5)

    def _annealed(self, starts: torch.Tensor) -> Recall:
        temperatures = anneal_temperatures(self.cfg.anneal_start, self.cfg.anneal_end, self.cfg.anneal_sweeps)
        return self.model.recall(starts.to(self.ctx.device), self._generator(4), temperatures=temperatures)

    def _ends(self, recalled: Recall, prefix: str) -> dict[str, float]:
        ends = classify_ends(recalled.states, self.stored)
        metrics = {f"{prefix}/{end}": ends.count(end) / len(ends) for end in ENDS}
        metrics[f"{prefix}/retrieved"] = metrics[f"{prefix}/pattern"] + metrics[f"{prefix}/negative"]
        metrics[f"{prefix}/energy"] = float(recalled.energies[-1].mean()) / self.units
        return metrics

    def _stable_mixtures(self) -> float | None:
        """The fraction of symmetric 3-mixtures sign(xi^a + xi^b + xi^c) that are fixed points (None below 3)."""
        triples = list(itertools.islice(itertools.combinations(range(len(self.stored)), 3), MAX_MIXTURES))
        if not triples:
            return None
        mixtures = torch.sign(self.stored[torch.tensor(triples)].sum(1))  # (M, N)
        return float(is_fixed_point(mixtures, self.model.weight, self.model.threshold).float().mean())

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        if not len(self.stored):
            return {}
        start, recalled = self._recall_corrupted()
        n = self.units
        overlap = (recalled.states * self.stored).sum(1) / n
        stable = is_fixed_point(self.stored, self.model.weight, self.model.threshold)
        metrics = {"test/overlap": float(overlap.mean()), "test/recalled": float((overlap == 1).float().mean()),
                   "test/overlap_start": float(((start * self.stored).sum(1) / n).mean()),
                   "test/stable": float(stable.float().mean()),
                   "test/energy_start": float(recalled.energies[0].mean()) / n,
                   "test/energy_end": float(recalled.energies[-1].mean()) / n,
                   "test/sweeps": float(recalled.sweeps.float().mean()), "test/load": len(self.stored) / n}
        starts = self._random_starts()
        metrics |= self._ends(self.model.recall(starts.to(self.ctx.device), self._generator(3)), "spurious")
        mixtures = self._stable_mixtures()
        if mixtures is not None:
            metrics["spurious/mixtures_stable"] = mixtures
        if self.cfg.anneal_sweeps:
            metrics |= self._ends(self._annealed(starts), "annealed")
            # how much lower annealing ends than zero-temperature recall from the same starts, per unit
            metrics["annealed/energy_drop"] = metrics["spurious/energy"] - metrics["annealed/energy"]
        return metrics

    # -- pictures -------------------------------------------------------------------------------------------------
    def _images(self, states: torch.Tensor) -> torch.Tensor:
        """States (B, N) in {-1, +1} as images (B, C, H, W) in [0, 1]: +1 white (ink), -1 black."""
        return ((states + 1) / 2).view(len(states), *self.data.meta.input_shape).cpu()

    def plot(self, plots_dir: Path) -> list[Path]:
        """The stored patterns over their corrupted copies over the recalled states (one column per pattern), the
        energy per unit during each recall, and where recalls from random states ended."""
        import matplotlib.pyplot as plt

        from neuralab.viz.curves import save_figure
        from neuralab.viz.grid import GAP, save_grid

        if not len(self.stored):
            return []
        with torch.no_grad():
            start, recalled = self._recall_corrupted()
            ends = self._recall_random_for_plot()
        columns = min(len(self.stored), 16)
        rows = [self.stored[:columns], start[:columns], recalled.states[:columns]]
        width = self.data.meta.input_shape[-1]
        scale = max(4, math.ceil(320 / (columns * (width + GAP))))
        paths = [save_grid(self._images(torch.cat(rows)), plots_dir / "recall.png", nrow=columns, scale=scale)]

        fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        energies = (recalled.energies / self.units).cpu()
        names = self.data.meta.class_names
        for k in range(min(len(self.stored), 16)):
            ax.plot(range(len(energies)), energies[:, k], marker="o", ms=3, label=names[int(self.labels[k])])
        ax.set(xlabel="asynchronous sweep" if self.model.cfg.update == "asynchronous" else "synchronous update",
               ylabel="energy per unit E / N",
               title=f"recall from {self.cfg.corruption:.0%} flipped bits, {len(self.stored)} patterns stored")
        ax.xaxis.get_major_locator().set_params(integer=True)  # sweeps are whole
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        paths.append(save_figure(fig, plots_dir / "energy.png"))
        paths.append(self._plot_ends(ends, plots_dir / "spurious.png"))
        return paths

    def _recall_random_for_plot(self) -> dict[str, tuple[Recall, list[str]]]:
        starts = self._random_starts()
        out = {"zero temperature": self.model.recall(starts.to(self.ctx.device), self._generator(3))}
        if self.cfg.anneal_sweeps:
            out["annealed"] = self._annealed(starts)
        return {name: (r, classify_ends(r.states, self.stored)) for name, r in out.items()}

    def _plot_ends(self, ends: dict[str, tuple[Recall, list[str]]], path: Path) -> Path:
        """Per recall kind: the first final states from random starts with where they ended, and the share of
        each end."""
        import matplotlib.pyplot as plt

        from neuralab.viz.curves import save_figure

        shown = 8
        fig, axes = plt.subplots(len(ends), shown + 1, figsize=(1.3 * shown + 3.2, 1.9 * len(ends)),
                                 layout="constrained", squeeze=False,
                                 gridspec_kw={"width_ratios": [1] * shown + [2.6]})
        for row, (name, (recalled, kinds)) in zip(axes, ends.items(), strict=True):
            images = self._images(recalled.states[:shown])
            for ax, image, kind in zip(row[:shown], images, kinds, strict=False):
                ax.imshow(image[0], cmap="gray", vmin=0, vmax=1)
                ax.set_title(kind, fontsize=8)
            for ax in row[:shown]:
                ax.set_axis_off()
            row[0].text(-0.15, 0.5, name, transform=row[0].transAxes, rotation=90, va="center", ha="right",
                        fontsize=8)
            shares = [kinds.count(end) / len(kinds) for end in ENDS]
            row[-1].barh(ENDS, shares, color=["C2", "C0", "C1", "C3"])
            row[-1].set(xlim=(0, 1), xlabel=f"share of {len(kinds)} random starts")
            row[-1].invert_yaxis()
        return save_figure(fig, path)

    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        """`n` states recalled from random starts (the attractors a random state falls into: stored patterns, their
        negatives, spurious mixtures); with `interpolate`, rows whose starts walk from one stored pattern to
        another by flipping the bits where they differ in equal steps, each start recalled."""
        if label is not None:
            raise UserError("--label: a Hopfield network recalls, it is not conditioned on a class")
        if not len(self.stored):
            raise UserError("this run has stored no patterns yet")
        g = torch.Generator().manual_seed(seed)
        if not interpolate:
            starts = to_spins(torch.rand(n, self.units, generator=g) - 0.5).to(self.ctx.device)
            recalled = self.model.recall(starts, g).states
            return Drawn(self._images(recalled), min(n, 8), [])
        if len(self.stored) < 2:
            raise UserError("--interpolate walks between two stored patterns; this run has stored one")
        columns = min(n, 8) if n > 1 else 2
        rows = max(1, n // columns)
        t = torch.linspace(0, 1, columns)
        starts = []
        for _ in range(rows):
            a, b = torch.randperm(len(self.stored), generator=g)[:2].tolist()
            ranks = torch.rand(self.units, generator=g).argsort().argsort().to(self.ctx.device)
            differ = (self.stored[a] != self.stored[b]).float()
            # the bits where a and b differ, in a random order: the first t * (their number) of them flipped
            order = (ranks.float() + self.units * (1 - differ)).argsort().argsort().float()
            starts += [torch.where(order < step * differ.sum(), self.stored[b], self.stored[a]) for step in t]
        recalled = self.model.recall(torch.stack(starts), g).states
        notes = [] if rows * columns == n else [f"drew {rows} rows of {columns} steps ({rows * columns} images)"]
        return Drawn(self._images(recalled), columns, notes)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "stored": self.stored, "labels": self.labels}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.stored = state["stored"].to(self.ctx.device)
        self.labels = state["labels"].to(self.ctx.device)

"""Ensembles of networks trained from different seeds (Hansen, Salamon, "Neural Network Ensembles", 1990).

K members train the same recipe on the same data; only the seed differs (initial weights and batch order).
Their test predictions are combined by averaging the class probabilities or by a majority vote of the
predicted classes, and the ensemble's accuracy is compared with its members': the gain is ensemble minus
the mean member.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuralab.config import merge_overrides
from neuralab.data.tensors import SupervisedData
from neuralab.engine import fit
from neuralab.errors import UserError
from neuralab.recipes.recipe import Recipe
from neuralab.registry import METHODS
from neuralab.studies.cross_validation import Log, training_set
from neuralab.studies.tables import write_table

COMBINE = ("average", "vote")


def combine(probs: torch.Tensor, how: str) -> torch.Tensor:
    """Class predictions (N,) of an ensemble from its members' probabilities (K, N, C).

    average: argmax of the mean probability. vote: the class most members predict; classes with equally
    many votes are separated by their mean probability (a vote is worth more than any probability).
    """
    mean = probs.mean(0)  # (N, C)
    if how == "average":
        return mean.argmax(-1)
    if how == "vote":
        votes = F.one_hot(probs.argmax(-1), probs.shape[-1]).sum(0).to(mean.dtype)  # (N, C)
        return (votes + 0.5 * mean).argmax(-1)
    raise UserError(f"--combine {how}: use {' or '.join(COMBINE)}")


def accuracy(predicted: torch.Tensor, y: torch.Tensor) -> float:
    return float((predicted == y).float().mean())


@dataclass
class Member:
    seed: int
    accuracy: float
    run_dir: Path


@dataclass
class EnsembleResult:
    members: list[Member]
    how: str
    accuracy: float
    report: str
    files: list[Path]

    @property
    def mean_member(self) -> float:
        return statistics.fmean(m.accuracy for m in self.members)

    @property
    def gain(self) -> float:
        return self.accuracy - self.mean_member


def train_ensemble(recipe: Recipe, overrides: dict[str, dict[str, Any]], *, seeds: Sequence[int], how: str,
                   out: Path, log: Log | None = None) -> EnsembleResult:
    """Train one member per seed into OUT/member-I on one shared data set and combine them on its test split."""
    if how not in COMBINE:
        raise UserError(f"--combine {how}: use {' or '.join(COMBINE)}")
    if not seeds:
        raise UserError("--members: an ensemble needs at least one member")
    sections, data = training_set(recipe, overrides)  # built once: every member sees the same split
    if not METHODS.get(recipe.method).build.predicts():  # before training anything
        raise UserError(f"{recipe.name}: its method gives no class probabilities to combine")
    members, probs, y_test = [], [], None
    for i, seed in enumerate(seeds, 1):
        member_data = SupervisedData(data.split("train"), data.split("test"), data.meta,
                                     batch_size=sections["data"].batch_size, seed=seed, val=data.split("val"))
        run_dir = out / f"member-{i}"
        run = fit(recipe, merge_overrides(overrides, {"run": {"seed": str(seed)}}), out=run_dir, progress=False,
                  data=member_data)
        p = run.method.predict_proba(run.data.x_test).cpu()  # (N, C)
        y_test = run.data.y_test.cpu()
        probs.append(p)
        members.append(Member(seed, accuracy(p.argmax(-1), y_test), run_dir))
        if log:
            log(f"member {i}/{len(seeds)} (seed {seed}): test accuracy {members[-1].accuracy:.4f} ({run_dir})")
    acc = accuracy(combine(torch.stack(probs), how), y_test)
    mean_member = statistics.fmean(m.accuracy for m in members)
    header = ["model", "seed", "test accuracy"]
    rows = [[f"member {i}", m.seed, m.accuracy] for i, m in enumerate(members, 1)]
    rows += [["mean of members", "", mean_member], [f"ensemble ({how} of {len(members)})", "", acc]]
    footer = f"ensemble gain (ensemble - mean member): {acc - mean_member:+.4f}"
    files = list(write_table(out, "ensemble", header, rows, footer))
    return EnsembleResult(members, how, acc, (out / "ensemble.md").read_text().rstrip(), files)

"""Stratified and nested k-fold cross-validation (Stone, "Cross-Validatory Choice and Assessment of Statistical
Predictions", 1974; nested: Varma, Simon, "Bias in error estimation when using cross-validation for model
selection", 2006).

The recipe's whole training set is split into K folds that keep the class proportions (scikit-learn's seeded
`StratifiedKFold`). Each fold trains the recipe through the engine on the other K-1 folds and scores it on the
held-out fold, which takes the place of the run's test split: tables name that score `held-out/...` (the run's
`test/...`), and the recipe's own test set is never used. Nested cross-validation also chooses
hyper-parameters, on inner folds inside each outer training part only, so the outer scores estimate the whole
procedure, choice included. A validation split (`data.val_fraction`) is carved from each run's own training
part, so early stopping (`run.patience`) never looks at a held-out fold. Inputs stay normalised with the
statistics of the full training set (the data's meta is kept, so every fold's model reads inputs the same
way); labels of a held-out fold are never seen in training.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralab.build import resolve
from neuralab.config import merge_overrides
from neuralab.data.tensors import SupervisedData, split_validation
from neuralab.engine import fit
from neuralab.errors import UserError
from neuralab.recipes.recipe import Recipe
from neuralab.registry import DATA
from neuralab.studies.search_space import ParamSpec, as_overrides, candidates
from neuralab.studies.tables import write_table

Log = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    """The metric a procedure reads from each finished run, and whether larger is better."""

    metric: str
    maximize: bool
    label: str = ""  # how tables and messages name it where that differs from the run's key

    @property
    def name(self) -> str:
        return self.label or self.metric

    def best(self, scores: Sequence[float]) -> int:
        """Index of the best score (the first one on ties)."""
        pick = max if self.maximize else min
        return scores.index(pick(scores))


def target_metric(recipe: Recipe, metric: str | None, direction: str | None) -> Target:
    """The recipe's own metric and direction unless given; a metric of the user's needs its direction."""
    if direction not in (None, "maximize", "minimize"):
        raise UserError(f"--direction {direction}: use maximize or minimize")
    metric = metric or recipe.monitor_key
    if not metric:
        raise UserError(f"{recipe.name} names no metric; give --metric (e.g. test/acc) and --direction")
    if direction is None:
        if metric != recipe.monitor_key:
            raise UserError(f"--metric {metric}: also give --direction maximize or minimize")
        direction = "maximize" if recipe.mode == "max" else "minimize"
    return Target(metric, direction == "maximize")


HELD_OUT = "held-out/"


def held_out_target(recipe: Recipe, metric: str | None, direction: str | None) -> Target:
    """The metric cross-validation reads: a fold's run scores its held-out fold as its test split, so `test/X`
    is read and named `held-out/X`; `--metric` may be written either way."""
    if metric and metric.startswith(HELD_OUT):
        metric = "test/" + metric.removeprefix(HELD_OUT)
    target = target_metric(recipe, metric, direction)
    if target.metric.startswith("test/"):
        return Target(target.metric, target.maximize, HELD_OUT + target.metric.removeprefix("test/"))
    return target


def training_set(recipe: Recipe, overrides: dict[str, dict[str, Any]], *,
                 carve_val: bool = True) -> tuple[dict[str, Any], SupervisedData]:
    """The recipe's resolved config sections and its data, built once from its data source.

    `carve_val=False` keeps the whole training set (no validation part held back), for folds that carve their
    own; the sections still carry the configured `val_fraction`.
    """
    sections = resolve(recipe, overrides)
    data_cfg = sections["data"]
    if not carve_val and getattr(data_cfg, "val_fraction", 0):
        data_cfg = dataclasses.replace(data_cfg, val_fraction=0.0)
    data = DATA.get(recipe.data).build(data_cfg, sections["run"].seed)
    if not isinstance(data, SupervisedData) or data.y_train.dtype.is_floating_point:
        raise UserError(f"{recipe.name}: cross-validation and ensembles need a labelled classification data set")
    return sections, data


def stratified_folds(y: torch.Tensor, k: int, seed: int, class_names: Sequence[str] = ()) -> list[tuple]:
    """K (train indices, held-out indices) pairs with the class proportions of `y` in every fold."""
    from sklearn.model_selection import StratifiedKFold

    if k < 2:
        raise UserError(f"--folds {k}: cross-validation needs at least 2 folds")
    labels = y.cpu().numpy()
    classes, counts = np.unique(labels, return_counts=True)
    if k > counts.min():
        c = classes[counts.argmin()]
        name = class_names[c] if len(class_names) > c else str(c)
        raise UserError(f"--folds {k}: class {name} has only {counts.min()} training examples here; "
                        f"use at most {counts.min()} folds")
    splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def subset(data: SupervisedData, train: np.ndarray, held_out: np.ndarray, *, batch_size: int, seed: int,
           val_fraction: float = 0.0) -> SupervisedData:
    """Training examples `train` to learn from and `held_out` as the test split; same meta. A validation split
    of `val_fraction` is carved from `train`, never from `held_out`."""
    tr = torch.as_tensor(train, device=data.device)
    te = torch.as_tensor(held_out, device=data.device)
    train_pair, val = split_validation(data.x_train[tr], data.y_train[tr], val_fraction, seed)
    return SupervisedData(train_pair, (data.x_train[te], data.y_train[te]), data.meta, batch_size=batch_size,
                          seed=seed, val=val)


def fold_data(recipe: Recipe, overrides: dict[str, dict[str, Any]], data: SupervisedData, train: np.ndarray,
              held_out: np.ndarray, seed: int) -> SupervisedData:
    """One fold's data with the batch size and validation fraction that `overrides` give the recipe.

    Early stopping stops on the validation split when there is one, else on the test split, which here is the
    held-out fold: that would choose the stopping step by the very score being estimated, so it is refused.
    """
    sections = resolve(recipe, overrides)
    val_fraction = getattr(sections["data"], "val_fraction", 0.0)
    patience = sections["run"].patience
    if patience and not val_fraction:
        raise UserError(f"--run.patience {patience}: each fold's run would stop early on its held-out fold; add "
                        f"--data.val_fraction (e.g. 0.2) to stop on a validation split of its training part")
    return subset(data, train, held_out, batch_size=sections["data"].batch_size, seed=seed,
                  val_fraction=val_fraction)


@dataclass
class Fold:
    """One (outer) fold: sizes, the held-out score and, for nested CV, the values chosen inside it."""

    index: int
    n_train: int  # examples trained on (a validation part, if any, not counted)
    n_held_out: int
    score: float
    run_dir: Path
    chosen: dict[str, Any] = field(default_factory=dict)
    inner_score: float | None = None


@dataclass
class CVResult:
    metric: str
    folds: list[Fold]
    report: str  # the markdown table and the mean +- std line
    files: list[Path]
    inner: list[tuple[int, dict[str, Any], float]] = field(default_factory=list)  # (outer fold, values, mean)

    @property
    def scores(self) -> list[float]:
        return [f.score for f in self.folds]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def std(self) -> float:
        """Sample standard deviation over folds."""
        return statistics.stdev(self.scores)


def _score(recipe: Recipe, overrides: dict[str, dict[str, Any]], data: SupervisedData, out: Path,
           target: Target) -> float:
    run = fit(recipe, overrides, out=out, progress=False, data=data)
    if target.metric not in run.metrics:
        raise UserError(f"--metric {target.metric}: {recipe.name} reports {', '.join(sorted(run.metrics))}")
    return run.metrics[target.metric]


def _shown(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _summary(metric: str, scores: list[float], what: str) -> str:
    return (f"{metric} over {len(scores)} {what}: mean {statistics.fmean(scores):.4f} "
            f"± {statistics.stdev(scores):.4f} (sample standard deviation)")


def cross_validate(recipe: Recipe, overrides: dict[str, dict[str, Any]], *, folds: int, out: Path,
                   metric: str | None = None, direction: str | None = None, log: Log | None = None) -> CVResult:
    """Stratified K-fold cross-validation of `recipe`: one run per fold in OUT/fold-I, tables in OUT/cv.*.

    Nothing is chosen: each fold's score is its run's score on its own held-out fold.
    """
    target = held_out_target(recipe, metric, direction)
    sections, data = training_set(recipe, overrides, carve_val=False)
    seed = sections["run"].seed
    results = []
    for i, (train, held_out) in enumerate(stratified_folds(data.y_train, folds, seed, data.meta.class_names), 1):
        run_dir = out / f"fold-{i}"
        fold = fold_data(recipe, overrides, data, train, held_out, seed)
        score = _score(recipe, overrides, fold, run_dir, target)
        results.append(Fold(i, len(fold.x_train), len(held_out), score, run_dir))
        if log:
            log(f"fold {i}/{folds}: {target.name} {score:.4f} ({run_dir})")
    header = ["fold", "train", "held out", target.name]
    rows = [[f.index, f.n_train, f.n_held_out, f.score] for f in results]
    footer = _summary(target.name, [f.score for f in results], "folds")
    files = list(write_table(out, "cv", header, rows, footer))
    report = (out / "cv.md").read_text().rstrip()
    return CVResult(target.name, results, report, files)


def nested_cross_validate(recipe: Recipe, overrides: dict[str, dict[str, Any]], specs: Sequence[ParamSpec], *,
                          folds: int, inner_folds: int, out: Path, metric: str | None = None,
                          direction: str | None = None, log: Log | None = None) -> CVResult:
    """Nested cross-validation: in each outer fold, inner folds (parts of the outer training part) pick the best
    of the `specs` grid, which is then retrained on the whole outer training part and scored once on the outer
    held-out fold. No choice reads an outer held-out fold or the recipe's test set."""
    target = held_out_target(recipe, metric, direction)
    for spec in specs:
        if spec.section == "data" and spec.name != "batch_size":
            raise UserError(f"--param {spec.text}: cross-validation splits one fixed data set; of the data "
                            f"fields only batch_size may vary")
    grid = candidates(specs)
    sections, data = training_set(recipe, overrides, carve_val=False)
    seed = sections["run"].seed
    results, inner_rows = [], []
    outer = stratified_folds(data.y_train, folds, seed, data.meta.class_names)
    for i, (train, held_out) in enumerate(outer, 1):
        inner = stratified_folds(data.y_train[torch.as_tensor(train, device=data.device)], inner_folds, seed + i,
                                 data.meta.class_names)
        means = []
        for c, values in enumerate(grid, 1):
            cand = merge_overrides(overrides, as_overrides(values))
            scores = [_score(recipe, cand, fold_data(recipe, cand, data, train[itr], train[ite], seed),
                             out / f"outer-{i}" / f"candidate-{c}-inner-{j}", target)
                      for j, (itr, ite) in enumerate(inner, 1)]
            means.append(statistics.fmean(scores))
            inner_rows.append((i, values, means[-1]))
            if log:
                log(f"outer fold {i}/{folds}, candidate {c}/{len(grid)} ({_shown(values)}): inner mean "
                    f"{target.name} {means[-1]:.4f}")
        best = target.best(means)  # chosen on the inner folds only
        chosen = merge_overrides(overrides, as_overrides(grid[best]))
        run_dir = out / f"outer-{i}" / "final"
        fold = fold_data(recipe, chosen, data, train, held_out, seed)
        score = _score(recipe, chosen, fold, run_dir, target)
        results.append(Fold(i, len(fold.x_train), len(held_out), score, run_dir, grid[best], means[best]))
        if log:
            log(f"outer fold {i}/{folds}: chose {_shown(grid[best])}, outer {target.name} {score:.4f}")
    keys = [s.key for s in specs]
    header = ["outer fold", "train", "held out", *keys, f"inner mean {target.name}", f"outer {target.name}"]
    rows = [[f.index, f.n_train, f.n_held_out, *(f.chosen[k] for k in keys), f.inner_score, f.score]
            for f in results]
    footer = _summary(f"outer {target.name}", [f.score for f in results], "outer folds")
    files = list(write_table(out, "nested-cv", header, rows, footer))
    files += write_table(out, "inner-scores", ["outer fold", *keys, f"inner mean {target.name}"],
                         [[i, *(v[k] for k in keys), m] for i, v, m in inner_rows])
    report = (out / "nested-cv.md").read_text().rstrip()
    return CVResult(target.name, results, report, files, inner_rows)

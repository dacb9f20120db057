"""Stratified and nested k-fold cross-validation, and ensembles of seeds."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch

from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.registry import RECIPES
from neuralab.studies.cross_validation import (
    Target,
    cross_validate,
    held_out_target,
    nested_cross_validate,
    stratified_folds,
    subset,
    target_metric,
    training_set,
)
from neuralab.studies.ensemble import combine, train_ensemble
from neuralab.studies.search_space import parse_params

DIGITS = RECIPES.get("mlp-digits")
TINY = {"run": {"steps": "3", "device": "cpu"}}


def test_folds_partition_the_set_and_keep_class_proportions():
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    folds = stratified_folds(y, 5, seed=0)
    held = np.concatenate([te for _, te in folds])
    assert sorted(held.tolist()) == list(range(100))  # every example held out exactly once
    for train, te in folds:
        assert set(train.tolist()).isdisjoint(te.tolist()) and len(train) + len(te) == 100
        assert np.bincount(y[te].numpy()).tolist() == [10, 6, 4]  # 50/5, 30/5, 20/5
    again = stratified_folds(y, 5, seed=0)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again, strict=True))
    other = stratified_folds(y, 5, seed=1)
    assert any((a[1] != b[1]).any() for a, b in zip(folds, other, strict=True))


def test_fold_counts_the_classes_allow():
    y = torch.tensor([0] * 10 + [1] * 3)
    with pytest.raises(UserError, match="class b has only 3 training examples here; use at most 3 folds"):
        stratified_folds(y, 4, seed=0, class_names=["a", "b"])
    with pytest.raises(UserError, match="at least 2 folds"):
        stratified_folds(y, 1, seed=0)


def test_subset_holds_out_the_fold_with_the_same_meta():
    _, data = training_set(DIGITS, {})
    (train, held_out), *_ = stratified_folds(data.y_train, 4, seed=0)
    fold = subset(data, train, held_out, batch_size=32, seed=0)
    assert fold.meta is data.meta and fold.batch_size == 32
    assert torch.equal(fold.x_test, data.x_train[torch.as_tensor(held_out)])
    assert len(fold.x_train) + len(fold.x_test) == len(data.x_train) and fold.x_val is None


def test_a_folds_validation_split_comes_from_its_training_part_only():
    x, y = torch.arange(40.0)[:, None], torch.arange(40) % 2  # each example's input is its index
    data = SupervisedData((x, y), (x[:2], y[:2]), DataMeta("features", [1], 2, ["a", "b"]), batch_size=8, seed=0)
    (train, held_out), *_ = stratified_folds(y, 4, seed=0)
    fold = subset(data, train, held_out, batch_size=8, seed=0, val_fraction=0.25)
    where = {name: set(getattr(fold, f"x_{name}")[:, 0].long().tolist()) for name in ("train", "val", "test")}
    assert where["test"] == set(held_out.tolist()) and len(where["val"]) == round(0.25 * len(train))
    assert where["train"] | where["val"] == set(train.tolist()) and not where["train"] & where["val"]


def test_target_metric_defaults_and_errors():
    assert target_metric(DIGITS, None, None) == target_metric(DIGITS, "test/acc", "maximize")
    assert not target_metric(DIGITS, "test/loss", "minimize").maximize
    with pytest.raises(UserError, match="also give --direction"):
        target_metric(DIGITS, "test/loss", None)


def test_cross_validation_names_the_held_out_fold_for_what_it_is():
    # a fold's run scores its held-out fold as its test split: test/X is read and called held-out/X
    assert held_out_target(DIGITS, None, None) == Target("test/acc", True, "held-out/acc")
    assert held_out_target(DIGITS, "held-out/loss", "minimize") == held_out_target(DIGITS, "test/loss", "minimize")
    assert held_out_target(DIGITS, "held-out/loss", "minimize").name == "held-out/loss"
    assert held_out_target(DIGITS, "val/acc", "maximize").name == "val/acc"


def test_cross_validate_scores_each_fold_and_summarises(tmp_path):
    result = cross_validate(DIGITS, TINY, folds=3, out=tmp_path)
    n_train = len(training_set(DIGITS, {})[1].x_train)
    assert [f.index for f in result.folds] == [1, 2, 3]
    assert sum(f.n_held_out for f in result.folds) == n_train
    assert all(0 <= f.score <= 1 for f in result.folds)
    with open(tmp_path / "cv.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["held-out/acc"]) for r in rows] == result.scores and result.metric == "held-out/acc"
    # Summarised from what each fold's run wrote, with the n - 1 (sample) deviation the report names.
    written = [json.loads((f.run_dir / "summary.json").read_text())["metrics"]["test/acc"] for f in result.folds]
    mean = sum(written) / 3
    assert result.mean == pytest.approx(mean)
    assert result.std == pytest.approx(math.sqrt(sum((s - mean) ** 2 for s in written) / 2))
    assert f"held-out/acc over 3 folds: mean {result.mean:.4f} ± {result.std:.4f}" in result.report
    assert "test/" not in result.report
    for f in result.folds:  # the held-out fold is what each run reports as its test/acc
        assert f.run_dir == tmp_path / f"fold-{f.index}"
        assert json.loads((f.run_dir / "summary.json").read_text())["metrics"]["test/acc"] == f.score


def test_early_stopping_in_a_fold_needs_a_validation_split(tmp_path):
    patient = {"run": {"steps": "2", "device": "cpu", "patience": "2"}}
    with pytest.raises(UserError, match="--run.patience 2: each fold's run would stop early on its held-out fold"):
        cross_validate(DIGITS, patient, folds=2, out=tmp_path / "a")
    # with one, the folds still cover the whole training set; each run trains on its part less validation
    patient["data"] = {"val_fraction": "0.25"}
    result = cross_validate(DIGITS, patient, folds=2, out=tmp_path / "b")
    whole = len(training_set(DIGITS, {})[1].x_train)
    assert sum(f.n_held_out for f in result.folds) == whole
    parts = [whole - f.n_held_out for f in result.folds]
    assert [f.n_train for f in result.folds] == [n - round(0.25 * n) for n in parts]


def test_nested_cv_chooses_the_candidate_that_learns(tmp_path):
    overrides = {"run": {"steps": "15", "device": "cpu"}}
    specs = parse_params(["lr=1e-9,1e-2"], training_set(DIGITS, {})[0])  # 1e-9 cannot learn in 15 steps
    result = nested_cross_validate(DIGITS, overrides, specs, folds=2, inner_folds=2, out=tmp_path)
    assert len(result.folds) == 2 and len(result.inner) == 4
    for fold in result.folds:
        inner = {v["method.lr"]: m for i, v, m in result.inner if i == fold.index}
        assert fold.chosen == {"method.lr": 1e-2} and inner[1e-2] > inner[1e-9]
        assert fold.inner_score == inner[1e-2] and fold.score > 0.3
        assert (tmp_path / f"outer-{fold.index}" / "final" / "summary.json").exists()
    assert (tmp_path / "nested-cv.csv").exists() and (tmp_path / "inner-scores.csv").exists()
    with pytest.raises(UserError, match="only batch_size may vary"):
        specs = parse_params(["data.normalize=none,scale"], training_set(DIGITS, {})[0])
        nested_cross_validate(DIGITS, overrides, specs, folds=2, inner_folds=2, out=tmp_path / "x")


def test_averaging_identical_members_equals_one_member():
    p = torch.softmax(torch.randn(50, 7, generator=torch.Generator().manual_seed(0)), -1)
    same = torch.stack([p, p, p])
    assert torch.equal(combine(same, "average"), p.argmax(-1))
    assert torch.equal(combine(same, "vote"), p.argmax(-1))


def test_vote_takes_the_majority_and_breaks_ties_by_mean_probability():
    probs = torch.tensor([
        [[0.6, 0.4, 0.0], [0.5, 0.0, 0.5]],
        [[0.6, 0.4, 0.0], [0.0, 0.9, 0.1]],
        [[0.1, 0.9, 0.0], [0.4, 0.0, 0.6]],
    ])  # (K=3 members, N=2 examples, C=3 classes)
    # example 0: votes 0, 0, 1 -> 0 although the mean probability favours class 1 (0.567 vs 0.433)
    # example 1: votes 0, 1, 2 -> a three-way tie, broken by the mean probability: class 2 (0.4)
    assert combine(probs, "vote").tolist() == [0, 2]
    assert combine(probs, "average").tolist() == [1, 2]


def test_ensemble_of_one_seed_twice_gains_nothing(tmp_path):
    result = train_ensemble(DIGITS, TINY, seeds=[0, 0], how="average", out=tmp_path)
    assert result.members[0].accuracy == result.members[1].accuracy == result.accuracy
    assert result.gain == 0


def test_ensemble_of_weak_digit_mlps_gains(tmp_path):
    # measured: 5 members of a 64-16-10 MLP after 30 steps, seeds 0-4, 10-14, 20-24: gain +0.24 to +0.36
    # (average) and +0.23 to +0.29 (vote); here 3 members, seeds 0-2
    overrides = {"run": {"steps": "30", "device": "cpu"}, "model": {"hidden": "16"}}
    result = train_ensemble(DIGITS, overrides, seeds=[0, 1, 2], how="average", out=tmp_path)
    assert len({m.accuracy for m in result.members}) == 3  # different seeds, different members
    assert result.gain >= 0
    with open(tmp_path / "ensemble.csv") as fh:
        rows = list(csv.reader(fh))
    assert float(rows[-1][2]) == result.accuracy and float(rows[-2][2]) == pytest.approx(result.mean_member)

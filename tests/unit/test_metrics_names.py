"""The rule that picks the watched metric: the validation split's metric of the same name when there is one."""

from __future__ import annotations

import re

from neuralab.metrics import SPLITS, monitored_key


def test_a_test_metric_is_watched_on_the_validation_split_when_the_run_measured_it():
    assert monitored_key("test/acc", {"test/acc": 0.9, "val/acc": 0.8}) == "val/acc"
    assert monitored_key("compare/test/worst_acc", {"compare/val/worst_acc": 0.8}) == "compare/val/worst_acc"


def test_without_a_validation_metric_or_outside_the_test_split_the_recipe_key_is_kept():
    assert monitored_key("test/acc", {"test/acc": 0.9, "val/loss": 0.1}) == "test/acc"
    assert monitored_key("train/lstsq_distance", {"val/lstsq_distance": 1.0}) == "train/lstsq_distance"
    # only a whole `test` segment is a split: a name that merely contains "test/" is not rewritten
    assert monitored_key("contest/acc", {"conval/acc": 1.0, "val/acc": 1.0}) == "contest/acc"
    assert monitored_key("zeros/test", {"zeros/val": 1.0}) == "zeros/test"


def test_every_recipe_names_its_expected_metrics_by_the_rule():
    """A split is a segment of its own (`relu/test/acc`), never glued to the name (`relu/test_acc`)."""
    from neuralab.registry import RECIPES

    glued = re.compile(r"^(train|val|test|eval)_")
    for name, recipe in RECIPES.items():
        for key in [*recipe.expect, recipe.monitor_key]:
            parts = key.split("/")
            assert len(parts) >= 2 and all(parts), (name, key)
            assert not any(glued.match(p) for p in parts), (name, key)
            if any(p in SPLITS for p in parts):
                assert parts[-1] not in SPLITS, (name, key)  # the split is followed by the metric's name

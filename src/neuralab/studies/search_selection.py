"""What a hyper-parameter search chooses by: a validation split, never the test set.

Choosing values by their test score and then reporting that score is optimistic: the choice has seen the test
set, so the number no longer estimates performance on unseen data (Cawley, Talbot, "On Over-fitting in Model
Selection and Subsequent Selection Bias in Performance Evaluation", 2010; notes 002 section 1.13, Fig. 1.29:
train/validation/test). A search therefore scores every trial on a validation split carved from the training
data (`data.val_fraction`; DEFAULT_VAL_FRACTION when the recipe and the user set none) by the validation
counterpart of the recipe's metric (`val/acc` for `test/acc`), and the test set is read once, at the end, by
the chosen values retrained (study.refit_and_test).

A metric without a test counterpart (`eval/return` of a reinforcement-learning recipe, a `train/` metric) is
used as it is: no validation split is carved for it and no test score is reported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neuralab.errors import UserError
from neuralab.recipes.recipe import Recipe
from neuralab.studies.cross_validation import Target

DEFAULT_VAL_FRACTION = 0.2


def counterpart(metric: str, split: str, other: str) -> str | None:
    """The `other` split's name for a metric of `split`: ('test/acc', 'test', 'val') -> 'val/acc', and
    ('worst/test_acc', 'test', 'val') -> 'worst/val_acc'; None when `metric` is not a metric of `split`."""
    section, slash, name = metric.partition("/")
    if not slash:
        return None
    if section == split:
        return f"{other}/{name}"
    if name.startswith(f"{split}_"):
        return f"{section}/{other}_{name.removeprefix(split + '_')}"
    return None


@dataclass(frozen=True)
class Selection:
    """The metric trials are compared by, the test metric measured once at the end, and the validation share."""

    target: Target
    test_metric: str | None  # None: the target has no test counterpart, so there is no final test
    val_fraction: float  # data.val_fraction of every trial

    def trial_overrides(self, overrides: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """`overrides` with the validation share every trial holds out."""
        if not self.test_metric:
            return overrides
        return {**overrides, "data": {**overrides.get("data", {}), "val_fraction": str(self.val_fraction)}}


def select_by(recipe: Recipe, sections: dict[str, Any], overrides: dict[str, dict[str, Any]], metric: str | None,
              direction: str | None) -> Selection:
    """The Selection for a search of `recipe` (resolved `sections`) by `metric`, or by the recipe's own.

    A test metric named by the user is refused rather than quietly mapped: the command would otherwise report
    something else than what was asked for.
    """
    if direction not in (None, "maximize", "minimize"):
        raise UserError(f"--direction {direction}: use maximize or minimize")
    own = recipe.monitor_key
    if metric:
        val = counterpart(metric, "test", "val")
        if val:
            raise UserError(f"--metric {metric}: a search must not choose by the test set (its best test score "
                            f"would be optimistic); give --metric {val}, and the chosen values' {metric} is "
                            f"measured once at the end")
        chosen = metric
    elif own:
        chosen = counterpart(own, "test", "val") or own
    else:
        raise UserError(f"{recipe.name} names no metric; give --metric (e.g. val/acc) and --direction")
    if direction is None:
        if own is None or chosen not in (own, counterpart(own, "test", "val")):
            raise UserError(f"--metric {chosen}: also give --direction maximize or minimize")
        direction = "maximize" if recipe.mode == "max" else "minimize"
    target = Target(chosen, direction == "maximize")
    test_metric = counterpart(chosen, "val", "test")
    if not test_metric:
        return Selection(target, None, 0.0)
    data = sections["data"]
    if "val_fraction" not in {f.name for f in dataclasses.fields(data)}:
        raise UserError(f"--metric {chosen}: {recipe.name}'s data ({recipe.data}) has no validation split "
                        f"(data.val_fraction) to choose on")
    if data.val_fraction > 0:
        return Selection(target, test_metric, data.val_fraction)
    if "val_fraction" in overrides.get("data", {}):
        raise UserError(f"--data.val_fraction {overrides['data']['val_fraction']}: a search chooses on a "
                        f"validation split; give a share above 0 (default {DEFAULT_VAL_FRACTION} when not set)")
    return Selection(target, test_metric, DEFAULT_VAL_FRACTION)

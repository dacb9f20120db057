"""Field options of the typed configs: per-element choices and bounds on tuple fields, non-empty, unique,
and defaults that no two instances share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from neuralab.config import absolute_path, field, override
from neuralab.errors import UserError


@dataclass(frozen=True)
class Demo:
    names: tuple[str, ...] = field(("a", "b"), "Names.", choices=("a", "b", "c"), nonempty=True, unique=True)
    sizes: tuple[int, ...] = field((1, 2), "Sizes.", ge=1)
    free: tuple[str, ...] = field((), "Anything, possibly nothing.")
    mode: str = field("x", "A single choice.", choices=("x", "y"))
    table: dict = field({"k": [1]}, "A dict default.")
    items: list = field([1, 2], "A list default.")


def test_every_element_of_a_tuple_field_is_checked_against_choices():
    assert override(Demo(), {"names": "c,a"}, "method").names == ("c", "a")
    with pytest.raises(UserError, match=r"^--method\.names: unknown d, e; choose from a, b, c$"):
        override(Demo(), {"names": "a,d,e"}, "method")


def test_a_single_value_field_still_names_the_bad_value():
    with pytest.raises(UserError, match=r"--method\.mode: 'z' is not one of x, y"):
        override(Demo(), {"mode": "z"}, "method")


def test_nonempty_and_unique_are_refused_in_one_line_and_only_where_asked():
    with pytest.raises(UserError, match=r"^--method\.names: give at least one value; choose from a, b, c$"):
        override(Demo(), {"names": ""}, "method")
    with pytest.raises(UserError, match=r"^--method\.names: b given more than once; give each once$"):
        override(Demo(), {"names": "b,a,b,b"}, "method")
    assert override(Demo(), {"free": ""}, "method").free == ()
    assert override(Demo(), {"free": "q,q"}, "method").free == ("q", "q")


def test_bounds_apply_to_each_element_of_a_numeric_tuple():
    assert override(Demo(), {"sizes": "3,1"}, "model").sizes == (3, 1)
    with pytest.raises(UserError, match=r"--model\.sizes\[1\]: must be >= 1, got 0"):
        override(Demo(), {"sizes": "4,0"}, "model")


def test_two_instances_do_not_share_a_mutable_default():
    a, b = Demo(), Demo()
    assert a.table == b.table == {"k": [1]} and a.items == b.items == [1, 2]
    a.table["k"].append(2)
    a.items.append(3)
    assert b.table == {"k": [1]} and b.items == [1, 2]
    assert Demo().table == {"k": [1]}
    assert dataclasses.fields(Demo)[4].default is dataclasses.MISSING  # built per instance, not a class attribute


@pytest.mark.parametrize(("section", "cls_path", "change", "message"), [
    ("method", "neuralab.experiments.optimizers_compare.OptimizersCompareConfig", {"optimizers": "sgd,adamax"},
     r"--method\.optimizers: unknown adamax; choose from sgd, momentum"),
    ("method", "neuralab.experiments.second_order_logreg.SecondOrderLogregConfig", {"solvers": "newton,newton"},
     r"--method\.solvers: newton given more than once"),
    ("method", "neuralab.experiments.activations.ActivationsConfig", {"activations": ""},
     r"--method\.activations: give at least one value; choose from .*relu"),
    ("method", "neuralab.experiments.init_depth.InitDepthConfig", {"schemes": "zeros,he_normal"},
     r"--method\.schemes: unknown zeros; choose from default, normal"),
    ("method", "neuralab.methods.supervised.SupervisedConfig", {"augment": "shift,shfit"},
     r"--method\.augment: unknown shfit; choose from shift, rotate, crop, flip, noise"),
    ("method", "neuralab.experiments.universal_approximation.UniversalApproximationConfig", {"widths": "4,0"},
     r"--method\.widths\[1\]: must be"),
    ("data", "neuralab.data.worked_example.WorkedExampleConfig", {"y": ""}, r"--data\.y: give at least one value"),
])
def test_method_list_fields_refuse_bad_elements_through_their_field_options(section, cls_path, change, message):
    module, name = cls_path.rsplit(".", 1)
    cls = getattr(__import__(module, fromlist=[name]), name)
    with pytest.raises(UserError, match=message):
        override(cls(), change, section)


def test_a_flag_without_a_value_switches_a_yes_no_field_on_and_is_refused_for_any_other():
    from neuralab.cli import _parse_overrides
    from neuralab.config import RunConfig

    parsed = _parse_overrides(["--run.deterministic", "--run.steps", "3", "--run.log_every=-2", "--run.full"])
    assert parsed == {"run": {"deterministic": "true", "steps": "3", "log_every": "-2", "full": "true"}}
    with pytest.raises(UserError, match=r"--run\.log_every: must be >= 1, got -2"):  # "-2" stays a value
        override(RunConfig(), parsed["run"], "run")
    cfg = override(RunConfig(), {**parsed["run"], "log_every": "5"}, "run")
    assert (cfg.deterministic, cfg.full, cfg.steps, cfg.log_every) == (True, True, 3, 5)
    for name in ("steps", "init_from", "freeze", "amp"):  # a number, an optional path, a list, a choice
        with pytest.raises(UserError, match=rf"^--run\.{name} needs a value$"):
            override(RunConfig(), _parse_overrides([f"--run.{name}", "--run.full"])["run"], "run")
    assert override(RunConfig(), {"device": "true"}, "run").device == "true"  # typed out, "true" is a value


def test_a_home_directory_that_does_not_exist_is_one_line():
    with pytest.raises(UserError, match="no such user's home directory"):
        absolute_path("~no-such-user-neuralab/data.csv")


def test_zero_attention_heads_is_refused_by_its_bound_not_a_division():
    from neuralab.build import resolve
    from neuralab.registry import RECIPES

    with pytest.raises(UserError, match=r"--model.heads: must be >= 1, got 0"):
        resolve(RECIPES.get("transformer-tweets"), {"model": {"heads": 0}})

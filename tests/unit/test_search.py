"""Search spaces from --param, Optuna studies (seeded, resumed, checked) and the grid-vs-random experiment."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from neuralab import checkpoint
from neuralab.build import resolve
from neuralab.contracts import RunContext
from neuralab.engine import fit
from neuralab.errors import UserError
from neuralab.experiments.random_vs_grid import RandomOptima, RandomOptimaConfig, RandomVsGrid, RandomVsGridConfig
from neuralab.experiments.random_vs_grid_objective import LowEffectiveDimension, LowEffectiveDimensionConfig
from neuralab.registry import RECIPES
from neuralab.studies.optuna_setup import import_optuna
from neuralab.studies.search import TrialRow, refit_and_test, run_search, trial_count
from neuralab.studies.search_selection import DEFAULT_VAL_FRACTION, counterpart, select_by
from neuralab.studies.search_space import candidates, parse_param, parse_params, space_size, split_top_level
from tests.conftest import assert_png_drawn

TINY = {"run": {"steps": "2", "device": "cpu"}}


def sections(name="mlp-digits"):
    return resolve(RECIPES.get(name), {})


def test_each_kind_parses_into_its_range_and_grid():
    s = sections()
    lr = parse_param("lr=log:1e-4:1e-2", s)
    assert (lr.section, lr.name, lr.kind, lr.low, lr.high) == ("method", "lr", "log", 1e-4, 1e-2)
    assert lr.grid(3) == pytest.approx([1e-4, 1e-3, 1e-2])
    assert parse_param("method.momentum=float:0:0.9", s).grid(4) == pytest.approx([0, 0.3, 0.6, 0.9])
    assert parse_param("data.batch_size=int:16:64", s).grid(3) == [16, 40, 64]
    hidden = parse_param("model.hidden=choice:16,(64,32),(128,)", s)
    assert hidden.choices == (16, "(64,32)", "(128,)") and hidden.grid(3) == [16, "(64,32)", "(128,)"]
    bare = parse_param("optimizer=adam,sgd", s)  # no kind: a list of choices
    assert (bare.key, bare.kind, bare.choices) == ("method.optimizer", "choice", ("adam", "sgd"))


def test_split_keeps_commas_inside_brackets():
    assert split_top_level("a, (1,2),[3,4] ,b") == ["a", "(1,2)", "[3,4]", "b"]


@pytest.mark.parametrize("text, words", [
    ("lr", ["expected FIELD=log:LO:HI"]),
    ("lr=", ["expected"]),
    ("lr=lgo:1e-4:1", ["unknown kind 'lgo'"]),
    ("lr=log:0:1", ["lower bound above 0"]),
    ("lr=float:0.1:0.01", ["lower bound must be below"]),
    ("lr=log:1e-4", ["two bounds"]),
    ("lr=float:a:1", ["'a' is not a number"]),
    ("data.batch_size=int:1.5:4", ["whole numbers"]),
    ("method.lr=float:-1:1", ["--method.lr", "must be > 0"]),
    ("model.hidden=choice:a,b", ["--model.hidden", "expected an integer"]),
    ("method.optimizer=adam,adamx", ["not one of"]),
    ("nosuch=1,2", ["no config section has a field 'nosuch'"]),
    ("optim.lr=1,2", ["unknown config section 'optim'"]),
    ("method.lrr=1,2", ["method has no field 'lrr'"]),
    ("lr=1e-3,1e-3", ["listed twice"]),
])
def test_bad_specs_are_one_line_user_errors(text, words):
    with pytest.raises(UserError) as err:
        parse_param(text, sections())
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"--param {text}")
    for word in words:
        assert word in message


def test_a_bare_field_two_sections_share_must_name_its_section():
    s = sections("lenet5-digits")  # image_size is a field of model and of data
    with pytest.raises(UserError, match="model and data; write model.image_size or data.image_size"):
        parse_param("image_size=28,32", s)
    assert parse_param("model.image_size=28,32", s).key == "model.image_size"
    with pytest.raises(UserError, match="given twice"):
        parse_params(["lr=1e-3,1e-2", "method.lr=log:1e-4:1e-1"], sections())


def test_candidates_are_the_full_grid_of_choices():
    s = sections()
    grid = candidates(parse_params(["lr=1e-3,1e-2", "model.hidden=16,32,64"], s))
    assert len(grid) == 6 and {"method.lr": 1e-2, "model.hidden": 32} in grid
    with pytest.raises(UserError, match="takes a list of values"):
        candidates([parse_param("lr=log:1e-4:1e-2", s)])


def test_missing_optuna_is_a_one_line_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # makes `import optuna` raise ImportError
    with pytest.raises(UserError, match=r'pip install "neuralab\[search\]"'):
        import_optuna()


def _run(run_dir):
    """A finished run's config sections and final metrics."""
    config = json.loads((run_dir / "config.json").read_text())["sections"]
    return config, json.loads((run_dir / "summary.json").read_text())["metrics"]


def test_grid_search_chooses_on_validation_and_tests_the_refit_once(tmp_path):
    recipe = RECIPES.get("mlp-digits")
    specs = parse_params(["lr=log:1e-3:1e-1", "model.hidden=8,16"], sections())
    result = run_search(recipe, specs, TINY, trials=None, sampler="grid", grid_points=2, out=tmp_path)
    assert len(result.complete) == 4  # 2 grid points of lr x 2 hidden sizes
    tried = {(round(r.params["method.lr"], 12), r.params["model.hidden"]) for r in result.rows}
    assert tried == {(round(lr, 12), h) for lr in (1e-3, 1e-1) for h in (8, 16)}
    for row in result.rows:  # each trial holds out 20% of the training data and is scored by val/acc there
        config, metrics = _run(tmp_path / f"trial-{row.number}")
        assert config["data"]["val_fraction"] == DEFAULT_VAL_FRACTION
        assert row.value == metrics["val/acc"] and "test/acc" in metrics  # logged by the run, never read
    assert result.best.value == max(r.value for r in result.rows)
    # the best values, retrained on train + val, give the one test score of the search
    final = result.final
    assert final.trial == result.best.number and final.run_dir == tmp_path / f"final-trial-{final.trial}"
    config, metrics = _run(final.run_dir)
    assert config["data"]["val_fraction"] == 0 and not final.kept_val
    assert config["method"]["lr"] == pytest.approx(result.best.params["method.lr"])
    assert config["model"]["hidden"] == [result.best.params["model.hidden"]]
    assert final.metric == "test/acc" and final.value == metrics["test/acc"]
    assert result.report.count("test/acc") == 1 and f"test/acc {final.value:.4f} (the test set, read once)" in \
        result.report.splitlines()[-1]
    csv_rows = (tmp_path / "search.csv").read_text().splitlines()
    assert csv_rows[0] == "trial,state,method.lr,model.hidden,val/acc" and len(csv_rows) == 5
    assert_png_drawn(tmp_path / "search.png")


def test_counterpart_names_the_other_split():
    assert counterpart("test/acc", "test", "val") == "val/acc"
    assert counterpart("worst/test_acc", "test", "val") == "worst/val_acc"
    assert counterpart("val/loss", "val", "test") == "test/loss"
    assert counterpart("eval/return", "test", "val") is None and counterpart("train/loss", "val", "test") is None
    assert counterpart("acc", "test", "val") is None


def test_selection_reads_validation_and_refuses_the_test_set():
    recipe = RECIPES.get("mlp-digits")
    default = select_by(recipe, sections(), {}, None, None)  # the recipe's test/acc becomes val/acc
    assert (default.target.metric, default.target.maximize) == ("val/acc", True)
    assert (default.test_metric, default.val_fraction) == ("test/acc", DEFAULT_VAL_FRACTION)
    assert default.trial_overrides({"run": {"steps": "2"}}) == {"run": {"steps": "2"}, "data": {"val_fraction": "0.2"}}
    own = {"data": {"val_fraction": "0.3"}}
    assert select_by(recipe, resolve(recipe, own), own, "val/acc", None).val_fraction == 0.3  # the user's share
    loss = select_by(recipe, sections(), {}, "val/loss", "minimize")
    assert (loss.target.maximize, loss.test_metric) == (False, "test/loss")
    with pytest.raises(UserError, match="--metric test/acc: a search must not choose by the test set.*--metric "
                                        "val/acc"):
        select_by(recipe, sections(), {}, "test/acc", "maximize")
    with pytest.raises(UserError, match="also give --direction"):
        select_by(recipe, sections(), {}, "val/loss", None)
    zero = {"data": {"val_fraction": "0"}}
    with pytest.raises(UserError, match="--data.val_fraction 0: a search chooses on a validation split"):
        select_by(recipe, resolve(recipe, zero), zero, None, None)
    rl = RECIPES.get("random-vs-grid")  # a metric without a test split: used as it is, nothing to test once
    plain = select_by(rl, sections("random-vs-grid"), {}, None, None)
    assert (plain.target.metric, plain.test_metric, plain.trial_overrides({})) == (rl.monitor_key, None, {})


def test_a_search_that_varies_nothing_or_repeats_configurations_is_refused():
    s = sections()
    fixed = parse_params(["lr=1e-3"], s)
    for sampler in ("tpe", "random", "grid"):
        with pytest.raises(UserError, match="--trials 2: nothing varies .*lr=1e-3.*same configuration"):
            trial_count(fixed, sampler, 2, 3)
        assert trial_count(fixed, sampler, 1, 3) == 1
    two_by_three = parse_params(["lr=1e-3,1e-2", "data.batch_size=int:16:18"], s)
    assert space_size(two_by_three) == 6 and space_size(parse_params(["lr=log:1e-3:1e-1"], s)) is None
    with pytest.raises(UserError, match="only 6 configurations, so some would be trained twice"):
        trial_count(two_by_three, "tpe", 7, 3)
    assert trial_count(two_by_three, "tpe", 6, 3) == 6
    assert trial_count(parse_params(["lr=log:1e-3:1e-1"], s), "random", 50, 3) == 50


def test_unseeded_search_is_reproducible_without_storage(tmp_path):
    recipe = RECIPES.get("mlp-digits")
    specs = parse_params(["lr=log:1e-4:1e-1"], sections())
    runs = [run_search(recipe, specs, TINY, trials=2, sampler="random", out=tmp_path / str(i), seed=7)
            for i in range(2)]
    assert [r.params for r in runs[0].rows] == [r.params for r in runs[1].rows]


def test_a_stored_study_resumes_to_the_total_and_refuses_another_search(tmp_path):
    recipe = RECIPES.get("mlp-digits")
    specs = parse_params(["lr=log:1e-4:1e-1"], sections())
    kw = dict(sampler="random", out=tmp_path / "out", storage=f"sqlite:///{tmp_path / 's.db'}", study_name="s")
    first = run_search(recipe, specs, TINY, trials=2, **kw)
    stamp = (tmp_path / "out" / "trial-0" / "summary.json").stat().st_mtime_ns
    second = run_search(recipe, specs, TINY, trials=3, **kw)
    assert [r.number for r in first.complete] == [0, 1] and [r.number for r in second.complete] == [0, 1, 2]
    assert second.rows[0].params == first.rows[0].params
    assert (tmp_path / "out" / "trial-0" / "summary.json").stat().st_mtime_ns == stamp  # not rerun
    tested = (second.final.run_dir / "summary.json").stat().st_mtime_ns
    again = run_search(recipe, specs, TINY, trials=3, **kw)  # already complete: nothing to do
    assert len(again.rows) == 3 and again.final.value == second.final.value
    assert (again.final.run_dir / "summary.json").stat().st_mtime_ns == tested  # the test set is not read again
    with pytest.raises(UserError, match="it was created with params"):
        run_search(recipe, parse_params(["lr=log:1e-3:1e-1"], sections()), TINY, trials=3, **kw)


def test_search_argument_errors(tmp_path):
    recipe = RECIPES.get("mlp-digits")
    specs = parse_params(["lr=1e-3,1e-2"], sections())
    with pytest.raises(UserError, match="the grid has only 2 points"):
        run_search(recipe, specs, TINY, trials=3, sampler="grid", out=tmp_path)
    with pytest.raises(UserError, match="--trials"):
        run_search(recipe, specs, TINY, trials=None, sampler="tpe", out=tmp_path)
    with pytest.raises(UserError, match="also give --direction"):
        run_search(recipe, specs, TINY, trials=1, sampler="tpe", out=tmp_path, metric="val/loss")
    with pytest.raises(UserError, match="--metric test/loss: a search must not choose by the test set"):
        run_search(recipe, specs, TINY, trials=1, sampler="tpe", out=tmp_path, metric="test/loss",
                   direction="minimize")
    with pytest.raises(UserError, match="mlp-digits reports no val/nope to choose by; it reports test/acc"):
        run_search(recipe, specs, TINY, trials=1, sampler="tpe", out=tmp_path, metric="val/nope",
                   direction="maximize")
    with pytest.raises(UserError, match="--param data.val_fraction=0.1,0.3: every trial must be scored on the same"):
        run_search(recipe, parse_params(["data.val_fraction=0.1,0.3"], sections()), TINY, trials=2,
                   sampler="grid", out=tmp_path)
    with pytest.raises(UserError, match="--storage nosuchdb://x"):
        run_search(recipe, specs, TINY, trials=1, sampler="tpe", out=tmp_path, storage="nosuchdb://x")


def _experiment(budget=16, repetitions=12, seed=0):
    model = LowEffectiveDimension(LowEffectiveDimensionConfig())
    data = RandomOptima(RandomOptimaConfig(repetitions=repetitions), seed)
    method = RandomVsGrid(RandomVsGridConfig(budget=budget), model, data, RunContext(repetitions, "cpu", seed, None))
    return method, data


def test_objective_matches_its_formula():
    model = LowEffectiveDimension(LowEffectiveDimensionConfig(x_weight=2.0, y_weight=0.5))
    d = torch.tensor([[0.1, -0.2], [0.0, 0.4]])
    assert torch.allclose(model(d), 2.0 * d[:, 0] ** 2 + 0.5 * d[:, 1] ** 2)


def test_grid_and_random_best_values_against_brute_force():
    method, data = _experiment(budget=9, repetitions=5)
    for _ in range(5):
        optimum = data.next_batch()
        metrics = method.step(optimum)
        ox, oy = optimum.tolist()
        g = (np.arange(3) + 0.5) / 3  # the grid at the cell centres
        brute = min((x - ox) ** 2 + 0.01 * (y - oy) ** 2 for x in g for y in g)
        assert metrics["grid/best"] == pytest.approx(brute, rel=1e-5)
        pts = np.array(method.last["random"])
        assert len(pts) == 9 and ((pts >= 0) & (pts <= 1)).all()
        assert metrics["random/best"] == pytest.approx(((pts[:, 0] - ox) ** 2 + 0.01 * (pts[:, 1] - oy) ** 2).min(),
                                                       rel=1e-5)
    m = method.evaluate()
    assert m["grid/distinct_x"] == 3 and m["random/distinct_x"] == 9


def test_experiment_state_round_trips_and_budget_must_be_square(tmp_path):
    method, data = _experiment(repetitions=3)
    for _ in range(3):
        method.step(data.next_batch())
    other, _ = _experiment(repetitions=3)
    other.load_state_dict(method.state_dict())
    assert other.evaluate() == method.evaluate()
    assert "| random | 16 | 16 |" in other.report()
    assert_png_drawn(other.plot(tmp_path)[0])
    with pytest.raises(UserError, match="must be a square"):
        _experiment(budget=10)


def test_with_early_stopping_the_refit_keeps_its_validation_split(tmp_path):
    # without a validation split, early stopping would stop on the test split
    recipe = RECIPES.get("mlp-digits")
    overrides = {"run": {"steps": "2", "device": "cpu", "patience": "3"}, "data": {"val_fraction": "0.25"}}
    result = run_search(recipe, parse_params(["lr=1e-3,1e-2"], sections()), overrides, trials=1, sampler="tpe",
                        out=tmp_path)
    config, metrics = _run(result.final.run_dir)
    assert result.final.kept_val and config["data"]["val_fraction"] == 0.25 and "val/acc" in metrics
    assert "retrained on the training part (validation kept for early stopping)" in result.report


def test_a_refit_stopped_before_its_summary_resumes_from_its_checkpoint(tmp_path):
    recipe = RECIPES.get("mlp-digits")
    best = TrialRow(4, "COMPLETE", {"method.lr": 0.01}, 0.5, "")
    selection = select_by(recipe, sections(), {}, None, None)
    run_dir = tmp_path / "final-trial-4"
    fit(recipe, {**TINY, "method": {"lr": "0.01"}, "data": {"val_fraction": "0"}}, out=run_dir, progress=False)
    tested = _run(run_dir)[1]["test/acc"]
    (run_dir / "summary.json").unlink()  # as if the process died after its last checkpoint
    final = refit_and_test(recipe, TINY, best, selection, tmp_path)  # a fresh fit would refuse the folder
    assert checkpoint.latest_step(run_dir / "checkpoints") == 2 and final.value == tested
    assert _run(run_dir)[1]["test/acc"] == tested

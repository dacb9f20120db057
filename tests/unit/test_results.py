"""`neuralab results`: aggregation over seeds, marker replacement, and one tiny end-to-end run of the command."""

from __future__ import annotations

import json
import math

import pytest

from neuralab.errors import UserError
from neuralab.studies.results import RecipeResult, SeedRun, Spread, format_row, replace_block
from tests.conftest import run_main


def _run(seed: int, acc: float | None, seconds: float) -> SeedRun:
    ok = acc is not None and acc >= 0.9
    return SeedRun(seed, {"test/acc": {"op": ">=", "target": 0.9, "value": acc, "ok": ok}}, seconds)


def test_spread_by_hand():
    s = Spread.of([0.8, 0.9, 1.0])
    assert s.mean == pytest.approx(0.9)
    assert s.std == pytest.approx(0.1)  # sample std: sqrt((0.01 + 0 + 0.01) / 2)
    assert (s.min, s.max) == (0.8, 1.0)
    assert Spread.of([2.0]).std == 0.0


def test_recipe_result_counts_seeds_that_reached_and_skips_missing_values():
    result = RecipeResult("r", "F1", {"test/acc": (">=", 0.9)},
                          [_run(0, 0.8, 1.0), _run(1, 0.95, 2.0), _run(2, None, 3.0), _run(3, 1.0, 6.0)])
    assert result.reached == 2
    acc = result.metric("test/acc")
    assert acc.mean == pytest.approx((0.8 + 0.95 + 1.0) / 3)
    assert (acc.min, acc.max) == (0.8, 1.0)
    assert result.seconds.mean == pytest.approx(3.0)
    assert result.seconds.std == pytest.approx(math.sqrt((4 + 1 + 0 + 9) / 3))
    row = format_row(result)
    assert row.startswith("| `r` | F1 | test/acc >= 0.9 | test/acc = 0.9167 ± 0.1041 [0.8, 1] | **2/4** | ")
    assert row.endswith("| 3.0 ± 2.2 s |")


def test_extra_columns_aggregate_final_metrics_over_the_seeds_that_have_them():
    runs = [SeedRun(0, {}, 1.0, {"test/map": 0.5, "time/test_images_per_s": 40.0}),
            SeedRun(1, {}, 1.0, {"test/map": 0.7, "time/test_images_per_s": 44.0}), SeedRun(2, {}, 1.0, {})]
    row = format_row(RecipeResult("det", "C8", {}, runs), ["test/map", "time/test_images_per_s", "test/none"])
    assert row.endswith("| 1.0 ± 0.0 s | 0.6 ± 0.1414 | 42 ± 2.828 | n/a |")


def test_replace_block_changes_only_the_named_block():
    text = ("intro\n<!-- results:start -->\nold\n<!-- results:end -->\nmiddle\n"
            "<!-- results:mlp:start -->\nold mlp\n<!-- results:mlp:end -->\noutro\n")
    new = replace_block(text, "mlp", "| new |")
    assert new == text.replace("old mlp", "| new |")
    assert replace_block(text, None, "top") == text.replace("\nold\n", "\ntop\n")


@pytest.mark.parametrize("text", ["no markers\n", "<!-- results:x:end -->\n<!-- results:x:start -->\n",
                                  "<!-- results:x:start -->\n<!-- results:x:start -->\n<!-- results:x:end -->\n"])
def test_replace_block_without_a_proper_pair_of_markers_is_one_clear_error(text):
    with pytest.raises(UserError, match=r"README.md needs exactly one <!-- results:x:start --> line"):
        replace_block(text, "x", "table", where="README.md")


def test_results_command_writes_the_table_between_markers(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("# Doc\n\n<!-- results:foundations:start -->\nstale\n<!-- results:foundations:end -->\n\nend\n")
    r = run_main("results", "--family", "foundations", "--recipes", "perceptron-and", "--seeds", "2",
                "--write", doc, "--out", tmp_path / "runs", "--quiet", "--run.threads", "3",
                "--columns", "train/updates")
    assert r.returncode == 0, r.stderr
    lines = doc.read_text().splitlines()
    assert lines[:3] == ["# Doc", "", "<!-- results:foundations:start -->"]
    assert lines[-3:] == ["<!-- results:foundations:end -->", "", "end"]
    assert "`neuralab results --family foundations --recipes perceptron-and --seeds 2" in lines[3]
    assert "torch CPU capability" in lines[3] and ", 3 torch threads," in lines[3], "the runs' threads"
    row = lines[-4]
    assert row.startswith("| `perceptron-and` | F1 | test/acc >= 1; train/converged == 1 | test/acc = 1 ± 0 [1, 1]; ")
    assert "| 2/2 |" in row
    assert lines[5].endswith("| wall time | train/updates |") and row.count("|") == 8, "the extra column"
    assert not row.endswith("| n/a |"), row
    assert sorted(p.name for p in (tmp_path / "runs" / "perceptron-and").iterdir()) == ["seed-0", "seed-1"]

    bad = run_main("results", "--recipes", "perceptron-and", "--seeds", "1", "--write", doc,
                  "--out", tmp_path / "runs", "--quiet")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"neuralab: error: {doc} needs exactly one <!-- results:start --> line followed by one "
        "<!-- results:end --> line to write the table between them"]
    assert "| `perceptron-and` |" in doc.read_text()  # the earlier table is untouched


def test_results_report_writes_the_recipes_own_report_for_seed_0(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- results:report:perceptron-and:start -->\n<!-- results:report:perceptron-and:end -->\n")
    r = run_main("results", "--report", "perceptron-and", "--write", doc, "--out", tmp_path / "runs")
    assert r.returncode == 0, r.stderr
    text = doc.read_text()
    assert "Generated by `neuralab results --report perceptron-and --write" in text
    summary = json.loads((tmp_path / "runs" / "perceptron-and" / "seed-0" / "summary.json").read_text())
    assert summary["report"].strip() in text


def test_results_report_reuse_takes_a_finished_run_of_the_same_configuration_and_trains_otherwise(tmp_path):
    runs, doc = tmp_path / "runs", tmp_path / "doc.md"
    doc.write_text("<!-- results:report:perceptron-and:start -->\n<!-- results:report:perceptron-and:end -->\n")
    assert run_main("results", "--recipes", "perceptron-and", "--seeds", "1", "--out", runs, "--quiet").returncode == 0
    summary = runs / "perceptron-and" / "seed-0" / "summary.json"
    stamp = summary.stat().st_mtime_ns
    r = run_main("results", "--report", "perceptron-and", "--reuse", "--write", doc, "--out", runs)
    assert r.returncode == 0, r.stderr
    assert summary.stat().st_mtime_ns == stamp  # not trained again
    assert json.loads(summary.read_text())["report"].strip() in doc.read_text()
    assert "--report perceptron-and --reuse" in doc.read_text()
    # another configuration than the finished run's: trained afresh
    r = run_main("results", "--report", "perceptron-and", "--reuse", "--method.lr", "0.5", "--out", runs)
    assert r.returncode == 0, r.stderr
    assert summary.stat().st_mtime_ns != stamp
    config = json.loads((runs / "perceptron-and" / "seed-0" / "config.json").read_text())
    assert config["sections"]["method"]["lr"] == 0.5


def test_results_table_reuse_reads_seeds_trained_beforehand_and_trains_the_rest(tmp_path):
    runs, doc = tmp_path / "runs", tmp_path / "doc.md"
    doc.write_text("<!-- results:t:start -->\n<!-- results:t:end -->\n")
    # seed 1 trained on its own beforehand (as seeds too slow to train one after another are, side by side)
    assert run_main("train", "perceptron-and", "--run.seed", "1", "--out", runs / "perceptron-and" / "seed-1",
                   "--quiet").returncode == 0
    summary = runs / "perceptron-and" / "seed-1" / "summary.json"
    stamp = summary.stat().st_mtime_ns
    r = run_main("results", "--recipes", "perceptron-and", "--seeds", "2", "--reuse", "--block", "t", "--write", doc,
                "--out", runs)
    assert r.returncode == 0, r.stderr
    assert summary.stat().st_mtime_ns == stamp  # seed 1 read, not trained again
    assert "perceptron-and seed 1: reached read from its finished run" in r.stderr
    assert (runs / "perceptron-and" / "seed-0" / "summary.json").exists()  # seed 0 had no run: trained
    text = doc.read_text()
    assert "--reuse" in text and "Read from runs finished before this command" in text and "`perceptron-and` 1." in text
    assert "| 2/2 |" in text
    # a reused seed is checked against the recipe's expectation as it stands (the table's "expected" column), not
    # the checks its summary recorded when it trained (those of the recipe then)
    saved = json.loads(summary.read_text())
    saved["expect"] = {key: {**check, "ok": False} for key, check in saved["expect"].items()}
    summary.write_text(json.dumps(saved))
    r = run_main("results", "--recipes", "perceptron-and", "--seeds", "2", "--reuse", "--block", "t", "--write", doc,
                 "--out", runs)
    assert r.returncode == 0, r.stderr
    assert "| 2/2 |" in doc.read_text()
    # a finished run of another configuration is not reused: finished_run compares the whole resolved config
    # (tested by the --report test above)


def test_results_nll_adds_each_seeds_test_likelihood_as_eval_nll_computes_it(tmp_path):
    from neuralab.api import load

    runs = tmp_path / "runs"
    # 8 hidden units: log Z exact by enumeration, so the estimate is deterministic
    r = run_main("results", "--recipes", "rbm-mnist", "--seeds", "1", "--nll", "5", "--columns", "test/nll,test/log_z",
                "--model.hidden", "8", "--run.steps", "3", "--out", runs, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "--nll 5" in r.stdout.splitlines()[0]
    row = next(line for line in r.stdout.splitlines() if line.startswith("| `rbm-mnist` |"))
    nll = load(runs / "rbm-mnist" / "seed-0").run.method.log_likelihood(5)["test/nll"]
    assert row.split("|")[-3].strip() == f"{nll:.4g} ± 0", "the test/nll column: one seed's estimate"
    assert 0 < nll < 784 * math.log(2) + 1, "an 8-unit RBM's nats per binarised digit"

    bad = run_main("results", "--recipes", "perceptron-and", "--nll", "5", "--out", runs)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "neuralab: error: --nll: perceptron-and has no likelihood to estimate (its method, perceptron, cannot)"]

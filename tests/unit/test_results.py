"""`neuralab results`: aggregation over seeds, marker replacement, and one tiny end-to-end run of the command."""

from __future__ import annotations

import math

import pytest

from neuralab.errors import UserError
from neuralab.studies.results import RecipeResult, SeedRun, Spread, format_row, replace_block
from tests.conftest import run_cli


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
    r = run_cli("results", "--family", "foundations", "--recipes", "perceptron-and", "--seeds", "2",
                "--write", doc, "--out", tmp_path / "runs", "--quiet")
    assert r.returncode == 0, r.stderr
    lines = doc.read_text().splitlines()
    assert lines[:3] == ["# Doc", "", "<!-- results:foundations:start -->"]
    assert lines[-3:] == ["<!-- results:foundations:end -->", "", "end"]
    assert "`neuralab results --family foundations --recipes perceptron-and --seeds 2" in lines[3]
    assert "torch CPU capability" in lines[3] and "torch threads" in lines[3]
    row = lines[-4]
    assert row.startswith("| `perceptron-and` | F1 | test/acc >= 1; train/converged == 1 | test/acc = 1 ± 0 [1, 1]; ")
    assert "| 2/2 |" in row
    assert sorted(p.name for p in (tmp_path / "runs" / "perceptron-and").iterdir()) == ["seed-0", "seed-1"]

    bad = run_cli("results", "--recipes", "perceptron-and", "--seeds", "1", "--write", doc,
                  "--out", tmp_path / "runs", "--quiet")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        f"neuralab: error: {doc} needs exactly one <!-- results:start --> line followed by one "
        "<!-- results:end --> line to write the table between them"]
    assert "| `perceptron-and` |" in doc.read_text()  # the earlier table is untouched

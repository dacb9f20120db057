"""The CLI's commands and its one-line answers to user mistakes."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_png_drawn, run_main


def test_list_and_family_filter():
    r = run_main("list")
    assert r.returncode == 0 and "lenet5-mnist" in r.stdout and "mlp-mnist" in r.stdout
    r = run_main("list", "--family", "cnn")
    assert r.returncode == 0 and "lenet5-mnist" in r.stdout and "mlp-mnist" not in r.stdout


def test_info_shows_paper_fields_and_parameter_count():
    r = run_main("info", "lenet5-mnist")
    assert r.returncode == 0
    assert "LeCun" in r.stdout and "parameters: 61,706" in r.stdout
    assert "--method.lr (float, default 0.006)" in r.stdout and "--data.path" in r.stdout


@pytest.mark.parametrize("args, words", [
    (["train", "lenet5-mnis"], ["unknown recipe 'lenet5-mnis'", "lenet5-mnist"]),
    (["train", "mlp-digits", "--method.lr", "-0.1"], ["--method.lr", "must be > 0"]),
    (["train", "mlp-digits", "--method.optimiser", "adam"], ["unknown field --method.optimiser", "optimizer"]),
    (["train", "mlp-digits", "--run.epochs", "many"], ["--run.epochs", "expected a number"]),
    (["train", "mlp-digits", "--method.optimizer", "adamx"], ["not one of", "adamw"]),
    (["train", "mlp-digits", "--optim.lr", "1"], ["unknown config section 'optim'", "method"]),
    (["train", "mlp-digits", "--device", "cuda:0"], ["--device"]),
    (["train", "mlp-digits", "stray"], ["unexpected argument 'stray'"]),
    (["eval", "/nonexistent/run"], ["not a run directory"]),
    (["info", "lenet"], ["unknown model 'lenet'", "lenet5"]),
    (["frobnicate"], ["invalid choice"]),
])
def test_user_mistakes_give_one_line_and_exit_2(args, words):
    r = run_main(*args)
    if args[:3] == ["train", "mlp-digits", "--device"] and r.returncode == 0:
        pytest.skip("a CUDA device is present")
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for word in words:
        assert word in lines[0]


def test_places_that_cannot_hold_a_run_are_refused_before_anything_is_written(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    for out in (a_file, a_file / "sub"):
        r = run_main("train", "mlp-xor", "--quiet", "--out", out)
        assert r.returncode == 2 and "is a file, not a folder" in r.stderr and "Traceback" not in r.stderr
    assert a_file.read_text() == "mine"
    r = run_main("train", "mlp-xor", "--quiet", "--out", tmp_path / "run", "--run.steps", "2")
    assert r.returncode == 0, r.stderr
    bad = run_main("predict", tmp_path / "run", a_file, "--top", "-1")
    assert bad.returncode == 2 and "--top: -1 is below 1" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_an_image_model_on_a_csv_is_refused_before_the_run_directory_exists(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20)))
    out = tmp_path / "run"
    r = run_main("train", "lenet5-digits", "--quiet", "--data.path", table, "--out", out)
    assert r.returncode == 2 and "takes images" in r.stderr and "mlp" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()


def test_plot_writes_curves_and_early_stopping_stops(tmp_path):
    out = tmp_path / "run"
    # lr 0 cannot improve validation accuracy, so patience 2 ends the run after 3 evaluations
    args = ["train", "mlp-digits", "--quiet", "--method.optimizer", "sgd", "--method.lr", "1e-12",
            "--run.patience", "2", "--run.eval_every", "5", "--run.epochs", "20"]
    refused = run_main(*args, "--out", tmp_path / "no-val")
    assert refused.returncode == 2 and "--data.val_fraction" in refused.stderr and "Traceback" not in refused.stderr
    r = run_main(*args, "--out", out, "--data.val_fraction", "0.2")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_early"] and summary["step"] == 15
    (out / "plots" / "curves.png").unlink()
    r = run_main("plot", out)
    assert r.returncode == 0, r.stderr
    assert_png_drawn(out / "plots" / "curves.png")
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "train/loss", "test/acc"} <= set(header)


def test_seed_changes_result_and_same_seed_repeats(tmp_path):
    def final(seed, name):
        out = tmp_path / name
        assert run_main("train", "mlp-digits", "--quiet", "--out", out, "--run.epochs", "1", "--seed", seed,
                       "--run.deterministic", "true").returncode == 0
        return json.loads((out / "summary.json").read_text())["metrics"]["train/loss"]

    assert final(1, "a") == final(1, "b") != final(2, "c")


def test_progress_lines_show_loss_metric_and_eta_when_not_a_terminal(tmp_path):
    r = run_main("train", "mlp-digits", "--out", tmp_path / "run", "--run.epochs", "2")
    assert r.returncode == 0, r.stderr
    last = [line for line in r.stderr.splitlines() if line.startswith("mlp-digits step")][-1]
    assert "step 46/46 (100%)" in last and "train/loss" in last and "test/acc" in last and "eta" in last

"""`neuralab cv`, `ensemble` and `search` end to end, including two processes on one SQLite study and a
search that resumes after its process is killed."""

from __future__ import annotations

import csv
import signal
import time

import pytest

from neuralab.cli import main
from tests.conftest import assert_png_drawn, popen_cli, run_cli, run_main

TINY = ["--run.steps", "3", "--run.device", "cpu"]


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_cv_prints_and_writes_the_fold_table(tmp_path):
    r = run_main("cv", "mlp-digits", "--folds", "2", "--out", tmp_path, *TINY)
    assert r.returncode == 0, r.stderr
    assert "fold 1/2: held-out/acc" in r.stdout and "| fold | train | held out | held-out/acc |" in r.stdout
    assert "held-out/acc over 2 folds: mean" in r.stdout and "test/" not in r.stdout
    assert len(_rows(tmp_path / "cv.csv")) == 2 and (tmp_path / "cv.md").exists()


def test_nested_cv_reports_the_chosen_values(tmp_path):
    # which value wins is tested in tests/unit/test_cross_validation.py; here: flags, table and files
    r = run_main("cv", "mlp-digits", "--nested", "--folds", "2", "--inner-folds", "2", "--param", "lr=1e-3,1e-2",
                "--out", tmp_path, "--quiet", "--run.steps", "2", "--run.device", "cpu")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("| outer fold | train | held out | method.lr | inner mean held-out/acc | "
                               "outer held-out/acc |")  # --quiet
    rows = _rows(tmp_path / "nested-cv.csv")
    assert len(rows) == 2 and {row["method.lr"] for row in rows} <= {"0.001", "0.01"}
    assert len(_rows(tmp_path / "inner-scores.csv")) == 4
    assert "outer held-out/acc over 2 outer folds: mean" in r.stdout


def test_ensemble_reports_members_and_gain(tmp_path):
    r = run_main("ensemble", "mlp-digits", "--members", "2", "--combine", "vote", "--out", tmp_path, *TINY)
    assert r.returncode == 0, r.stderr
    assert "| ensemble (vote of 2) |" in r.stdout and "ensemble gain (ensemble - mean member):" in r.stdout
    assert [row["seed"] for row in _rows(tmp_path / "ensemble.csv")][:2] == ["0", "1"]


def test_search_chooses_on_validation_then_tests_once(tmp_path):
    r = run_main("search", "mlp-digits", "--param", "lr=log:1e-3:1e-1", "--sampler", "grid", "--grid-points", "2",
                "--out", tmp_path, *TINY)
    assert r.returncode == 0, r.stderr
    assert "trial 0 complete: val/acc" in r.stdout
    assert "2 complete trials on a validation split (data.val_fraction 0.2); best val/acc" in r.stdout
    rows = _rows(tmp_path / "search.csv")
    best = max(rows, key=lambda row: float(row["val/acc"]))["trial"]
    tested = [line for line in r.stdout.splitlines() if "test/acc" in line]
    assert len(tested) == 2 and tested[0] == f"final: {tested[1]}"  # the progress line and the report's
    assert tested[1].startswith(f"best values (trial {best}) retrained on train + val in "
                                f"{tmp_path / f'final-trial-{best}'}: test/acc ")
    assert tested[1].endswith("(the test set, read once)")
    assert len(rows) == 2
    assert_png_drawn(tmp_path / "search.png")


@pytest.mark.parametrize("args, words", [
    (["search", "mlp-digits", "--param", "lr=log:0:1", "--trials", "2"], ["--param lr=log:0:1", "above 0"]),
    (["search", "mlp-digits", "--param", "lr", "--trials", "2"], ["--param lr: expected FIELD="]),
    (["search", "mlp-digits", "--param", "nosuch=1,2", "--trials", "2"], ["no config section has a field"]),
    (["search", "lenet5-digits", "--param", "image_size=28,32", "--trials", "2"], ["model.image_size or"]),
    (["search", "mlp-digits", "--param", "lr=1e-3,1e-2", "--sampler", "grid", "--trials", "5"],
     ["the grid has only 2 points"]),
    (["search", "mlp-digits", "--param", "lr=1e-3,1e-2", "--sampler", "bayes"], ["invalid choice: 'bayes'"]),
    (["search", "mlp-digits", "--param", "lr=1e-3,1e-2", "--trials", "1", "--storage", "nosuchdb://x"],
     ["--storage nosuchdb://x"]),
    (["search", "mlp-digits", "--param", "lr=1e-3,1e-2", "--trials", "1", "--metric", "val/loss"],
     ["--direction"]),
    (["search", "mlp-digits", "--param", "lr=1e-3,1e-2", "--trials", "1", "--metric", "test/acc"],
     ["--metric test/acc: a search must not choose by the test set", "--metric val/acc"]),
    (["search", "mlp-digits", "--param", "lr=1e-3", "--trials", "2"], ["--trials 2: nothing varies"]),
    (["search", "mlp-digits", "--param", "lr=1e-3,1e-2", "--sampler", "random", "--trials", "3"],
     ["only 2 configurations, so some would be trained twice"]),
    (["cv", "mlp-digits", "--run.patience", "2"], ["--run.patience 2: each fold's run would stop early"]),
    (["cv", "mlp-digits", "--param", "lr=1e-3,1e-2"], ["add --nested"]),
    (["cv", "mlp-digits", "--nested"], ["--nested: give the values"]),
    (["cv", "mlp-digits", "--folds", "1"], ["at least 2 folds"]),
    (["ensemble", "mlp-digits", "--members", "0"], ["at least one member"]),
    (["ensemble", "random-vs-grid"], ["labelled classification data set"]),
])
def test_mistakes_give_one_line_and_exit_2(args, words, tmp_path, capsys):
    # in-process (`python -m neuralab` calls this same main) to spare a torch import per case
    assert main([*args, "--out", str(tmp_path / "out"), *TINY]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0]


def test_a_bad_spec_exits_2_from_the_command_line(tmp_path):
    r = run_main("search", "mlp-digits", "--param", "lr=log:1e-1:1e-4", "--trials", "2", "--out", tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("neuralab: error: --param lr=log:1e-1:1e-4: the lower bound")
    assert len(r.stderr.strip().splitlines()) == 1


def _search_cmd(tmp_path, db, trials, steps):
    return ["search", "mlp-digits", "--param", "lr=log:1e-4:1e-1",
            "--sampler", "random", "--trials", str(trials), "--storage", f"sqlite:///{db}", "--study", "s",
            "--heartbeat", "1", "--out", str(tmp_path / "out"), "--run.steps", str(steps), "--run.device", "cpu"]


def _complete_trials_read_only(db) -> int:
    """Complete trials in the database, read without Optuna: opening it through Optuna would create its tables,
    racing the process that is creating them."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:  # not there yet, or no trials table yet
        return 0


def _trials(db):
    """The study's trials; none while the first process is still creating the database or the study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return optuna.load_study(study_name="s", storage=f"sqlite:///{db}").get_trials()
    except (KeyError, SQLAlchemyError):  # no study yet, or its tables are still being created by the process
        return []


def test_two_processes_share_one_sqlite_study(tmp_path):
    db = tmp_path / "study.db"
    procs = [popen_cli(*_search_cmd(tmp_path, db, 4, 3), read_stdout=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert err == ""  # no errors and no warnings from either process
    trials = _trials(db)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4 and not [t for t in trials if t.state.name == "FAIL"]
    assert len({t.number for t in trials}) == len(trials)
    assert len({t.params["method.lr"] for t in complete}) == 4  # the processes drew different values
    ran = [line for out, _ in outputs for line in out.splitlines() if line.startswith("trial ")]
    assert sorted(ran) == sorted(set(ran)) and len(ran) == 4  # each trial ran in exactly one process
    # the best values were retrained and tested once, in one process; the other read that run's score
    finals = [[line for line in out.splitlines() if line.startswith("final: ")] for out, _ in outputs]
    assert len(finals[0]) == len(finals[1]) == 1 and finals[0] == finals[1]
    assert len(list((tmp_path / "out").glob("final-trial-*"))) == 1
    assert len(_rows(tmp_path / "out" / "search.csv")) >= 4


def test_a_killed_search_resumes_to_its_total(tmp_path):
    db = tmp_path / "study.db"
    p = popen_cli(*_search_cmd(tmp_path, db, 3, 150), read_stderr=False)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and p.poll() is None:  # kill it once a trial is complete
        time.sleep(0.1)
        if _complete_trials_read_only(db):
            break
    p.send_signal(signal.SIGKILL)
    p.wait()
    before = {t.number: t.params for t in _trials(db) if t.state.name == "COMPLETE"}
    assert 1 <= len(before) < 3, "the first process must be killed after its first trial and before its last"
    stamps = {n: (tmp_path / "out" / f"trial-{n}" / "summary.json").stat().st_mtime_ns for n in before}
    r = run_cli(*_search_cmd(tmp_path, db, 3, 150))
    assert r.returncode == 0, r.stderr
    trials = _trials(db)
    complete = {t.number: t for t in trials if t.state.name == "COMPLETE"}
    assert len(complete) == 3 and all(complete[n].params == params for n, params in before.items())
    for n, stamp in stamps.items():  # complete trials were not rerun
        assert (tmp_path / "out" / f"trial-{n}" / "summary.json").stat().st_mtime_ns == stamp
    assert not [t for t in trials if t.state.name == "RUNNING"]
    for failed in (t for t in trials if t.state.name == "FAIL"):  # the killed trial, retried with its values
        retry = [t for t in complete.values() if t.system_attrs.get("failed_trial") == failed.number]
        # a trial killed before it drew its values (or its first heartbeat) is retried with fresh ones
        assert len(retry) == 1 and failed.params.items() <= retry[0].params.items()


def test_a_trial_whose_process_died_before_its_first_heartbeat_is_retried(tmp_path):
    # A process killed between creating a trial and its first heartbeat leaves a running trial that Optuna
    # never finds stale; the search must not wait for it forever.
    import optuna

    db = tmp_path / "study.db"
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{db}", direction="maximize")
    orphan = study.ask()  # running, with no heartbeat and no process behind it
    r = run_cli(*_search_cmd(tmp_path, db, 2, 3), timeout=240)
    assert r.returncode == 0, r.stderr
    trials = {t.number: t for t in _trials(db)}
    assert trials[orphan.number].state.name == "FAIL"
    assert sum(t.state.name == "COMPLETE" for t in trials.values()) == 2
    assert not [t for t in trials.values() if t.state.name == "RUNNING"]

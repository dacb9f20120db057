"""`neuralab report`: a run's self-contained page, the command on it that reproduces the run, --compare, bad input,
and a hostile run folder (a script tag in its config, symlinks out of it). Every recipe's report is checked by the
contract tests (tests/contract/test_recipes.py)."""

from __future__ import annotations

import json
import shlex

import pytest

from neuralab.cli import main
from tests.conftest import run_main
from tests.report_support import HOSTILE, ReportPage, runs_folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return runs_folder(tmp_path_factory.mktemp("report"))


def _report(capsys, *args):
    code = main(["report", *map(str, args)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    path = captured.out.strip()
    return path, open(path).read()


def test_the_command_on_the_report_trains_the_same_run_again(runs, tmp_path, capsys):
    path, html = _report(capsys, runs / "mlp-a")
    assert path == str(runs / "mlp-a" / "report.html")  # the default place
    page = ReportPage(html)
    command = next(line for line in html.splitlines() if "neuralab train mlp-digits" in line)
    words = shlex.split(ReportPage(command).text)
    assert words[:3] == ["neuralab", "train", "mlp-digits"] and "--method.lr" in words
    words[words.index("--out") + 1] = str(tmp_path / "again")
    r = run_main(*words[1:])
    assert r.returncode == 0, r.stderr

    def rows(run):
        return [{k: v for k, v in row.items() if k != "time"}
                for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]

    assert rows(tmp_path / "again") == rows(runs / "mlp-a")
    env = json.loads((runs / "mlp-a" / "config.json").read_text())["environment"]
    for shown in ("mlp-digits", "F3", "Rumelhart", "device", env["torch"], env["python"], "test/acc >= 0.95"):
        assert shown in page.text


def test_compare_overlays_the_curves_and_tabulates_what_differs(runs, tmp_path, capsys):
    out = tmp_path / "cmp.html"
    path, html = _report(capsys, "--compare", runs / "mlp-a", runs / "mlp-b", runs / "nested" / "adaline",
                         "--out", out)
    assert path == str(out)
    page = ReportPage(html)
    loss = next(c for c in page.charts if c["metric"] == "loss")
    assert {t["name"] for t in loss["data"]} >= {"mlp-a: train", "mlp-b: train", "adaline: train"}
    assert "method.lr 0.003 0.01" in page.text  # a config row that differs, with each run's value
    assert "recipe mlp-digits mlp-digits adaline-and" in page.text
    assert "run.seed" not in page.text  # the same in every run
    final_b = json.loads((runs / "mlp-b" / "summary.json").read_text())["metrics"]["test/acc"]
    assert f"{final_b:.4g}" in page.text


def test_a_hostile_run_is_shown_as_text_and_nothing_outside_it_is_read(runs, tmp_path, capsys):
    _, html = _report(capsys, runs / "hostile", "--out", tmp_path / "h.html")
    assert HOSTILE not in html  # never as markup
    page = ReportPage(html)
    assert HOSTILE in page.text  # but shown, as text
    assert not [s for s in page.scripts if "src" in s]
    assert len(page.images) == 2  # confusion.png, curves.png: neither symlink out of the folder is followed


@pytest.mark.parametrize("args, message", [
    (["{runs}/missing"], "no such run directory"),
    (["{runs}"], "not a run directory"),
    (["--compare", "{runs}/mlp-a"], "give two or more run directories"),
    (["{runs}/mlp-a", "{runs}/mlp-b"], "give one run directory, or --compare"),
])
def test_bad_input_is_one_line_and_nothing_is_written(runs, tmp_path, capsys, args, message):
    out = tmp_path / "r.html"
    code = main(["report", *[a.format(runs=runs) for a in args], "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()

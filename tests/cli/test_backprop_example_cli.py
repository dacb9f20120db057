"""`neuralab train backprop-example` prints the worked example's table and exits 0."""

from __future__ import annotations

from tests.conftest import run_main


def test_train_backprop_example_prints_the_weight_table(tmp_path):
    done = run_main("train", "backprop-example", "--out", tmp_path / "run", "--quiet")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "prediction before: 0.191000" in out
    assert "w1      x1 -> h1" in out and "w6      h2 -> y" in out
    assert "new prediction: 0.255746" in out
    assert "NOT reached" not in out

"""`neuralab compress`: the variants table of a trained run, and user mistakes as one line with exit code 2."""

from __future__ import annotations

import csv

import pytest

import neuralab
from tests.conftest import run_main


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("compress") / "lenet5-digits"
    # channels-last as lenet5-mnist trains: global pruning must cope with its conv weights' memory order
    neuralab.train("lenet5-digits", {"run": {"steps": 50, "threads": 1, "channels_last": True}}, out=run_dir)
    return run_dir


def test_compress_writes_the_table_of_every_variant(lenet_run, tmp_path):
    out = tmp_path / "compressed"
    proc = run_main("compress", lenet_run, "--sparsity", "0.9,0.5", "--finetune-steps", "6", "--rounds", "2",
                   "--repeats", "3", "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "| pruned + fine-tuned (2 rounds) | 0.9 |" in proc.stdout
    assert "fresh - fine-tuned" in proc.stdout
    with open(out / "compress.csv") as fh:
        rows = list(csv.DictReader(fh))
    variants = [(r["variant"], r["target sparsity"]) for r in rows]
    assert variants[:2] == [("dense fp32", ""), ("dense int8", "")]
    for s in ("0.5", "0.9"):
        for v in ("one-shot pruned", "pruned + fine-tuned (2 rounds)", "pruned + fine-tuned + int8",
                  "fresh init, same mask"):
            assert (v, s) in variants
    by = {(r["variant"], r["target sparsity"]): r for r in rows}
    dense_kib = float(by["dense fp32", ""]["file KiB"])
    for v in ("one-shot pruned", "pruned + fine-tuned (2 rounds)", "fresh init, same mask"):
        assert float(by[v, "0.9"]["weight sparsity"]) == pytest.approx(0.9, abs=1e-4)
        assert dense_kib / float(by[v, "0.9"]["file KiB"]) > 6  # values + bitmask at 10% density
    assert dense_kib / float(by["dense int8", ""]["file KiB"]) > 3.5
    assert float(by["pruned + fine-tuned + int8", "0.9"]["weight sparsity"]) >= 0.9
    assert float(by["dense fp32", ""]["test acc"]) > 0.5
    assert all(float(r["batch 1 ms"]) > 0 and float(r["batch 256 ms"]) > 0 for r in rows)
    assert (out / "retrain.csv").exists() and (out / "compress.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--sparsity", "0.5,1.5"], "--sparsity 1.5: a sparsity is the share of weights set to zero"),
    (["--sparsity", "half"], "--sparsity half: give comma-separated fractions"),
])
def test_a_sparsity_outside_zero_one_is_one_line(lenet_run, tmp_path, args, message):
    proc = run_main("compress", lenet_run, *args, "--out", tmp_path / "c")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"neuralab: error: {message}")
    assert not (tmp_path / "c").exists()


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path):
    proc = run_main("compress", tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"neuralab: error: {tmp_path}: not a run directory (no config.json)"


def test_a_run_that_is_not_a_classifier_is_one_line(tmp_path):
    run_dir = tmp_path / "qlearning"
    neuralab.train("qlearning-cliffwalking", {"run": {"steps": 2}}, out=run_dir)
    proc = run_main("compress", run_dir, "--out", tmp_path / "c")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("neuralab: error: qlearning-cliffwalking: not a classifier (compress scores "
                                   "variants by test accuracy on class labels)")
    assert not (tmp_path / "c").exists()

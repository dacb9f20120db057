"""Learning sanity of the translation methods: after a short training Pix2Pix's held-out L1 is well below the input's
own (the identity baseline), and CycleGAN's cycle reconstruction error falls while it never sees a pair."""

from __future__ import annotations

import json

import neuralab

SMALL_NETS = {"model": {"width": 8}, "method": {"d_width": 8, "eval_size": 200, "lr": 1e-3}}  # lr: a short run


def _rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_pix2pix_beats_the_input_baseline_after_a_short_training(tmp_path):
    run = neuralab.train("pix2pix-fashion-edges", {
        "run": {"steps": 150, "eval_every": 150, "device": "cpu", "threads": 1}, **SMALL_NETS,
        "data": {"train_limit": 2000, "test_limit": 200, "batch_size": 32}}, out=tmp_path / "p2p")
    m = run.metrics
    assert m["test/l1"] < 0.6 * m["test/l1_identity"], m
    assert 0 < m["test/d_fake"] < 1 and 0 < m["test/d_real"] < 1
    assert (tmp_path / "p2p" / "samples" / "step-000150.png").is_file()


def test_cyclegan_cycle_error_falls_without_pairs(tmp_path):
    run = neuralab.train("cyclegan-mnist-invert", {
        "run": {"steps": 120, "eval_every": 40, "device": "cpu", "threads": 1}, **SMALL_NETS,
        "data": {"train_limit": 2000, "test_limit": 200, "batch_size": 16}}, out=tmp_path / "cycle")
    evaluations = [row for row in _rows(tmp_path / "cycle") if "test/cycle_l1" in row]
    first, last = evaluations[0]["test/cycle_l1"], evaluations[-1]["test/cycle_l1"]
    assert last < 0.6 * first, (first, last)
    assert run.metrics["test/l1"] < run.metrics["test/l1_identity"], run.metrics

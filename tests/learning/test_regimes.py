"""Learning sanity of the recurrent regimes (S3) and the forecasters (S4): each learns within seconds what no
context-free or naive answer gets, and the supervised rule handles per-step labels with padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import neuralab
from neuralab.data.sequence_tasks import BRACKETS, BracketDepthConfig, bracket_strings, build_bracket_depth
from neuralab.data.tensors import IGNORE_INDEX
from neuralab.methods.supervised import _loss, evaluate_split
from tests.conftest import assert_png_drawn

QUICK = {"threads": 1, "device": "cpu"}


def test_bracket_depths_follow_the_symbols_and_padding_is_ignored():
    symbols, depths = bracket_strings(200, 20, 3, np.random.default_rng(0))
    for s, d in zip(symbols, depths, strict=True):
        real = s >= 0
        assert real[:10].all() and (np.diff(real.astype(int)) <= 0).all()  # at least length/2, then only padding
        steps = np.select([s[real] == 0, s[real] == 1], [1, -1], 0)  # '(' +1, ')' -1, 'x' 0
        np.testing.assert_array_equal(d[real], np.cumsum(steps))
        assert d[real].min() >= 0 and d[real].max() <= 3 and (d[~real] == -1).all()
    data = build_bracket_depth(BracketDepthConfig(n_train=50, n_test=10, length=20), 0)
    assert ((data.x_train == 0) == (data.y_train == IGNORE_INDEX)).all()  # <pad> exactly where labels are ignored


def test_per_step_loss_and_accuracy_count_only_labelled_steps():
    torch.manual_seed(0)
    out = torch.randn(3, 5, 4)
    y = torch.tensor([[0, 1, 2, 3, 0], [1, 1, -100, -100, -100], [2, -100, -100, -100, -100]])
    labelled = y != IGNORE_INDEX
    expected = torch.nn.functional.cross_entropy(out[labelled], y[labelled])
    assert torch.allclose(_loss("cross_entropy", out, y), expected)

    class Fixed(torch.nn.Module):
        def forward(self, x):
            return out[x[:, 0]]

    metrics = evaluate_split(Fixed(), torch.arange(3)[:, None], y, "cross_entropy", batch_size=2)
    correct = (out.argmax(-1) == y)[labelled].float().mean()
    assert metrics["acc"] == pytest.approx(float(correct))  # over the 8 labelled steps, not 15 or 3
    assert metrics["loss"] == pytest.approx(float(expected), rel=1e-5)  # batches weighted by labelled steps


def test_the_tagger_counts_depth_beyond_what_each_token_says(tmp_path):
    run = neuralab.train("lstm-bracket-depth", {"run": {"steps": 120, "eval_every": 120, **QUICK},
                                                "data": {"n_train": 1000, "n_test": 300, "length": 24, "max_depth": 3},
                                                "model": {"hidden": 32}}, out=tmp_path / "r")
    data = run.data
    # The best tagger that sees only the current token: the most frequent depth of each symbol in training.
    x, y = data.x_train[data.y_train != IGNORE_INDEX], data.y_train[data.y_train != IGNORE_INDEX]
    best = {int(t): int(torch.mode(y[x == t]).values) for t in x.unique()}
    xt, yt = data.x_test[data.y_test != IGNORE_INDEX], data.y_test[data.y_test != IGNORE_INDEX]
    context_free = float((torch.tensor([best[int(t)] for t in xt]) == yt).float().mean())
    assert len(best) == len(BRACKETS) and context_free < 0.5
    assert run.metrics["test/acc"] > 0.9 > context_free + 0.4
    logits = run.model(data.x_test[:4])
    assert logits.shape == (4, 24, 4)  # one row of 4 depth scores per step


def test_the_sequence_classifier_reads_mnist1d_step_by_step(tmp_path):
    run = neuralab.train("gru-mnist1d", {"run": {"steps": 120, "eval_every": 120, **QUICK},
                                         "model": {"hidden": 32}}, out=tmp_path / "r")
    assert run.metrics["test/acc"] > 0.3  # chance is 0.1


def test_the_generator_draws_sines_from_their_parameters(tmp_path):
    run = neuralab.train("gru-sine-waves", {"run": {"steps": 150, "eval_every": 150, **QUICK},
                                            "data": {"n_train": 1000, "n_test": 200, "steps": 25},
                                            "model": {"hidden": 32}}, out=tmp_path / "r")
    y_train, y_test = run.data.y_train, run.data.y_test
    mean_wave = float(((y_test - y_train.mean(0)) ** 2).mean())  # one answer for every vector
    assert run.metrics["test/loss"] < 0.3 * mean_wave
    assert run.model(run.data.x_test[:3]).shape == (3, 25)


def test_learned_forecasters_beat_persistence_on_sunspots(tmp_path):
    pytest.importorskip("statsmodels")
    run = neuralab.train("forecast-sunspots", {"run": {"steps": 150, "eval_every": 150, **QUICK},
                                               "method": {"models": ["lstm", "cnn"]}}, out=tmp_path / "r")
    m = run.metrics
    assert m["lstm/test/mse"] < 0.8 * m["persistence/test/mse"] and m["cnn/test/mse"] < m["persistence/test/mse"]
    assert m["linear/test/mse"] < m["persistence/test/mse"]
    report = run.method.report()
    assert [row.split("|")[1].strip() for row in report.splitlines()[4:]] == ["persistence", "linear", "lstm", "cnn"]
    assert_png_drawn(tmp_path / "r" / "plots" / "forecasts.png")

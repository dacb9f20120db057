"""Short runs of the activation, initialisation and universal-approximation recipes: each shows its lesson."""

from __future__ import annotations

import pytest
import torch

import neuralab
from neuralab.experiments.init_symmetry import hidden_weights
from tests.conftest import assert_png_drawn


def test_activations_relu_fast_sigmoid_slow_and_high_lr_kills_relus(tmp_path):
    run = neuralab.train("activations", {"run": {"epochs": 10}}, out=tmp_path / "act")
    m, method = run.metrics, run.method
    assert m["relu/epochs_to_threshold"] <= 6 and m["tanh/epochs_to_threshold"] <= 6
    assert "sigmoid/epochs_to_threshold" not in m and m["sigmoid/test/acc"] < 0.9  # sigmoid still below 90%
    assert 0.4 <= m["relu/active_at_init"] <= 0.6  # about half of the ReLUs fire on a random net
    assert m["relu-high-lr/dead"] >= 0.5 and m["relu/dead"] <= 0.1
    assert method.dead["relu-high-lr"][0] <= 0.05  # the units died in training, not at init
    assert len(method.test_acc["relu"]) == 11  # init + one entry per epoch
    report = method.report()
    assert "| relu | relu | 0.05 |" in report and "| sigmoid | sigmoid | 0.05 | not within 10 |" in report
    for name in ("activations.png", "dead-relus.png"):
        assert_png_drawn(tmp_path / "act" / "plots" / name)


def test_zero_init_keeps_hidden_units_identical_random_init_breaks_symmetry(tmp_path):
    run = neuralab.train("init-symmetry", {"run": {"epochs": 3}}, out=tmp_path / "sym")
    models = run.method.sweep.networks
    for w in hidden_weights(models["zeros"]):
        assert w.abs().max() > 0  # the units did learn...
        assert torch.equal(w, w[:1].expand_as(w))  # ...but every row (unit) is the same
    for scheme in ("xavier_normal", "he_normal"):
        for w in hidden_weights(models[scheme]):
            assert not torch.allclose(w, w[:1].expand_as(w))
            assert torch.unique(w, dim=0).shape[0] == w.shape[0]
    assert run.metrics["he_normal/test/acc"] > run.metrics["zeros/test/acc"] + 0.4
    assert run.metrics["zeros/distinct_units"] == 1.0
    assert_png_drawn(tmp_path / "sym" / "plots" / "init-symmetry.png")  # one weight image per scheme


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zero_init_with_f0_equal_zero_gets_no_gradient_at_all(tmp_path, activation):
    run = neuralab.train("init-symmetry", {"run": {"steps": 20}, "model": {"activation": activation},
                                           "method": {"schemes": "zeros"}}, out=tmp_path / activation)
    model = run.method.sweep.networks["zeros"]
    assert all(torch.count_nonzero(w) == 0 for w in hidden_weights(model))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert torch.count_nonzero(linears[-1].bias) > 0  # only the output bias learned


def test_init_depth_he_keeps_relu_scale_normal_explodes_xavier_vanishes(tmp_path):
    m = neuralab.train("init-depth", {"run": {"steps": 2}}, out=tmp_path / "depth").metrics
    assert m["relu-he_normal/spread"] <= 10
    assert m["relu-normal/std_last"] >= 1e6 and m["relu-normal/spread"] >= 1e6
    assert m["relu-xavier_normal/std_last"] < 0.01  # halves the variance at every ReLU layer
    assert m["tanh-normal/saturated"] >= 0.5 and m["tanh-xavier_normal/saturated"] < 0.05
    assert m["tanh-he_normal/spread"] <= 2


def test_universal_approximation_error_falls_with_width(tmp_path):
    run = neuralab.train("universal-approximation", {"run": {"steps": 800}, "method": {"widths": "1,16"}},
                         out=tmp_path / "ua")
    m = run.metrics
    assert m["w1/test/max_err"] > 0.5 and m["w16/test/max_err"] <= 0.05 and m["compare/smallest_width"] == 16
    assert m["w16/test/loss"] < m["w1/test/loss"]  # the rule's own MSE on the test grid agrees
    assert_png_drawn(tmp_path / "ua" / "plots" / "approximation.png")


def test_a_discontinuous_target_keeps_its_max_error_at_the_jump(tmp_path):
    m = neuralab.train("universal-approximation", {"run": {"steps": 300}, "method": {"widths": "2,16"},
                                                   "data": {"function": "step"}}, out=tmp_path / "step").metrics
    assert m["w2/test/max_err"] >= 0.45 and m["w16/test/max_err"] >= 0.45  # no width gets uniformly close to a jump
    assert m["w16/test/rms_err"] < m["w2/test/rms_err"] and "compare/smallest_width" not in m

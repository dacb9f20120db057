"""Diagnostics of supervised training: per-layer logging, dead ReLUs, SELU self-normalisation, the
confusion matrix and per-class metrics of a finished run."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import neuralab
from neuralab.build import build, resolve
from neuralab.models.mlp.mlp import MLP, MLPConfig
from neuralab.nn.diagnostics import ActivationRecorder
from neuralab.registry import RECIPES
from tests.conftest import assert_png_drawn


def make(method: dict | None = None):
    recipe = RECIPES.get("mlp-digits")
    return build(recipe, resolve(recipe, {"method": method or {}, "run": {"device": "cpu"}}))


def test_diagnostics_log_each_layers_gradient_norm_and_activation_statistics():
    run = make({"diagnostics": True})
    x, y = run.data.next_batch()
    with torch.no_grad():
        hidden = run.model.net[:3](x)  # Flatten, Linear, ReLU before the update
    metrics = run.method.step((x, y))
    for name in ("net.1", "net.3"):  # the two Linear layers
        weight = dict(run.model.named_parameters())[f"{name}.weight"]
        assert metrics[f"diag/grad_norm/{name}"] == pytest.approx(float(weight.grad.norm()), rel=1e-5)
    assert metrics["diag/act_mean/net.2"] == pytest.approx(float(hidden.mean()), rel=1e-4)
    assert metrics["diag/act_std/net.2"] == pytest.approx(float(hidden.std()), rel=1e-4)
    assert 0.0 <= run.method.evaluate()["diag/dead_relu"] < 0.5


def test_diagnostics_off_adds_no_metrics_and_no_hooks():
    run = make()
    metrics = run.method.step(run.data.next_batch())
    assert not [k for k in metrics if k.startswith("diag/")]
    assert not [k for k in run.method.evaluate() if k.startswith("diag/")]
    assert all(not m._forward_hooks for m in run.model.modules())


def test_dead_relu_fraction_sees_units_silenced_by_a_large_negative_bias():
    run = make({"diagnostics": True})
    with torch.no_grad():
        run.model.net[1].bias[:32] = -1e4  # 32 of 128 hidden units can never fire
    assert run.method.evaluate()["diag/dead_relu"] == pytest.approx(32 / 128)


def deep_stats(activation: str, depth: int = 30, width: int = 256) -> dict[str, float]:
    """Mean and variance after the last activation of a random LeCun-normal net fed N(0, 1) inputs."""
    torch.manual_seed(0)
    net = MLP(MLPConfig(in_features=width, hidden=(width,) * depth, activation=activation, bias=False))
    for m in net.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 1 / math.sqrt(m.in_features))  # LeCun normal: Var(w) = 1/fan_in
    with ActivationRecorder(net) as rec, torch.no_grad():
        net(torch.randn(2000, width))
    last = list(rec.stats.values())[-1]
    return {"mean": last["mean"], "var": last["std"] ** 2}


def test_selu_keeps_zero_mean_and_unit_variance_through_30_layers_while_tanh_and_sigmoid_drift():
    selu = deep_stats("selu")
    assert abs(selu["mean"]) < 0.1 and abs(selu["var"] - 1) < 0.2, selu
    tanh, sigmoid = deep_stats("tanh"), deep_stats("sigmoid")
    assert tanh["var"] < 0.2, tanh  # variance collapses towards 0
    assert abs(sigmoid["mean"]) > 0.4 and sigmoid["var"] < 0.2, sigmoid  # mean drifts to 1/2


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    run = neuralab.train("mlp-digits", {"run": {"epochs": 2, "device": "cpu"}, "method": {"diagnostics": True}},
                         out=out)
    return run, out


def test_confusion_matrix_sums_to_the_test_size_and_its_diagonal_gives_test_accuracy(finished):
    run, out = finished
    cm = run.method.confusion()
    assert cm.shape == (10, 10)
    assert cm.sum() == len(run.data.y_test)
    assert cm.trace() / cm.sum() == pytest.approx(run.metrics["test/acc"], abs=1e-9)
    assert_png_drawn(out / "plots" / "confusion.png")
    assert_png_drawn(out / "plots" / "diagnostics.png")


def test_report_gives_per_class_recall_and_precision_from_the_confusion_matrix(finished):
    run, out = finished
    cm = run.method.confusion()
    report = json.loads((out / "summary.json").read_text())["report"]
    rows = {line.split("|")[1].strip(): [float(v) for v in line.split("|")[2:6]]
            for line in report.splitlines() if line.startswith("| ") and line[2].isdigit()}
    assert sorted(rows) == [str(k) for k in range(10)]
    for k in range(10):
        precision, recall, f1, support = rows[str(k)]
        assert support == cm[k].sum()
        assert recall == pytest.approx(cm[k, k] / cm[k].sum(), abs=5e-4)
        assert precision == pytest.approx(cm[k, k] / max(cm[:, k].sum(), 1), abs=5e-4)
        assert f1 == pytest.approx(0 if precision + recall == 0 else 2 * precision * recall / (precision + recall),
                                   abs=2e-3)


def test_vanishing_gradients_first_step_shows_sigmoid_gradients_vanish_but_not_relu_or_batch_norm():
    recipe = RECIPES.get("vanishing-gradients")
    run = build(recipe, resolve(recipe, {"run": {"device": "cpu"}}))
    metrics = run.method.step(run.data.next_batch())
    depth = len(run.method.sweep.networks["relu"].cfg.hidden)
    assert all(len(n["init"]) == depth + 1 for n in run.method.norms.values())  # every Linear layer
    assert metrics["sigmoid/first_last_ratio"] < 1e-6
    assert metrics["relu/first_last_ratio"] > 0.1 and metrics["sigmoid_bn/first_last_ratio"] > 0.1

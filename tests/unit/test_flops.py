"""Operation counting (curriculum H2) against hand counts: multiply-adds per layer, FLOPs by operation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuralab.cli import main
from neuralab.flops import count_training_flops, layer_table
from neuralab.models.cnn.lenet5 import LeNet5, LeNet5Config
from neuralab.models.mlp.mlp import MLP, MLPConfig
from neuralab.registry import MODELS
from tests.conftest import run_main


def test_linear_multiply_adds_are_inputs_times_outputs():
    (row,) = layer_table(nn.Linear(30, 7), torch.randn(5, 30))
    assert (row.kind, row.params, row.macs) == ("Linear", 30 * 7 + 7, 30 * 7)


def test_conv2d_multiply_adds_are_output_positions_times_kernel_volume():
    conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)  # 11x11 input -> 6x6 output
    (row,) = layer_table(conv, torch.randn(2, 3, 11, 11))
    out_h = out_w = (11 + 2 * 1 - 3) // 2 + 1
    assert out_h == 6
    assert row.macs == out_h * out_w * 8 * 3 * 3 * 3
    assert row.params == 8 * 3 * 3 * 3 + 8


def test_lenet5_counts_match_the_hand_count():
    rows = layer_table(LeNet5(LeNet5Config()), torch.randn(1, 1, 28, 28))
    macs = {r.name: r.macs for r in rows if r.macs}
    assert macs == {
        "features.0": 28 * 28 * 6 * 5 * 5 * 1,  # C1 on the input padded to 32x32
        "features.3": 10 * 10 * 16 * 5 * 5 * 6,  # C3
        "features.6": 1 * 1 * 120 * 5 * 5 * 16,  # C5
        "classifier.1": 120 * 84,  # F6
        "classifier.3": 84 * 10,
    }
    assert sum(macs.values()) == 416_520
    assert sum(r.params for r in rows) == 61_706


def test_linear_forward_and_backward_products_are_two_flops_per_multiply_add():
    batch, n_in, n_out = 16, 30, 7
    layer = nn.Linear(n_in, n_out)
    report = count_training_flops(layer, torch.randn(batch, n_in))
    assert report.by_op["addmm"] == 2 * batch * n_in * n_out  # forward: x W^T + b
    assert report.by_op["mm"] == 2 * batch * n_in * n_out  # backward: gradient of W only (x needs none)
    with_input_grad = count_training_flops(layer, torch.randn(batch, n_in, requires_grad=True))
    assert with_input_grad.by_op["mm"] == 2 * 2 * batch * n_in * n_out  # plus the gradient of x


@pytest.mark.parametrize("model, x", [
    (MLP(MLPConfig(in_features=784, hidden=(256, 128), num_classes=10)), torch.randn(32, 784)),
    (LeNet5(LeNet5Config()), torch.randn(32, 1, 28, 28)),
], ids=["mlp", "lenet5"])
def test_more_than_90_percent_of_training_flops_are_multiply_adds(model, x):
    report = count_training_flops(model, x, torch.randint(0, 10, (len(x),)))
    assert report.multiply_add_share > 0.9
    assert report.total == sum(report.by_op.values())
    assert all(p.grad is None for p in model.parameters())  # counting leaves no gradients behind


def test_flops_command_prints_the_breakdown(capsys):
    assert main(["flops", "lenet5", "--batch", "4"]) == 0
    out = capsys.readouterr().out
    forward_conv = 2 * 4 * (416_520 - 120 * 84 - 84 * 10)  # 2 FLOPs per multiply-add, 4 examples
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:] if line.startswith("  ")}
    assert rows["convolution"] == f"{forward_conv:,}"
    share = float(out.split("multiply-add (matrix products, convolutions): ")[1].split("%")[0])
    assert share > 90


def test_a_model_without_trainable_parameters_is_counted_for_its_forward_pass():
    layer = nn.Linear(6, 3).requires_grad_(False)  # as a Hebbian or closed-form model holds its weights
    report = count_training_flops(layer, torch.randn(4, 6), torch.zeros(4, dtype=torch.long))
    assert not report.backward and report.by_op["addmm"] == 2 * 4 * 6 * 3  # the forward product alone
    assert count_training_flops(nn.Linear(6, 3), torch.randn(4, 6)).backward


def test_per_position_logits_take_the_label_at_every_position():
    """Logits (B, K, T), as a tagger's or a detector's: cross-entropy over axis 1, a label per position."""
    conv = nn.Conv1d(5, 4, 1)  # (B, 5, T) -> (B, 4, T)
    report = count_training_flops(conv, torch.randn(2, 5, 7), torch.zeros(2, dtype=torch.long))
    assert report.backward and report.by_op["convolution"] == 2 * 2 * 7 * 5 * 4


@pytest.mark.parametrize("name", MODELS.names())
def test_flops_command_counts_every_model(name):
    """Models that take several inputs (seq2seq, conditional generators), that output per-position logits, or that
    have nothing to backpropagate into are counted too."""
    r = run_main("flops", name)
    assert r.returncode == 0, r.stderr
    total = int(r.stdout.split("  total")[1].split()[0].replace(",", ""))
    assert total > 0

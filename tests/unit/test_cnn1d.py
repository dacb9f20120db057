"""The 1-D CNN: the paper's ConvBase sizes, the length arithmetic against torch, sizing from sequence data."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from neuralab.data.tensors import DataMeta
from neuralab.errors import UserError
from neuralab.models.cnn.cnn1d import CNN1D, CNN1DConfig, conv_lengths
from neuralab.models.linear.logistic import LogisticRegressionConfig
from neuralab.models.mlp.mlp import MLPConfig
from neuralab.models.sizing import flat_inputs, sequences

SEQUENCES = DataMeta(kind="features", input_shape=[1, 40], num_classes=10, class_names=list("0123456789"),
                     source="mnist1d")


def test_the_default_is_the_papers_conv_base():
    model = CNN1D(CNN1DConfig())
    assert conv_lengths(model.cfg) == [19, 10, 5]
    assert model.head[1].in_features == 125  # ConvBase's linear_in
    assert sum(p.numel() for p in model.parameters()) == 5210


@pytest.mark.parametrize(("length", "kernels", "stride", "padding"),
                         [(40, (5, 3, 3), 2, 1), (41, (7,), 3, 0), (9, (3, 3, 3), 1, 2), (5, (5,), 2, 0)])
def test_predicted_lengths_match_torch(length, kernels, stride, padding):
    cfg = CNN1DConfig(length=length, channels=(4,) * len(kernels), kernel_sizes=kernels, stride=stride,
                      padding=padding)
    model = CNN1D(cfg)
    x = torch.randn(2, 1, length)
    measured = []
    for layer in model.features:
        x = layer(x)
        if isinstance(layer, torch.nn.Conv1d):
            measured.append(x.shape[-1])
    assert conv_lengths(cfg) == measured
    assert model(torch.randn(3, 1, length)).shape == (3, 10)


def test_a_kernel_wider_than_its_input_is_refused_at_build_time():
    with pytest.raises(UserError, match=r"conv3: kernel 5 is wider than its input of length 2 padded by 1"):
        CNN1D(CNN1DConfig(length=8, kernel_sizes=(3, 3, 5), padding=1))
    with pytest.raises(UserError, match="one kernel width per layer"):
        CNN1D(CNN1DConfig(kernel_sizes=(5, 3)))


def test_a_feature_row_is_one_channel():
    model = CNN1D(CNN1DConfig()).eval()
    x = torch.randn(4, 40)
    assert torch.equal(model(x), model(x[:, None]))


def test_models_size_themselves_from_sequence_data():
    cfg = sequences(CNN1DConfig(length=7, num_classes=3), SEQUENCES, {})
    assert (cfg.in_channels, cfg.length, cfg.num_classes) == (1, 40, 10)
    rows = dataclasses.replace(SEQUENCES, input_shape=[64])  # a CSV of 64 samples per row
    assert sequences(CNN1DConfig(), rows, {}).length == 64
    assert flat_inputs(MLPConfig(), SEQUENCES, {}).in_features == 40
    assert flat_inputs(LogisticRegressionConfig(), SEQUENCES, {}).in_features == 40
    with pytest.raises(UserError, match="takes sequences"):
        sequences(CNN1DConfig(), dataclasses.replace(SEQUENCES, input_shape=[1, 28, 28]), {})
    with pytest.raises(UserError, match="does not match the data"):
        sequences(CNN1DConfig(length=30), SEQUENCES, {"length": 30})

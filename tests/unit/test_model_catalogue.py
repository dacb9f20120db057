"""`neuralab.list_models`, `neuralab.model_info` and `neuralab list --models`, over every registered model."""

from __future__ import annotations

import pytest
import torch

import neuralab
from neuralab.registry import MODELS
from tests.conftest import run_main


def test_list_models_filters_by_family():
    assert neuralab.list_models() == MODELS.names()
    assert neuralab.list_models("cnn") == ["alexnet", "cnn1d", "cnn1d-forecaster", "googlenet", "lenet5", "resnet",
                                           "text-cnn", "vgg", "zfnet"]
    assert set(neuralab.list_models("linear")) == {"bow-logistic", "cca", "ica", "logistic-regression", "pca",
                                                   "sparse-coding", "threshold-unit"}


@pytest.mark.parametrize("name", MODELS.names())
def test_model_info_describes_what_create_model_builds(name):
    info = neuralab.model_info(name)
    model = neuralab.create_model(name)
    assert info["parameters"] == sum(p.numel() for p in model.parameters())
    assert set(info["config"]) == {f for f in vars(MODELS.get(name).config())}
    assert all(field["doc"] for field in info["config"].values())  # every field documented
    entry = MODELS.get(name)
    example = entry.example_input(entry.config())
    inputs = example if isinstance(example, tuple) else (example,)  # a seq2seq model takes source and target
    shapes = tuple(tuple(x.shape) for x in inputs)
    assert (shapes if isinstance(example, tuple) else shapes[0]) == info["example_input_shape"]
    with torch.no_grad():  # in evaluation mode: training mode may add auxiliary outputs (GoogLeNet)
        assert model.eval()(*inputs).shape[0] == inputs[0].shape[0]


def test_cli_lists_models_with_their_parameters():
    r = run_main("list", "--models")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()}
    assert set(rows) == set(MODELS.names())
    assert "61,706 params" in rows["lenet5"] and "LeCun" in rows["lenet5"]
    bad = run_main("list", "--models", "--family", "nope")
    assert bad.returncode == 2 and "families: " in bad.stderr
    assert "cnn" in bad.stderr.split("families: ")[1].strip().split(", ")


@pytest.mark.parametrize("name", MODELS.names())
def test_cli_info_prints_every_model(name):
    """`neuralab info MODEL` on each model: its layer table traces a batch of zero examples, or of one where the
    forward pass cannot take an empty batch (a latent code reshaped, packed sequences: tests/unit/test_shapes.py)."""
    r = run_main("info", name)
    assert r.returncode == 0, r.stderr
    assert f"parameters: {sum(p.numel() for p in neuralab.create_model(name).parameters()):,}" in r.stdout

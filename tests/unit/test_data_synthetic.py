"""Synthetic sets and scikit-learn digits: truth tables, sizes, classes, targets and splits."""

from __future__ import annotations

import math

import pytest
import torch

from neuralab.data import synthetic
from neuralab.data.sources import DigitsConfig, SyntheticConfig
from neuralab.registry import DATA

ROWS = [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.mark.parametrize(("gate", "rule"), [("and", lambda a, b: a & b), ("or", lambda a, b: a | b),
                                            ("xor", lambda a, b: a ^ b)])
def test_logic_gate_truth_tables(gate, rule):
    x, y = synthetic.make(gate, 999, 0.5, seed=3)  # n and noise do not apply to the 4-row tables
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert [tuple(int(v) for v in row) for row in x] == ROWS
    assert y.tolist() == [rule(a, b) for a, b in ROWS]


@pytest.mark.parametrize("gate", ["and", "or", "xor"])
def test_gate_source_trains_and_tests_on_the_four_rows(gate):
    data = DATA.get("synthetic").build(SyntheticConfig(kind=gate, normalize="none"), 0)
    assert data.x_train.tolist() == [list(map(float, r)) for r in ROWS] and torch.equal(data.x_test, data.x_train)
    assert data.meta.num_classes == 2 and data.meta.input_shape == [2]


@pytest.mark.parametrize(("kind", "classes"), [("moons", 2), ("spirals", 2), ("blobs", 3)])
@pytest.mark.parametrize("n", [4, 101, 1000])
def test_point_sets_have_the_requested_size_and_classes(kind, classes, n):
    x, y = synthetic.make(kind, n, 0.1, seed=0)
    assert x.shape == (n, 2) and y.shape == (n,) and y.dtype == torch.int64
    assert sorted(torch.unique(y).tolist()) == list(range(classes))
    counts = torch.bincount(y)
    assert counts.max() - counts.min() <= 1  # balanced
    assert torch.isfinite(x).all()


def test_point_sets_are_seeded():
    a, _ = synthetic.make("moons", 50, 0.2, seed=1)
    b, _ = synthetic.make("moons", 50, 0.2, seed=1)
    c, _ = synthetic.make("moons", 50, 0.2, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_noise_free_shapes():
    x, y = synthetic.make("moons", 200, 0.0, seed=0)
    upper, lower = x[y == 0], x[y == 1]
    assert torch.allclose(upper.norm(dim=1), torch.ones(len(upper)), atol=1e-5)  # unit half circle
    assert torch.allclose((lower - torch.tensor([1.0, 0.5])).norm(dim=1), torch.ones(len(lower)), atol=1e-5)
    x, y = synthetic.make("blobs", 30, 0.0, seed=0)
    assert torch.allclose(x.norm(dim=1), torch.full((30,), 3.0), atol=1e-5)  # centres on the radius-3 circle
    assert len(torch.unique(x, dim=0)) == 3
    x, y = synthetic.make("spirals", 100, 0.0, seed=0)
    assert torch.allclose(x[y == 0], -x[y == 1], atol=1e-5)  # the two arms are point reflections


def test_sine_targets():
    x, y = synthetic.make("sine", 500, 0.0, seed=0)
    assert x.shape == (500, 1) and y.shape == (500, 1)
    assert x.min() >= -math.pi and x.max() <= math.pi
    assert torch.allclose(y, torch.sin(x), atol=1e-6)
    _, noisy = synthetic.make("sine", 5000, 0.1, seed=0)
    x, _ = synthetic.make("sine", 5000, 0.0, seed=0)
    assert 0.09 < (noisy - torch.sin(x)).std() < 0.11


def test_sine_source_is_regression():
    data = DATA.get("synthetic").build(SyntheticConfig(kind="sine", n=100, test_fraction=0.25), 0)
    assert data.meta.num_classes == 0 and data.y_train.dtype == torch.float32
    assert (len(data.x_train), len(data.x_test)) == (75, 25)


@pytest.mark.parametrize(("fraction", "n_test"), [(0.2, 359), (0.5, 898)])
def test_digits_split_by_test_fraction(fraction, n_test):
    data = DATA.get("digits").build(DigitsConfig(test_fraction=fraction, image_size=8, normalize="none"), 0)
    assert len(data.x_train) + len(data.x_test) == 1797 and len(data.x_test) == n_test
    assert data.meta.input_shape == [1, 8, 8] and data.meta.num_classes == 10
    assert data.x_train.max() == 255 and data.x_train.min() == 0
    assert torch.bincount(torch.cat([data.y_train, data.y_test])).tolist()[0] == 178  # class 0 in load_digits


def test_digits_resized_like_mnist():
    data = DATA.get("digits").build(DigitsConfig(image_size=28), 0)
    assert data.meta.input_shape == [1, 28, 28] and tuple(data.x_train.shape[1:]) == (1, 28, 28)
    assert abs(float(data.x_train.mean())) < 1e-4  # standardised with training statistics


def test_test_limit_keeps_the_first_test_examples_and_leaves_training_whole():
    build = DATA.get("digits").build
    whole, cut = build(DigitsConfig(), 0), build(DigitsConfig(test_limit=50), 0)
    assert len(cut.x_test) == 50 and torch.equal(cut.x_test, whole.x_test[:50])
    assert torch.equal(cut.y_test, whole.y_test[:50]) and torch.equal(cut.x_train, whole.x_train)

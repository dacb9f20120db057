"""Input normalisation options of the data sources (curriculum F8; notes 002 section 2.7)."""

from __future__ import annotations

import pytest
import torch

from neuralab.data.sources import DigitsConfig, SyntheticConfig, build_digits, build_synthetic


def test_digits_standardize_gives_zero_mean_unit_std_on_the_training_set():
    data = build_digits(DigitsConfig(image_size=8, normalize="standardize"), seed=0)
    assert float(data.x_train.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(data.x_train.std()) == pytest.approx(1.0, abs=1e-5)


def test_digits_scale_maps_pixels_to_unit_interval():
    data = build_digits(DigitsConfig(image_size=8, normalize="scale"), seed=0)
    for x in (data.x_train, data.x_test):
        assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert data.meta.pixel_scale == 255.0


def test_digits_test_set_uses_the_training_statistics():
    raw = build_digits(DigitsConfig(image_size=8, normalize="none"), seed=0)
    std = build_digits(DigitsConfig(image_size=8, normalize="standardize"), seed=0)
    assert float(raw.x_train.max()) == 255.0  # none: the raw 0..255 grey levels
    train = raw.x_train / 255.0  # the statistics, computed here from the raw training pixels
    torch.testing.assert_close(std.x_test, (raw.x_test / 255.0 - train.mean()) / train.std())
    assert abs(float(std.x_test.mean())) > 1e-4  # not re-centred on its own statistics


@pytest.mark.parametrize("kind", ["moons", "blobs", "spirals"])
def test_synthetic_standardize_is_per_feature(kind):
    data = build_synthetic(SyntheticConfig(kind=kind, n=600, normalize="standardize"), seed=0)
    torch.testing.assert_close(data.x_train.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(data.x_train.std(0), torch.ones(2), atol=1e-5, rtol=0)
    assert len(data.meta.mean) == 2 and len(data.meta.std) == 2


def test_scale_rescales_feature_columns_to_unit_interval_with_training_min_max():
    from neuralab.data.sources import SyntheticConfig, build_synthetic

    data = build_synthetic(SyntheticConfig(kind="blobs", n=400, noise=1.0, normalize="scale"), seed=0)
    assert torch.allclose(data.x_train.amin(0), torch.zeros(2)) and torch.allclose(data.x_train.amax(0), torch.ones(2))
    raw = build_synthetic(SyntheticConfig(kind="blobs", n=400, noise=1.0, normalize="none"), seed=0)
    low, high = raw.x_train.amin(0), raw.x_train.amax(0)
    assert torch.allclose((raw.x_test - low) / (high - low), data.x_test)  # test split uses the training min/max

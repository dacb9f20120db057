"""Forecasting windows (neuralab.data.series): windowing, the chronological split, scaling from the training
part only, the differencing round trip, and the persistence and linear baselines against hand computations."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neuralab.data.series import SPLITS, SeriesConfig, SeriesData, build_series, split_bounds, sum_of_sines
from neuralab.errors import UserError
from neuralab.experiments.forecasting_compare import fit_linear, linear_outputs
from neuralab.models import sizing

CFG = SeriesConfig(length=4, horizon=2, val_fraction=0.2, test_fraction=0.2, batch_size=8)


def _data(values, **changes) -> SeriesData:
    return SeriesData(np.asarray(values, dtype=np.float64), dataclasses.replace(CFG, **changes), 0, "test-series")


def _unscaled(data: SeriesData, t: torch.Tensor) -> np.ndarray:
    return t.double().numpy() * data.std + data.mean


def test_a_window_holds_the_length_values_before_its_horizon_targets():
    values = np.arange(50.0) ** 1.5
    data = _data(values)
    x, y = data.split("train")
    assert x.shape == (len(x), 1, 4) and y.shape == (len(x), 2)
    for i in (0, 7, len(x) - 1):
        t = data.first["train"][i]
        np.testing.assert_allclose(_unscaled(data, x[i, 0]), values[t - 4:t], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(_unscaled(data, y[i]), values[t:t + 2], rtol=1e-5, atol=1e-4)
    assert data.first["train"][0] == 4  # the first window starts at the series' start
    assert data.meta.input_shape == [1, 4] and data.meta.target_shape == [2]


def test_the_split_is_chronological_and_every_target_stays_in_its_part():
    values = np.sin(np.arange(100.0))
    data = _data(values)
    a, b = split_bounds(100, 0.2, 0.2)
    assert (a, b) == (60, 80)
    parts = dict(zip(SPLITS, [(0, a), (a, b), (b, 100)], strict=True))
    for split, (lo, hi) in parts.items():
        first = data.first[split]
        assert first.min() >= lo and first.max() + 2 <= hi, split  # both targets inside the part
        assert len(first) == hi - max(lo, 4) - 1  # every window whose targets fit, none dropped
    assert data.first["train"].max() < data.first["val"].min() < data.first["val"].max() < data.first["test"].min()
    # The batches come from the training windows only.
    assert len(data.x_train) == len(data.first["train"]) and len(data.x_test) == len(data.first["test"])


def test_scaling_comes_from_the_training_part_alone():
    values = np.concatenate([np.random.default_rng(0).normal(5.0, 2.0, 60), np.full(40, 1000.0)])
    data = _data(values)
    assert data.mean == pytest.approx(values[:60].mean()) and data.std == pytest.approx(values[:60].std())
    assert abs(float(data.x_train.mean())) < 0.5  # standardised where it was fitted
    assert float(data.x_test.min()) > 100  # a later level shift stays visible, unlike a whole-series scaling


@pytest.mark.parametrize("split", SPLITS)
def test_differencing_round_trip_gives_back_the_original_targets(split):
    walk = np.cumsum(np.random.default_rng(1).normal(0.3, 1.0, 120)) + 50
    data = _data(walk, difference=True)
    x, y = data.split(split)
    assert data.difference and data.first[split][0] >= 5  # the first difference needs one value before it
    t = data.first[split][3]
    np.testing.assert_allclose(_unscaled(data, x[3, 0]), walk[t - 4:t] - walk[t - 5:t - 1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.original(split, y), data.truth[split], rtol=1e-5)
    zero_change = torch.full_like(y, -data.mean / data.std)  # "no change" in scaled units
    np.testing.assert_allclose(data.original(split, zero_change), data.persistence(split), rtol=1e-6)


def test_persistence_mse_equals_the_hand_computation():
    values = np.array([0, 1, 3, 6, 10, 15, 21, 28, 36, 45], dtype=np.float64)  # triangular numbers
    data = SeriesData(values, SeriesConfig(length=2, horizon=2, val_fraction=0.0, test_fraction=0.4), 0, "tri")
    # Test part: steps 6..9; windows whose two targets fit: first target 6 (last seen 15), 7 (last seen 21), 8 (28).
    assert list(data.first["test"]) == [6, 7, 8]
    hand = ((21 - 15) ** 2 + (28 - 15) ** 2 + (28 - 21) ** 2 + (36 - 21) ** 2 + (36 - 28) ** 2 + (45 - 28) ** 2) / 6
    assert data.mse("test", data.persistence("test")) == pytest.approx(hand)
    assert data.split("val") is None  # val_fraction 0: no validation windows


def test_the_linear_baseline_recovers_a_noise_free_autoregression_exactly():
    # sin(wt) + c = 2 cos(w) s[t-1] - s[t-2] + c (2 - 2 cos w): linear in the last two values, exactly.
    s = np.sin(0.3 * np.arange(300.0)) + 0.5
    data = SeriesData(s, SeriesConfig(length=4, horizon=1), 0, "sine")
    weights = fit_linear(data.x_train, data.y_train)
    forecast = data.original("test", linear_outputs(weights, data.x_test))
    assert data.mse("test", forecast) < 1e-6 * data.mse("test", data.persistence("test"))


def test_windows_that_do_not_fit_a_part_are_refused_in_one_line():
    with pytest.raises(UserError, match="train part .* holds no window"):
        _data(np.arange(30.0), length=20)  # the training part is 18 steps


def test_sines_are_seeded_and_the_models_are_sized_from_the_windows():
    a, b = (sum_of_sines(300, (12.0, 7.0), 0.1, seed) for seed in (0, 0))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sum_of_sines(300, (12.0, 7.0), 0.1, 1))
    data = build_series(SeriesConfig(length=16, horizon=3, points=400), 0)
    from neuralab.models.rnn.forecaster import ForecasterConfig

    cfg = sizing.forecasts(ForecasterConfig(), data.meta, {})
    assert (cfg.in_channels, cfg.horizon) == (1, 3)
    with pytest.raises(UserError, match="horizon"):
        sizing.forecasts(ForecasterConfig(horizon=2), data.meta, {"horizon": 2})


def test_sunspots_come_from_statsmodels_offline():
    pytest.importorskip("statsmodels")
    data = build_series(SeriesConfig(series="sunspots", length=20), 0)
    assert len(data.values) == 309 and data.values[0] == 5.0  # 1700-2008, the first year's mean
    assert data.meta.source == "sunspots" and data.units == "sunspots"
    co2 = build_series(SeriesConfig(series="co2", length=52, difference=True), 0)
    assert len(co2.values) == 2284 and np.isfinite(co2.values).all()  # the 59 missing weeks interpolated

"""Time series cut into forecasting windows (curriculum S4): `length` past values -> the next `horizon` values.

Series: `sines`, a sum of sines with Gaussian noise generated from a seed; `sunspots`, the yearly mean sunspot
numbers 1700-2008 (309 values, public domain, from the SIDC via NOAA); `co2`, the weekly Mauna Loa CO2
concentrations 1958-2001 (2,284 values in ppm, public domain, NOAA; its 59 missing weeks are interpolated
linearly). The two real series ship inside statsmodels (`pip install "neuralab[forecast]"`), read offline.

The split is chronological: the first `1 - val_fraction - test_fraction` of the time steps are the training
part, then validation, then test. A window belongs to the part that holds all its targets; its inputs may reach
back into the part before, as they would when forecasting live, and windows are never shuffled across parts.
The mean and standard deviation that scale the series come from the training part alone. With `difference`
the windows hold the changes s[t] - s[t-1] and a model predicts changes; `original` adds them back onto the
last observed value, so every error is measured in the series' own units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import DataError, UserError
from neuralab.registry import register_data

SERIES = ("sines", "sunspots", "co2")
UNITS = {"sines": "", "sunspots": "sunspots", "co2": "ppm"}
INSTALL = ('the {name} series ships with statsmodels, which is not installed: pip install "neuralab[forecast]" '
           "(or pip install statsmodels)")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SeriesConfig:
    series: str = field("sines", "sines (sum of sines plus noise, generated), sunspots (yearly, 1700-2008) or co2 "
                                 "(weekly Mauna Loa CO2, 1958-2001).", choices=SERIES)
    length: int = field(24, "Past values in each input window.", ge=1)
    horizon: int = field(1, "Future values predicted from each window.", ge=1)
    difference: bool = field(False, "Model the changes s[t] - s[t-1] instead of the values (forecasts are added "
                                    "back onto the last value; errors stay in the original units).")
    val_fraction: float = field(0.15, "Share of the time steps after the training part held out for validation.",
                                ge=0, le=0.5)
    test_fraction: float = field(0.15, "Share of the last time steps held out for testing.", gt=0, le=0.5)
    batch_size: int = field(32, "Windows per training step.", ge=1)
    points: int = field(2000, "sines: time steps generated.", ge=10)
    periods: tuple[float, ...] = field((12.0, 31.0, 7.3), "sines: period of each sine in time steps (amplitudes "
                                                          "1, 1/2, 1/3, ...).", nonempty=True, gt=0)
    noise: float = field(0.2, "sines: standard deviation of the added Gaussian noise.", ge=0)
    generator_seed: int = field(0, "sines: seed of the phases and the noise; the run's own seed only orders the "
                                   "batches.")


def sum_of_sines(points: int, periods: tuple[float, ...], noise: float, seed: int) -> np.ndarray:
    """sum_k sin(2 pi t / P_k + phi_k) / (k + 1) + N(0, noise^2) for t = 0..points-1, phases drawn from `seed`."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    phases = rng.uniform(0, 2 * math.pi, len(periods))
    clean = sum(np.sin(2 * math.pi * t / p + phi) / (k + 1) for k, (p, phi) in enumerate(zip(periods, phases,
                                                                                               strict=True)))
    return clean + rng.normal(0, noise, points)


def real_series(name: str) -> np.ndarray:
    """The `sunspots` or `co2` series from statsmodels' bundled data sets, as float64."""
    try:
        from statsmodels import datasets
    except ImportError:
        raise DataError(INSTALL.format(name=name)) from None
    if name == "sunspots":
        return datasets.sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(np.float64)
    return datasets.co2.load_pandas().data["co2"].interpolate().to_numpy(np.float64)  # 59 missing weeks


def load_series(cfg: SeriesConfig) -> np.ndarray:
    if cfg.series == "sines":
        return sum_of_sines(cfg.points, cfg.periods, cfg.noise, cfg.generator_seed)
    return real_series(cfg.series)


def split_bounds(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(a, b): time steps [0, a) are the training part, [a, b) validation, [b, n) test."""
    b = n - int(round(n * test_fraction))
    a = b - int(round(n * val_fraction))
    return a, b


class SeriesData(SupervisedData):
    """Windows x (N, 1, length) and targets y (N, horizon), scaled (and differenced), split in time; it keeps
    what turns a model's outputs back into the series' units."""

    def __init__(self, values: np.ndarray, cfg: SeriesConfig, seed: int, source: str) -> None:
        n, start = len(values), int(cfg.difference)
        a, b = split_bounds(n, cfg.val_fraction, cfg.test_fraction)
        z = np.diff(values, prepend=np.nan) if cfg.difference else values  # z[t]: what the windows hold
        self.mean, self.std = float(z[start:a].mean()), float(z[start:a].std())
        if not self.std > 0:
            raise DataError(f"{source}: the training part is constant; nothing to scale or forecast")
        scaled = (z - self.mean) / self.std
        self.values, self.difference, self.units = values, cfg.difference, UNITS[cfg.series]
        self.first, self.anchor, self.truth = {}, {}, {}  # per split: first target steps, last values, targets
        tensors = {}
        for split, (lo, hi) in zip(SPLITS, [(0, a), (a, b), (b, n)], strict=True):
            first = np.arange(max(lo, start + cfg.length), hi - cfg.horizon + 1)  # windows with all targets in it
            if split != "val" or hi > lo:
                if len(first) == 0:
                    raise UserError(f"{source}: the {split} part ({hi - lo} time steps) holds no window of "
                                    f"{cfg.length} inputs and {cfg.horizon} targets; use a smaller --data.length "
                                    "or --data.horizon, or a larger share for it")
            inputs = first[:, None] + np.arange(-cfg.length, 0)  # (N, length) time steps
            targets = first[:, None] + np.arange(cfg.horizon)  # (N, horizon)
            self.first[split], self.anchor[split] = first, values[first - 1]
            self.truth[split] = values[targets]
            tensors[split] = (torch.from_numpy(scaled[inputs]).float()[:, None],
                              torch.from_numpy(scaled[targets]).float())
        meta = DataMeta(kind="features", input_shape=[1, cfg.length], num_classes=0, class_names=[],
                        feature_names=[f"t-{cfg.length - i}" for i in range(cfg.length)],
                        target_shape=[cfg.horizon], source=source,
                        notes=["differenced: windows hold s[t] - s[t-1]"] if cfg.difference else [])
        val = tensors["val"] if len(self.first["val"]) else None
        super().__init__(tensors["train"], tensors["test"], meta, batch_size=cfg.batch_size, seed=seed, val=val)

    def original(self, split: str, out: torch.Tensor) -> np.ndarray:
        """A model's outputs (N, horizon) on `split`'s windows as forecasts in the series' units: unscaled, and
        with differencing summed onto the last observed value."""
        z = out.detach().float().cpu().numpy().reshape(len(self.first[split]), -1) * self.std + self.mean
        return self.anchor[split][:, None] + z.cumsum(1) if self.difference else z

    def persistence(self, split: str) -> np.ndarray:
        """The naive forecast: every future value equals the last observed one, (N, horizon)."""
        return np.repeat(self.anchor[split][:, None], self.truth[split].shape[1], axis=1)

    def mse(self, split: str, forecast: np.ndarray) -> float:
        """Mean squared error of forecasts (N, horizon) against `split`'s targets, in the series' units."""
        return float(np.mean((forecast - self.truth[split]) ** 2))


@register_data("series", config=SeriesConfig)
def build_series(cfg: SeriesConfig, seed: int) -> SeriesData:
    """Forecasting windows of one series (see the module docstring)."""
    source = cfg.series if cfg.series != "sines" else f"sines-{len(cfg.periods)}"
    return SeriesData(load_series(cfg), cfg, seed, source)

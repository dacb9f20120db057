"""Registered supervised data sources; each builds a `SupervisedData` from its config.

Every source also accepts `path` (the user's image folder or CSV) in place of its own data, so any
supervised recipe trains on user data with `--data.path PATH [--data.label COLUMN]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from neuralab.config import absolute_path, field
from neuralab.data import mnist, synthetic
from neuralab.data.tensors import DataMeta, SupervisedData, split_validation
from neuralab.data.user import MISSING_CHOICES, fill_missing, read_csv_features, read_image_folder
from neuralab.errors import DataError
from neuralab.registry import register_data


@dataclass(frozen=True)
class SupervisedDataConfig:
    """Fields shared by every supervised data source."""

    batch_size: int = field(128, "Examples per training step.", ge=1)
    path: str | None = field(None, "Your own data instead: a folder with one sub-folder of images per "
                                   "class, or a CSV file (see `label`).")
    label: str = field("label", "Name of the label column when `path` is a CSV file.")
    image_size: int = field(28, "Side in pixels that images from `path` are resized to.", ge=1)
    channels: int = field(1, "Channels of images from `path`: 1 (grey) or 3 (RGB).", choices=(1, 3))
    test_fraction: float = field(0.2, "Share of `path` data held out as the test set.", gt=0, le=0.9)
    val_fraction: float = field(0.0, "Share of the training set held out for validation.", ge=0, le=0.9)
    train_limit: int = field(0, "Use only this many training examples (0: all).", ge=0)
    test_limit: int = field(0, "Evaluate on only the first this many test examples (0: all): quick checks of a "
                               "large net, not results.", ge=0)
    resize: int = field(0, "Resize images to this side (bilinear, once, after normalising) so a net built for "
                           "larger inputs takes them, e.g. 32 for VGG or the papers' 224 (0: keep).", ge=0)
    normalize: str = field("standardize", "Input scaling: none, scale (to [0, 1]: pixels / 255, features by "
                                          "min-max) or standardize (zero mean, unit variance from the training set).",
                           choices=("none", "scale", "standardize"))
    exclude_class: int = field(-1, "Leave the examples of this class out of the training (and validation) split but "
                                   "keep them in the test split: a class never seen in training, for anomaly "
                                   "detection (-1: keep every class).", ge=-1)
    missing: str = field("error", "Missing cells in a CSV from `path` (empty, NA, NaN, null, ?): error (stop, naming "
                                  "the cell), drop (drop their rows) or mean (fill the column's mean over the "
                                  "training rows; `predict` fills new rows the same way).", choices=MISSING_CHOICES)

    def __post_init__(self) -> None:
        # Kept absolute in the run's config.json, so `eval` and `predict` find the data from any folder.
        if self.path:
            object.__setattr__(self, "path", absolute_path(self.path))


@dataclass(frozen=True)
class MnistConfig(SupervisedDataConfig):
    root: str | None = field(None, "Folder with the four IDX files (else env var, cache, packaged copy, "
                                   "download).")


@dataclass(frozen=True)
class DigitsConfig(SupervisedDataConfig):
    """scikit-learn's bundled 8x8 digits (1797 images), split into train and test."""


@dataclass(frozen=True)
class SyntheticConfig(SupervisedDataConfig):
    kind: str = field("xor", "Which set: and, or, xor, moons, spirals, blobs or sine.",
                      choices=synthetic.KINDS)
    n: int = field(1000, "Number of points (logic gates always have their 4 rows).", ge=4)
    noise: float = field(0.1, "Noise standard deviation.", ge=0)


def _normalise(x_train: torch.Tensor, others: list[torch.Tensor | None], how: str, pixels: bool,
               per_feature: bool):
    """Input normalisation (notes 002 section 2.7) with training-set statistics only.

    Pixels are first divided by 255. "scale" then rescales features to [0, 1] with the training min and
    max (pixels already are), "standardize" gives zero mean and unit variance. Returns the tensors and the
    (mean, std, pixel_scale) that `predict` applies to new inputs: x' = (x / pixel_scale - mean) / std.
    """
    if how == "none":
        return [x_train.float()] + [None if o is None else o.float() for o in others], 0.0, 1.0, 1.0
    scale = 255.0 if pixels else 1.0
    xs = [x_train.float() / scale] + [None if o is None else o.float() / scale for o in others]
    if how == "scale" and pixels:
        return xs, 0.0, 1.0, scale
    dims = {"dim": 0} if per_feature else {}
    if how == "scale":  # min-max rescaling of feature columns
        low = xs[0].amin(**dims)
        mean, std = low, (xs[0].amax(**dims) - low).clamp_min(1e-8)
    else:
        mean, std = xs[0].mean(**dims), xs[0].std(**dims).clamp_min(1e-8)
    xs = [None if x is None else (x - mean) / std for x in xs]
    to_json = (lambda t: t.tolist()) if per_feature else (lambda t: float(t))
    return xs, to_json(mean), to_json(std), scale


def _resized(x: torch.Tensor, side: int, chunk: int = 1024) -> torch.Tensor:
    """Images (N, C, H, W) resized to (N, C, side, side), a chunk at a time into one tensor: 60,000 images
    at 224x224 take 12 GB, and only once."""
    out = torch.empty(len(x), x.shape[1], side, side, dtype=x.dtype)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = torch.nn.functional.interpolate(x[i:i + chunk], size=(side, side), mode="bilinear",
                                                           align_corners=False, antialias=side < x.shape[-1])
    return out


def _assemble(cfg: SupervisedDataConfig, seed: int, train, test, *, kind: str, class_names: list[str],
              feature_names: list[str] | None = None, source: str, pixels: bool,
              regression: bool = False, notes: tuple[str, ...] = ()) -> SupervisedData:
    (x_tr, y_tr), (x_te, y_te) = train, test
    if cfg.exclude_class >= 0:
        if regression or cfg.exclude_class >= len(class_names):
            raise DataError(f"--data.exclude_class {cfg.exclude_class}: {source} has "
                            f"{'no classes' if regression else f'classes 0..{len(class_names) - 1}'}")
        seen = y_tr != cfg.exclude_class
        x_tr, y_tr = x_tr[seen], y_tr[seen]
    if cfg.train_limit:
        x_tr, y_tr = x_tr[:cfg.train_limit], y_tr[:cfg.train_limit]
    if cfg.test_limit:
        x_te, y_te = x_te[:cfg.test_limit], y_te[:cfg.test_limit]
    (x_tr, y_tr), val = split_validation(x_tr, y_tr, cfg.val_fraction, seed)
    fill, notes = [], list(notes)
    if kind == "features" and cfg.missing == "mean":  # training rows' means only: nothing leaks from test
        (x_tr, x_te, x_va), fill, filled = fill_missing(x_tr, [x_te, None if val is None else val[0]],
                                                        feature_names or [], source)
        val = None if val is None else (x_va, val[1])
        if filled:
            notes.append(f"filled {filled} missing cells with the training rows' column means (--data.missing mean)")
    (x_tr, x_te, x_va), mean, std, scale = _normalise(
        x_tr, [x_te, None if val is None else val[0]], cfg.normalize, pixels, per_feature=kind == "features")
    if cfg.resize:
        if kind != "images":
            raise DataError(f"--data.resize {cfg.resize}: {source} holds feature rows, not images")
        x_tr, x_te, x_va = (None if x is None else _resized(x, cfg.resize) for x in (x_tr, x_te, x_va))
    meta = DataMeta(kind=kind, input_shape=list(x_tr.shape[1:]),
                    num_classes=0 if regression else len(class_names), class_names=class_names,
                    feature_names=feature_names or [], mean=mean, std=std, pixel_scale=scale,
                    source=source, fill=fill, notes=notes)
    return SupervisedData((x_tr, y_tr), (x_te, y_te), meta, batch_size=cfg.batch_size, seed=seed,
                          val=None if val is None else (x_va, val[1]))


def _user_data(cfg: SupervisedDataConfig, seed: int) -> SupervisedData:
    path, notes = Path(cfg.path), ()
    if path.is_dir():
        x, y, classes = read_image_folder(path, cfg.image_size, cfg.channels)
        kind, names, pixels = "images", None, True
    elif path.suffix.lower() == ".csv":
        x, y, names, classes, dropped = read_csv_features(path, cfg.label, missing=cfg.missing)
        kind, pixels = "features", False
        if dropped:
            notes = (f"dropped {dropped} of {dropped + len(x)} rows with missing values (--data.missing drop)",)
    elif not path.exists():
        raise DataError(f"{path}: not found (expected an image folder or a .csv file)")
    else:
        raise DataError(f"{path}: not an image folder or a .csv file")
    if len(classes) < 2:
        raise DataError(f"{path}: only one class ({', '.join(classes)}); a classifier needs at least two")
    (x_tr, y_tr), test = split_validation(x, y, cfg.test_fraction, seed + 1)
    return _assemble(cfg, seed, (x_tr, y_tr), test, kind=kind, class_names=classes, feature_names=names,
                     source=str(path), pixels=pixels, notes=notes)


@register_data("mnist", config=MnistConfig)
def build_mnist(cfg: MnistConfig, seed: int) -> SupervisedData:
    if cfg.path:
        return _user_data(cfg, seed)
    (x_tr, y_tr), (x_te, y_te) = mnist.load("mnist", cfg.root)
    return _assemble(cfg, seed, (x_tr[:, None], y_tr), (x_te[:, None], y_te), kind="images",
                     class_names=list(mnist.SETS["mnist"].class_names), source="mnist", pixels=True)


@register_data("fashion-mnist", config=MnistConfig)
def build_fashion_mnist(cfg: MnistConfig, seed: int) -> SupervisedData:
    if cfg.path:
        return _user_data(cfg, seed)
    (x_tr, y_tr), (x_te, y_te) = mnist.load("fashion-mnist", cfg.root)
    return _assemble(cfg, seed, (x_tr[:, None], y_tr), (x_te[:, None], y_te), kind="images",
                     class_names=list(mnist.SETS["fashion-mnist"].class_names), source="fashion-mnist",
                     pixels=True)


@register_data("digits", config=DigitsConfig)
def build_digits(cfg: DigitsConfig, seed: int) -> SupervisedData:
    """8x8 digits with 16 grey levels, rescaled to 0..255 and resized to `image_size` to read like MNIST."""
    if cfg.path:
        return _user_data(cfg, seed)
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images).float()[:, None].mul(255 / 16)
    if cfg.image_size != 8:
        x = torch.nn.functional.interpolate(x, size=cfg.image_size, mode="bilinear", align_corners=False)
    x = x.round().clamp(0, 255).to(torch.uint8)
    y = torch.from_numpy(d.target).long()
    train, test = split_validation(x, y, cfg.test_fraction, seed + 1)
    return _assemble(cfg, seed, train, test, kind="images", class_names=[str(i) for i in range(10)],
                     source="sklearn-digits", pixels=True)


@register_data("synthetic", config=SyntheticConfig)
def build_synthetic(cfg: SyntheticConfig, seed: int) -> SupervisedData:
    """Logic gates train and test on their 4 rows; other sets are split by `test_fraction`."""
    if cfg.path:
        return _user_data(cfg, seed)
    x, y = synthetic.make(cfg.kind, cfg.n, cfg.noise, seed)
    regression = cfg.kind == "sine"
    if cfg.kind in synthetic.GATES:
        train = test = (x, y)
    else:
        train, test = split_validation(x, y, cfg.test_fraction, seed + 1)
    classes = [] if regression else [str(int(c)) for c in torch.unique(y)]
    return _assemble(cfg, seed, train, test, kind="features", class_names=classes,
                     feature_names=[f"x{i}" for i in range(x.shape[1])], source=f"synthetic-{cfg.kind}",
                     pixels=False, regression=regression)

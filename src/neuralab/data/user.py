"""The user's own data: a folder of images with one sub-folder per class, or a CSV file.

CSV: every column but the label column is a numeric feature; the label column may hold names or
numbers. Images are read with Pillow, converted to grey or RGB and resized to a fixed size.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch

from neuralab.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (channels, size, size); `DataError` naming the file if it is unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def read_image_folder(root: str | Path, size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images under root/<class>/ -> uint8 (N, C, size, size), int64 labels, sorted class names."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class folders (expected one sub-folder of images per class)")
    images, labels = [], []
    for k, name in enumerate(classes):
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"{root / name}: class folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        images += [read_image(p, size, channels) for p in files]
        labels += [k] * len(files)
    if len(classes) < 2:
        raise DataError(f"{root}: only one class folder ({classes[0]}); a classifier needs at least two")
    return torch.from_numpy(np.stack(images)), torch.tensor(labels), classes


def read_csv_features(path: str | Path, label: str | None, class_names: list[str] | None = None):
    """CSV -> float32 features (N, F), int64 labels (or None without a label column), names, classes.

    `class_names` fixes the label order (when predicting with a trained model); otherwise the sorted
    distinct labels are the classes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label is not None and label not in header:
        raise DataError(f"{path}: no label column {label!r}; columns are {', '.join(header)} "
                        "(choose one with --data.label COLUMN)")
    feature_cols = [i for i, h in enumerate(header) if h != label]
    label_col = header.index(label) if label is not None else None
    features = np.empty((len(rows) - 1, len(feature_cols)), dtype=np.float32)
    raw_labels = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {r} has {len(row)} cells, the header has {len(header)}")
        for j, c in enumerate(feature_cols):
            try:
                features[r - 2, j] = float(row[c])
            except ValueError:
                raise DataError(f"{path}: line {r}, column {header[c]!r}: non-numeric cell {row[c]!r}") from None
        if label_col is not None:
            raw_labels.append(row[label_col].strip())
    names = [header[c] for c in feature_cols]
    if label_col is None:
        return torch.from_numpy(features), None, names, class_names or []
    classes = class_names or sorted(set(raw_labels), key=_natural_key)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise DataError(f"{path}: labels {', '.join(unknown[:5])} are not among the classes {', '.join(classes)}")
    labels = torch.tensor([index[v] for v in raw_labels])
    return torch.from_numpy(features), labels, names, classes


def _natural_key(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)

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
            arr = np.array(img, dtype=np.uint8)  # (H, W) or (H, W, 3), a writable copy
    except UnidentifiedImageError:
        raise DataError(f"{path}: unreadable image (not an image format Pillow knows, or a damaged file)") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1).copy()


def read_image_folder(root: str | Path, size: int, channels: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Images under root/<class>/ -> uint8 (N, C, size, size), int64 labels, sorted class names."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class folders (expected one sub-folder of images per class)")
    files = {}
    for name in classes:
        files[name] = sorted(p for p in (root / name).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files[name]:
            raise DataError(f"{root / name}: class folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(classes) < 2:
        raise DataError(f"{root}: only one class folder ({classes[0]}); a classifier needs at least two")
    images = [read_image(p, size, channels) for name in classes for p in files[name]]
    labels = [k for k, name in enumerate(classes) for _ in files[name]]
    return torch.from_numpy(np.stack(images)), torch.tensor(labels), classes


def read_csv_features(path: str | Path, label: str | None, class_names: list[str] | None = None,
                      features: list[str] | None = None):
    """CSV -> float32 features (N, F), int64 labels (or None without a label column), names, classes.

    The features are every column but `label`, or exactly the columns `features` in that order (when
    predicting with a trained model; other columns are then ignored). `class_names` fixes the label
    order; otherwise the sorted distinct labels are the classes.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            lines = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read CSV ({exc})") from None
    if len(lines) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in lines[0][1]]
    if label is not None and label not in header:
        raise DataError(f"{path}: no label column {label!r}; columns are {', '.join(header)} "
                        "(choose one with --data.label COLUMN)")
    if features is None:
        feature_cols = [i for i, h in enumerate(header) if h != label]
    else:
        missing = [f for f in features if f not in header]
        if missing:
            raise DataError(f"{path}: missing feature columns {', '.join(missing)}; columns are {', '.join(header)}")
        feature_cols = [header.index(f) for f in features]
    if not feature_cols:
        raise DataError(f"{path}: no feature columns besides the label column {label!r}")
    body = lines[1:]
    for line_num, row in body:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line_num} has {len(row)} cells, the header has {len(header)}")
    cells = np.array([[row[c] for c in feature_cols] for _, row in body], dtype=object)  # (N, F) strings
    try:
        values = cells.astype(np.float32)
    except ValueError:  # find the first cell that is not a number, to name it
        for (r, j), cell in np.ndenumerate(cells):
            try:
                float(cell)
            except ValueError:
                raise DataError(f"{path}: line {body[r][0]}, column {header[feature_cols[j]]!r}: non-numeric "
                                f"cell {cell!r}") from None
        raise
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        r, j = bad[0]
        raise DataError(f"{path}: line {body[r][0]}, column {header[feature_cols[j]]!r}: value "
                        f"{cells[r, j].strip()!r} is not finite")
    names = [header[c] for c in feature_cols]
    if label is None:
        return torch.from_numpy(values), None, names, class_names or []
    label_col = header.index(label)
    raw_labels = [row[label_col].strip() for _, row in body]
    classes = class_names or sorted(set(raw_labels), key=_natural_key)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise DataError(f"{path}: labels {', '.join(unknown[:5])} are not among the classes {', '.join(classes)}")
    labels = torch.tensor([index[v] for v in raw_labels])
    return torch.from_numpy(values), labels, names, classes


def _natural_key(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)

"""The user's own data: a folder of images with one sub-folder per class, or a CSV file.

CSV: every column but the label column is a numeric feature; the label column may hold names or
numbers. A cell that is empty or reads NA, N/A, NaN, null, None or ? is missing: an error by default,
or its row is dropped, or (features only) it becomes NaN for `fill_missing`. Images are read with
Pillow, converted to grey or RGB and resized to a fixed size.
"""

from __future__ import annotations

import csv
import io
import struct
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from neuralab.data.bounded import check_claim
from neuralab.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})  # compared stripped and lower-cased
MISSING_CHOICES = ("error", "drop", "mean")
TRAIN_HINT = "set --data.missing drop (drop such rows) or mean (fill the column mean)"


def decode_image(path: Path, channels: int, size: int | None = None) -> np.ndarray:
    """One image file as uint8 (channels, H, W) at its own size, or resized to (size, size); a `DataError` naming
    the file when it is unreadable, damaged, or larger than Pillow's decompression-bomb limit (its header is
    checked before any pixel is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # from memory: Pillow reads a chunk length from the file and asks the file for that many bytes, which a
            # file object allocates up front (a damaged PNG made it ask for gigabytes); a BytesIO has only its own
            with Image.open(io.BytesIO(path.read_bytes())) as img:
                width, height = img.size
                check_claim(width * height * 4, path, f"a {width}x{height} image")
                img = img.convert("L" if channels == 1 else "RGB")
                if size is not None:
                    img = img.resize((size, size), Image.BILINEAR)
                arr = np.array(img, dtype=np.uint8)  # (H, W) or (H, W, 3), a writable copy
    except UnidentifiedImageError:
        raise DataError(f"{path}: unreadable image (not an image format Pillow knows, or a damaged file)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{path}: image too large to read ({exc})") from None
    except (OSError, ValueError, EOFError, SyntaxError, struct.error, IndexError, ZeroDivisionError) as exc:
        # Pillow's decoders raise all of these on damaged files
        raise DataError(f"{path}: unreadable image ({str(exc)[:200]})") from None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1).copy()


def read_image(path: Path, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (channels, size, size); `DataError` naming the file if it is unreadable."""
    return decode_image(path, channels, size)


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


class CsvTable(NamedTuple):
    """A CSV read by `read_csv_features`."""

    x: torch.Tensor  # (N, F) float32; NaN in missing cells when missing="mean"
    y: torch.Tensor | None  # (N,) int64 class indices, None without a label column
    names: list[str]  # feature column names, in the order of x's columns
    classes: list[str]
    dropped: int  # rows dropped for a missing cell (missing="drop")


def read_csv_features(path: str | Path, label: str | None, class_names: list[str] | None = None,
                      features: list[str] | None = None, missing: str = "error",
                      hint: str = TRAIN_HINT) -> CsvTable:
    """CSV -> float32 features (N, F), int64 labels (or None without a label column), names, classes.

    The features are every column but `label`, or exactly the columns `features` in that order (when
    predicting with a trained model; other columns are then ignored). `class_names` fixes the label
    order; otherwise the sorted distinct labels are the classes. A missing cell is an error naming it
    (ending with `hint`), drops its row (`missing="drop"`) or reads as NaN (`missing="mean"`: features
    only, a missing label stays an error).
    """
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing must be one of {MISSING_CHOICES}, got {missing!r}")
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
        raise DataError(f"{path}: no label column {label!r}; columns are {_listed(header)} "
                        "(choose one with --data.label COLUMN)")
    if features is None:
        feature_cols = [i for i, h in enumerate(header) if h != label]
    else:
        absent_cols = [f for f in features if f not in header]
        if absent_cols:
            raise DataError(f"{path}: missing feature columns {_listed(absent_cols)}; columns are "
                            f"{_listed(header)}")
        feature_cols = [header.index(f) for f in features]
    if not feature_cols:
        raise DataError(f"{path}: no feature columns besides the label column {label!r}")
    body = lines[1:]
    for line_num, row in body:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line_num} has {len(row)} cells, the header has {len(header)}")
    body, dropped = _handle_missing(path, header, body, feature_cols, label, missing, hint)
    cells = np.array([[row[c] for c in feature_cols] for _, row in body], dtype=object)  # (N, F) strings
    gaps = np.vectorize(_is_missing, otypes=[bool])(cells)  # (N, F), only with missing="mean"
    cells[gaps] = "nan"
    try:
        with np.errstate(over="ignore"):  # a number beyond float32 becomes inf, refused below
            values = cells.astype(np.float32)
    except ValueError:  # find the first cell that is not a number, to name it
        for (r, j), cell in np.ndenumerate(cells):
            try:
                float(cell)
            except ValueError:
                raise DataError(f"{path}: line {body[r][0]}, column {header[feature_cols[j]][:60]!r}: non-numeric "
                                f"cell {cell[:60]!r}") from None
        raise
    bad = np.argwhere(~np.isfinite(values) & ~gaps)
    if len(bad):
        r, j = bad[0]
        raise DataError(f"{path}: line {body[r][0]}, column {header[feature_cols[j]][:60]!r}: value "
                        f"{cells[r, j].strip()[:60]!r} is not finite")
    names = [header[c] for c in feature_cols]
    if label is None:
        return CsvTable(torch.from_numpy(values), None, names, class_names or [], dropped)
    label_col = header.index(label)
    raw_labels = [row[label_col].strip() for _, row in body]
    classes = class_names or sorted(set(raw_labels), key=_natural_key)
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise DataError(f"{path}: labels {_listed(unknown[:5])} are not among the classes {_listed(classes)}")
    labels = torch.tensor([index[v] for v in raw_labels])
    return CsvTable(torch.from_numpy(values), labels, names, classes, dropped)


def _listed(names: list[str], limit: int = 300) -> str:
    """Names from the file for an error line: a name with a line break or other unprintable character quoted,
    the list cut after `limit` characters."""
    text = ", ".join(n if n.isprintable() else repr(n) for n in names)
    return text if len(text) <= limit else text[:limit] + " ..."


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def _handle_missing(path: Path, header: list[str], body: list[tuple[int, list[str]]], feature_cols: list[int],
                    label: str | None, missing: str, hint: str) -> tuple[list[tuple[int, list[str]]], int]:
    """Apply the `missing` policy to the rows -> (rows kept, number dropped); errors name the first gap."""
    label_col = None if label is None else header.index(label)
    labels = [] if label_col is None else [label_col]
    if missing == "drop":
        kept = [(n, row) for n, row in body if not any(_is_missing(row[c]) for c in feature_cols + labels)]
        if not kept:
            raise DataError(f"{path}: every row has a missing value; --data.missing drop leaves nothing to use")
        return kept, len(body) - len(kept)
    checked = sorted(labels + (feature_cols if missing == "error" else []))  # "mean": features become NaN later
    for n, row in body:
        for c in checked:
            if _is_missing(row[c]):
                why = "a label cannot be filled; set --data.missing drop to drop such rows" if c == label_col else hint
                raise DataError(f"{path}: line {n}, column {header[c][:60]!r}: missing value {row[c].strip()!r}; {why}")
    return body, 0


def fill_missing(x_train: torch.Tensor, others: list[torch.Tensor | None], names: list[str],
                 source: str) -> tuple[list[torch.Tensor | None], list[float], int]:
    """Missing cells (NaN) in (N, F) features -> their column's mean over the training rows `x_train`.

    Returns the filled [x_train, *others], the F means (kept so `predict` fills new rows the same way)
    and the number of cells filled.
    """
    means = torch.nanmean(x_train, 0)  # (F,)
    empty = [names[j] for j in means.isnan().nonzero().flatten().tolist()]
    if empty:
        raise DataError(f"{source}: column {empty[0][:60]!r} has no value in any training row; there is no mean to "
                        "fill it with")
    xs = [x_train, *others]
    count = sum(int(x.isnan().sum()) for x in xs if x is not None)
    return [None if x is None else torch.where(x.isnan(), means, x) for x in xs], means.tolist(), count


def _natural_key(text: str) -> tuple:
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)

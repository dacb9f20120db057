"""Reader for the IDX format of LeCun's MNIST files (also Fashion-MNIST, KMNIST), gzipped or raw.

Format: 2 zero bytes, a type code, the number of dimensions, then each dimension as a big-endian
uint32, then the data in C order.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import torch

from neuralab.errors import DataError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> torch.Tensor:
    """Read one IDX file into a tensor, with a clear error for a wrong magic or a truncated file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DataError(f"{path}: wrong IDX magic number {raw[:4].hex() or '(empty file)'}; "
                        "expected 0000 followed by a type code and the number of dimensions")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header < expected:
        raise DataError(f"{path}: truncated IDX file: {len(raw) - header} data bytes, "
                        f"shape {shape} needs {expected}")
    data = np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape)), offset=header).reshape(shape)
    return torch.from_numpy(data.astype(dtype.newbyteorder("=")))


def write_idx(path: str | Path, array: np.ndarray, compress: bool | None = None) -> None:
    """Write a uint8 or int8 IDX file (used for test fixtures); gzip when `compress`, else when the name ends in .gz."""
    path = Path(path)
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}
    array = np.ascontiguousarray(array)
    if array.dtype not in codes:
        raise ValueError("write_idx supports uint8 and int8 arrays")
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        raw = gzip.compress(raw)
    path.write_bytes(raw)

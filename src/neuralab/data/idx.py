"""Reader for the IDX format of LeCun's MNIST files (also Fashion-MNIST, KMNIST), gzipped or raw.

Format: 2 zero bytes, a type code, the number of dimensions, then each dimension as a big-endian
uint32, then the data in C order.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np
import torch

from neuralab.data.bounded import check_claim, count_text, short
from neuralab.errors import DataError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> torch.Tensor:
    """Read one IDX file into a tensor, with a clear error for a wrong magic, a truncated file or a header that
    claims more data than memory holds (refused before anything is allocated)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, path)
    dtype, shape, header = _header(raw, path)
    count = math.prod(shape)
    if len(raw) - header < count * dtype.itemsize:
        raise DataError(f"{path}: truncated IDX file: {len(raw) - header} data bytes, "
                        f"shape {short(shape)} needs {count_text(count * dtype.itemsize)}")
    try:
        data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    except ValueError:  # an empty array whose other dimensions multiply past what numpy can index
        raise DataError(f"{path}: IDX shape {short(shape)} is too large for an array") from None
    return torch.from_numpy(data.astype(dtype.newbyteorder("=")))


def _header(raw: bytes, path: Path) -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, header length) of IDX bytes, checked to be complete."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise DataError(f"{path}: wrong IDX magic number {raw[:4].hex() or '(empty file)'}; "
                        "expected 0000 followed by a type code and the number of dimensions")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions need {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.dtype(_TYPES[raw[2]]), shape, header


def _gunzip(raw: bytes, path: Path) -> bytes:
    """Gzipped IDX bytes inflated no further than the size their header claims, that size checked against memory
    first; the output grows as it inflates, so a truncated stream allocates only what it holds."""
    try:
        dtype, shape, header = _header(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, 4 + 4 * 255), path)
        size = header + math.prod(shape) * dtype.itemsize
        check_claim(size, path, f"IDX shape {short(shape)}")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        data = inflater.decompress(raw, size)
        inflater.decompress(inflater.unconsumed_tail, 1 << 16)  # on to the trailer, whose checksum zlib checks
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if len(data) < size and not inflater.eof:
        raise DataError(f"{path}: corrupt or truncated gzip data (the stream ends after {len(data)} of the {size} "
                        "bytes its header claims)")
    return data


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

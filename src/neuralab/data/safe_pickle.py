"""A restricted unpickler that rebuilds numpy arrays and nothing else.

A plain `pickle.load` runs whatever callable the file names; this one only allows the few globals
needed to rebuild ndarrays (plus `_codecs.encode` and `bytes`, which protocol-2 pickles use for byte
strings), so a crafted file is refused instead of executed. It is an allow-list: any other global,
harmless or not, is refused.

The allowed callables are handed out through checks, so a crafted file can neither allocate much more than its
own size (an array pickle carries its data: `_reconstruct` starts each array empty and the data arrives with it;
a claim beyond the file's size is refused before numpy allocates) nor build object arrays, whose elements could
be anything the pickle makes.
"""

from __future__ import annotations

import codecs
import io
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from neuralab.data.bounded import gunzip, short
from neuralab.errors import DataError, UnsafeFileError

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),  # protocol 5 pickles of arrays
    ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),
    ("__builtin__", "bytes"),  # protocol 2 writes an empty byte string as bytes()
    ("builtins", "bytes"),
}


class _ArrayType:
    """What the pickle gets for numpy.ndarray: a token `_reconstruct` accepts, not a constructor it can call."""


class ArrayOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, size: int, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.size = size  # bytes of the (inflated) pickle: no array it holds can need more

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise UnsafeFileError(f"refusing to load {module}.{name}: the file asks to run code that is not "
                                  "numpy array reconstruction")
        checked = {"_reconstruct": self._reconstruct, "ndarray": _ArrayType, "dtype": _dtype, "scalar": _scalar,
                   "encode": _encode, "bytes": self._bytes}
        return checked.get(name) or super().find_class(module, name)

    def _claim(self, nbytes: int, what: str) -> None:
        if nbytes > self.size:
            raise DataError(f"{what} claims {nbytes} bytes, more than the {self.size} bytes of the whole pickle")

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
        if subtype is not _ArrayType:
            raise DataError(f"_reconstruct of {short(subtype)}, not of numpy.ndarray")
        shape, dtype = _shape(shape), _dtype(dtype)
        self._claim(math.prod(shape) * dtype.itemsize, f"an array of shape {shape}")
        return np.ndarray.__new__(np.ndarray, shape, dtype)

    def _bytes(self, *args: Any) -> bytes:
        if args and isinstance(args[0], int):
            self._claim(args[0], "bytes()")
        return bytes(*args)


def _shape(shape: Any) -> tuple[int, ...]:
    shape = shape if isinstance(shape, tuple) else (shape,)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise DataError(f"array shape {short(shape)} is not a tuple of sizes")
    return shape


def _dtype(spec: Any, *flags: Any) -> np.dtype:
    if len(flags) > 2 or not all(isinstance(f, bool) for f in flags):  # pickles write dtype(spec, align, copy)
        raise DataError(f"dtype flags {short(flags)} are not (align, copy) booleans")
    dtype = np.dtype(spec, *flags)
    if dtype.hasobject:
        raise UnsafeFileError("refusing an array of Python objects: only arrays of numbers are loaded")
    return dtype


def _scalar(dtype: Any, *args: Any) -> Any:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafeFileError("refusing a scalar that is not a number")
    if not args or not isinstance(args[0], bytes) or len(args[0]) != dtype.itemsize:
        raise DataError(f"a {dtype} scalar needs {dtype.itemsize} bytes of data")
    return np.frombuffer(args[0], dtype=dtype)[0]


def _encode(text: Any, encoding: Any = "utf-8", *args: Any) -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise DataError("_codecs.encode is allowed only to turn a latin1 string into bytes")
    return codecs.encode(text, "latin1")


def load_arrays_pickle(path: str | Path) -> Any:
    """Load a (possibly gzipped) pickle that holds only numpy arrays, tuples, lists and numbers."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        raw = gunzip(raw, path)
    try:
        return ArrayOnlyUnpickler(io.BytesIO(raw), len(raw), encoding="latin1").load()
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"{path}: {exc}") from None
    except DataError as exc:
        raise DataError(f"{path}: not a readable array pickle ({exc})") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError,
            OverflowError, RecursionError) as exc:
        raise DataError(f"{path}: not a readable array pickle ({str(exc)[:200]})") from None

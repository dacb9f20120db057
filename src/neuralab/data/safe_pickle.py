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
import struct
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


def _load_build(self: ArrayOnlyUnpickler) -> None:
    """BUILD (obj.__setstate__(state)) for arrays and dtypes only, and only with a state of the shape numpy writes:
    numpy's own `__setstate__` crashes the interpreter on some malformed dtype states."""
    state = self.stack.pop()
    obj = self.stack[-1]
    if type(obj) is np.ndarray:
        _check_array_state(state)
    elif isinstance(obj, np.dtype):
        _check_dtype_state(obj, state)
    else:
        raise DataError(f"a pickle may set the state of arrays and dtypes only, not of {type(obj).__name__}")
    obj.__setstate__(state)


def _load_bytearray8(self: ArrayOnlyUnpickler) -> None:
    """BYTEARRAY8 without allocating the size it claims before the bytes are there (pickle's own one does)."""
    (size,) = struct.unpack("<Q", self.read(8))
    data = self.read(size)  # from a BytesIO: at most what remains
    if len(data) != size:
        raise DataError(f"a bytearray of {size} bytes where {len(data)} remain")
    self.append(bytearray(data))


class ArrayOnlyUnpickler(pickle._Unpickler):
    """The pure-Python unpickler (its opcodes can be checked one by one, unlike the C one's) with an allow-list of
    globals, checked callables and a checked BUILD."""

    dispatch = {**pickle._Unpickler.dispatch, pickle.BUILD[0]: _load_build, pickle.BYTEARRAY8[0]: _load_bytearray8}

    def __init__(self, file: io.BytesIO, size: int, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.size = size  # bytes of the (inflated) pickle: no array it holds can need more

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            what = " ".join(f"{module}.{name}".split())[:120]  # names from the file, on one line
            raise UnsafeFileError(f"refusing to load {what}: the file asks to run code that is not numpy array "
                                  "reconstruction")
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
        self._claim(math.prod(shape) * dtype.itemsize, f"an array of shape {short(shape)}")
        return np.ndarray.__new__(np.ndarray, shape, dtype)

    def _bytes(self, *args: Any) -> bytes:
        if args and isinstance(args[0], int):
            self._claim(args[0], "bytes()")
        return bytes(*args)


def _check_array_state(state: Any) -> None:
    """`state` must be numpy's (1, shape, dtype, is_fortran, data) with exactly the bytes the shape needs."""
    if not (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[2], np.dtype)
            and isinstance(state[3], bool) and isinstance(state[4], bytes | str)):
        raise DataError("an array state that is not numpy's (version, shape, dtype, order, data)")
    shape, dtype = _shape(state[1]), state[2]
    if dtype.hasobject:
        raise UnsafeFileError("refusing an array of Python objects: only arrays of numbers are loaded")
    if len(state[4]) != math.prod(shape) * dtype.itemsize:
        raise DataError(f"an array of shape {short(shape)} and dtype {dtype} with {len(state[4])} bytes of data")


def _check_dtype_state(dtype: np.dtype, state: Any) -> None:
    """`state` must be one numpy writes for `dtype` in some byte order (plain dtypes only: no fields)."""
    expected = []
    for order in "<>|=":
        try:
            expected.append(dtype.newbyteorder(order).__reduce__()[2])
        except ValueError:
            continue
    if not any(type(state) is tuple and state == e for e in expected):
        raise DataError(f"dtype {dtype}: a state numpy does not write ({short(state)})")


def _shape(shape: Any) -> tuple[int, ...]:
    shape = shape if isinstance(shape, tuple) else (shape,)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise DataError(f"array shape {short(shape)} is not a tuple of sizes")
    return shape


def _dtype(spec: Any, *flags: Any) -> np.dtype:
    if len(flags) > 2 or not all(isinstance(f, int) and f in (0, 1) for f in flags):  # dtype(spec, align, copy)
        raise DataError(f"dtype flags {short(flags)} are not (align, copy) booleans")
    dtype = np.dtype(spec, *map(bool, flags))
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
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, LookupError, OverflowError,
            RecursionError, struct.error, SyntaxError) as exc:
        # LookupError: KeyError, IndexError, and bytes() asked for an unknown encoding; SyntaxError: numpy parsing a
        # malformed dtype string
        raise DataError(f"{path}: not a readable array pickle ({' '.join(str(exc).split())[:200]})") from None

"""A restricted unpickler that rebuilds numpy arrays and nothing else.

A plain `pickle.load` runs whatever callable the file names; this one only allows the few globals
needed to rebuild ndarrays (plus `_codecs.encode` and `bytes`, which protocol-2 pickles use for byte
strings), so a crafted file is refused instead of executed. It is an allow-list: any other global,
harmless or not, is refused.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zlib
from pathlib import Path
from typing import Any

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


class ArrayOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise UnsafeFileError(f"refusing to load {module}.{name}: the file asks to run code that is not "
                                  "numpy array reconstruction")
        return super().find_class(module, name)


def load_arrays_pickle(path: str | Path) -> Any:
    """Load a (possibly gzipped) pickle that holds only numpy arrays, tuples, lists and numbers."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip data ({exc})") from None
    try:
        return ArrayOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except UnsafeFileError as exc:
        raise UnsafeFileError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
        raise DataError(f"{path}: not a readable array pickle ({exc})") from None

"""Bounds on what an untrusted file can make a reader do: allocate, decompress, nest.

A reader believes a size written in a file (an IDX header, an image's width and height, a JSON file's image
sizes) only after checking it against `memory_budget()`, so a header that claims 10^12 items is refused with
one line before anything is allocated. Gzip streams are decompressed in chunks up to a limit (a few kilobytes
of zeros can inflate to gigabytes), and JSON that nests deeper than the parser's recursion limit, or holds
integers too long to convert, is a `DataError` rather than a crash.
"""

from __future__ import annotations

import json
import os
import reprlib
import resource
import zlib
from pathlib import Path
from typing import Any

from neuralab.errors import DataError

CHUNK = 1 << 20  # bytes decompressed at a time
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlong = 40


def memory_budget() -> int:
    """Bytes one file may ask a reader to allocate: the machine's memory or, under an address-space limit
    (`ulimit -v`, RLIMIT_AS), what the limit leaves free, whichever is less."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return total
    return min(total, max(0, soft - _address_space()))


def _address_space() -> int:
    """Bytes of address space this process holds now (0 where /proc does not say)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def check_claim(nbytes: int, path: str | Path, what: str) -> None:
    """Refuse `what` of `path` (e.g. "shape (10, 28, 28)") when it needs more than `memory_budget()` bytes."""
    budget = memory_budget()
    if nbytes > budget:
        need = f"{nbytes / 2**30:.3g}" if nbytes < 2**96 else f"more than {2**66:.3g}"  # past float range
        raise DataError(f"{path}: {what} needs {need} GiB, more than the {budget / 2**30:.3g} GiB this process may "
                        "use: a damaged or hostile header")


def gunzip(raw: bytes, path: str | Path, limit: int | None = None) -> bytes:
    """Decompress gzip data `raw` in chunks; a `DataError` when it is damaged or inflates past `limit` bytes
    (default half the `memory_budget()`: joining the chunks takes a second copy)."""
    limit = memory_budget() // 2 if limit is None else limit
    parts, size, data = [], 0, raw
    try:
        while data:  # one gzip member after another, as gzip.decompress reads them
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            while not inflater.eof:
                chunk = inflater.decompress(data, CHUNK)
                size += len(chunk)
                if size > limit:
                    raise DataError(f"{path}: gzip data inflates past {limit / 2**30:.3g} GiB (a damaged file, or "
                                    "a decompression bomb)")
                parts.append(chunk)
                data = inflater.unconsumed_tail
                if not chunk and not data:
                    break
            if not inflater.eof:
                raise DataError(f"{path}: corrupt gzip data (the stream ends before its end marker)")
            data = inflater.unused_data.lstrip(b"\0")  # gzip pads some files with zeros
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt gzip data ({exc})") from None
    return b"".join(parts)


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """The JSON document in `path`; one `DataError` line for any file that is not readable, UTF-8, valid JSON."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a {what} (not UTF-8 text)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise DataError(f"{path}: JSON nested too deeply to read") from None
    except ValueError as exc:  # an integer of more digits than int() converts
        raise DataError(f"{path}: not a readable {what} ({exc})") from None


def count_text(n: int) -> str:
    """An integer computed from a file's sizes, for an error line: its digits, or for one past 2^64 (a product of
    many claimed dimensions can have thousands) only its order."""
    return str(n) if n.bit_length() <= 64 else f"more than 2^{n.bit_length() - 1}"


def short(value: Any) -> str:
    """`repr(value)` cut to a few dozen characters, for error lines that quote a file's content."""
    return _REPR.repr(value)

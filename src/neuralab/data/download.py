"""Downloads into the cache: streamed to a temporary file, SHA-256 checked, then renamed into place.

A corrupted or truncated download is deleted and reported; nothing partial is ever left in the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from neuralab.errors import DataError


def cache_dir() -> Path:
    """`$NEURALAB_CACHE`, else `$XDG_CACHE_HOME/neuralab`, else `~/.cache/neuralab`."""
    if os.environ.get("NEURALAB_CACHE"):
        return Path(os.environ["NEURALAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neuralab"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(url: str, target: Path, expected_sha256: str, timeout: float = 30.0) -> Path:
    """Fetch `url` to `target` unless a verified copy is there; raise `DataError` on any failure."""
    if target.is_file() and sha256(target) == expected_sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name in the target's folder: the final rename is atomic and two processes
    # downloading at once do not write into each other's file.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            length = response.headers.get("Content-Length")
            received = 0
            for chunk in iter(lambda: response.read(1 << 16), b""):
                out.write(chunk)
                received += len(chunk)
        if length is not None and received != int(length):
            raise DataError(f"{url}: truncated download ({received} of {length} bytes); nothing was kept")
        got = sha256(tmp)
        if got != expected_sha256:
            raise DataError(f"{url}: checksum mismatch (sha256 {got}, expected {expected_sha256}); "
                            "the file is corrupt and was not kept")
        os.replace(tmp, target)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(f"{url}: download failed ({reason})") from None
    finally:
        tmp.unlink(missing_ok=True)
    return target

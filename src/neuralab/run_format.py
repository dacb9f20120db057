"""Versions of the run-directory format: what a run's `config.json` and each checkpoint's JSON hold.

Every file a run is rebuilt from carries `format_version` and the `neuralab_version` that wrote it. A reader
migrates an older format to the current one in memory (the files on disk are left as they are) and refuses a
newer one with one line, since it cannot know what that format added.

Formats:
- 1: neuralab 0.1.0 until version stamps existed. No version fields; checkpoint JSON without digests.
- 2: `format_version` and `neuralab_version` in `config.json` and in each checkpoint's JSON; the checkpoint JSON
  also holds the SHA-256 and size of its safetensors file (`neuralab.checkpoint` checks them on loading).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuralab.errors import UserError, one_line

FORMAT_VERSION = 2
FIRST_VERSION = 1  # files without a `format_version` field


def neuralab_version() -> str:
    from neuralab import __version__

    return __version__


def stamp(content: dict[str, Any]) -> dict[str, Any]:
    """`content` with the current format version and the neuralab version that writes it."""
    return {**content, "format_version": FORMAT_VERSION, "neuralab_version": neuralab_version()}


def read(content: Any, path: Path) -> dict[str, Any]:
    """A run file's parsed JSON in the current format: an older one migrated, a newer or unknown one refused."""
    if not isinstance(content, dict):
        raise UserError(f"{path}: not a neuralab run file (a JSON object was expected, found "
                        f"{type(content).__name__})")
    version = content.get("format_version", FIRST_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < FIRST_VERSION:
        raise UserError(f"{path}: unknown run format {_shown(version)}; not a file neuralab wrote")
    if version > FORMAT_VERSION:
        writer = one_line(content.get("neuralab_version", "a newer neuralab"), 60)
        raise UserError(f"{path}: written in run format {_shown(version)} (by neuralab {writer}); this neuralab "
                        f"{neuralab_version()} reads formats up to {FORMAT_VERSION}: upgrade neuralab to load it")
    for older in range(version, FORMAT_VERSION):
        content = MIGRATIONS[older](content)
    return content


def _shown(version: Any) -> str:
    """A format_version read from a file, safe to quote: a short number or a cut string, else a word (a
    5,000-digit integer cannot even be turned into text)."""
    if isinstance(version, int) and abs(version) < 10**6:
        return str(version)
    return repr(one_line(version, 40)) if isinstance(version, str) else "(not a version number)"


def _from_1(content: dict[str, Any]) -> dict[str, Any]:
    """Format 1 -> 2: the version fields (a format-1 checkpoint has no digests: it is read unchecked)."""
    return {**content, "format_version": 2, "neuralab_version": "0.1.0"}


MIGRATIONS = {1: _from_1}  # format N -> N + 1, applied in turn

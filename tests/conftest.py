"""Shared test helpers: run the CLI in a subprocess against this checkout's sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "neuralab", *map(str, args)], capture_output=True, text=True,
                          env=env or cli_env(), timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


def assert_png_drawn(path: Path, min_size: tuple[int, int] = (300, 200), min_std: float = 5.0) -> None:
    """A plot was drawn: a PNG at least `min_size` (width, height) pixels whose pixels are not all one shade."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG", f"{path} is a {image.format}, not a PNG"
        width, height = image.size
        assert width >= min_size[0] and height >= min_size[1], f"{path} is only {width}x{height} pixels"
        std = float(np.asarray(image.convert("L"), dtype=np.float64).std())
    assert std > min_std, f"{path} looks blank (pixel std {std:.2f})"

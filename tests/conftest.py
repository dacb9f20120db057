"""Shared test helpers: run the CLI in a subprocess against this checkout's sources, or in this process."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two pytest workers on two cores: one torch thread each, in the workers and in the CLI
    # processes they start (the environment is inherited), so two trainings never fight over four threads.
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


@pytest.hookimpl(optionalhook=True)  # xdist's hook: not an error where xdist is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`make test`'s work units (`--dist loadfile`): each test file is one unit, so a module's fixtures are built
    once, except the recipe contract file, by far the longest: one unit per recipe, so the workers share it (each
    trains only the recipes it runs). Other --dist modes keep xdist's own scheduler."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesAndRecipes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::")[0]
            if path.endswith("contract/test_recipes.py") and nodeid.endswith("]"):
                return "recipe:" + nodeid[nodeid.index("[") + 1:-1]
            return path

    return FilesAndRecipes(config, log)


def cli_env(first: str = "", **extra: str) -> dict[str, str]:
    """The environment a CLI subprocess runs in: this checkout's src on PYTHONPATH (after `first`, if given)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in (first, str(SRC), env.get("PYTHONPATH", "")) if p])
    env.update(extra)
    return env


def run_cli(*args: object, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `python -m neuralab ARGS` to completion, capturing stdout and stderr as text."""
    return subprocess.run([sys.executable, "-m", "neuralab", *map(str, args)], capture_output=True, text=True,
                          env=env or cli_env(), cwd=cwd, timeout=timeout)


def run_main(*args: object) -> subprocess.CompletedProcess:
    """`neuralab ARGS` as `run_cli` runs it, but through `neuralab.cli.main` in this process: the same exit code,
    stdout and stderr without the five or more seconds a fresh interpreter spends importing torch, scikit-learn and
    matplotlib. For commands that run to completion; signals, locks between processes, environment variables and
    the installed entry point need `run_cli` or `popen_cli`. Torch's process-wide settings that a run changes
    (threads, deterministic algorithms) are put back afterwards, so the next test in this worker starts from the
    settings the previous one had, whatever the command set."""
    import torch

    from neuralab.cli import main

    threads = torch.get_num_threads()
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:  # argparse's usage errors exit 2 after printing to stderr
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
    return subprocess.CompletedProcess(list(map(str, args)), code, out.getvalue(), err.getvalue())


def popen_cli(*args: object, env: dict[str, str] | None = None, read_stdout: bool = False,
              read_stderr: bool = True) -> subprocess.Popen:
    """Start `python -m neuralab ARGS` without waiting (to signal it). Only the streams the caller reads are
    piped: a process whose full pipe nobody drains would block."""
    return subprocess.Popen([sys.executable, "-m", "neuralab", *map(str, args)], env=env or cli_env(),
                            stdout=subprocess.PIPE if read_stdout else subprocess.DEVNULL,
                            stderr=subprocess.PIPE if read_stderr else subprocess.DEVNULL, text=True)


def checkpoint_step(run_dir: Path) -> int | None:
    """The step of the newest complete checkpoint in `run_dir`, None before the first."""
    try:
        return json.loads((run_dir / "checkpoints" / "latest.json").read_text())["step"]
    except (FileNotFoundError, ValueError):  # not written yet, or caught mid-replace
        return None


def wait_for_step(run_dir: Path, proc: subprocess.Popen, at_least: int, timeout: float = 60) -> int:
    """Wait until `proc` has checkpointed step `at_least` or later; return that step."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        step = checkpoint_step(run_dir)
        if step is not None and step >= at_least:
            return step
        if proc.poll() is not None:
            raise AssertionError(f"training ended before step {at_least}: {proc.stderr.read()}")
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint of step {at_least} or later appeared within {timeout} s")


def final_tensors(run_dir: Path) -> dict:
    """Every tensor of the newest checkpoint in `run_dir`, by name."""
    from safetensors.torch import load_file

    name = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["name"]
    return load_file(str(run_dir / "checkpoints" / f"{name}.safetensors"))


def record_digest(weights: Path) -> None:
    """Write the SHA-256 and size of the file `weights` (a checkpoint's safetensors half, replaced by a test) into its
    checkpoint JSON, as a crafted checkpoint would have them: the digest check passes and what reads the tensors
    file is tested."""
    from neuralab.checkpoint import digest

    meta_path = weights.with_suffix(".json")
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), **digest(weights.read_bytes())}))


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

"""A run directory read for display by `neuralab report` and `neuralab serve`.

Only JSON, JSON lines and image files are read, each through `inside`, which refuses any path (a `..` part, an
absolute path, a symlink) that leads out of the folder being shown. Nothing from a run directory is executed or
unpickled: checkpoints are never opened.
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuralab.errors import UserError
from neuralab.metrics import read_jsonl

IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
RUNNING_WITHIN_S = 120  # a run without summary.json whose log changed this recently is still training
MAX_DEPTH = 4  # run folders are looked for this many levels below the runs folder (runs/results/RECIPE/seed-K)
SKIPPED = {"checkpoints", "tensorboard", "__pycache__"}


def inside(root: Path, relative: str | os.PathLike) -> Path | None:
    """`root / relative` when it resolves (symlinks followed) to a path within `root`, else None."""
    base = root.resolve()
    try:
        path = (base / relative).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
        return None
    return path if path == base or path.is_relative_to(base) else None


def _read_json(root: Path, relative: str) -> Any:
    path = inside(root, relative)
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


@dataclass
class RunRecord:
    """What a page shows of one run: its configuration, summary, metric rows and images."""

    name: str  # the folder, relative to the runs folder (posix)
    path: Path
    config: dict[str, Any]
    summary: dict[str, Any] | None
    rows: list[dict[str, Any]]
    images: list[str]  # relative posix paths of every image the run wrote
    status: str  # passed, missed, finished, running or stopped
    modified: float
    recipe: str = ""
    family: str = ""
    title: str = ""
    curriculum: str = ""
    paper: str = ""
    expect: list[dict[str, Any]] = field(default_factory=list)

    @property
    def environment(self) -> dict[str, Any]:
        return self.config.get("environment") or {"torch": self.config.get("torch", "?")}

    @property
    def sections(self) -> dict[str, dict[str, Any]]:
        return self.config.get("sections") or {}

    @property
    def last_step(self) -> int:
        return int(self.rows[-1]["step"]) if self.rows else 0

    @property
    def metrics(self) -> dict[str, Any]:
        """The final metrics (of summary.json), or the newest value of each metric while the run trains."""
        if self.summary and isinstance(self.summary.get("metrics"), dict):
            return self.summary["metrics"]
        latest: dict[str, Any] = {}
        for row in self.rows:
            latest.update({k: v for k, v in row.items() if "/" in k})
        return latest

    def flat_config(self) -> dict[str, Any]:
        """{'section.field': value} over every config section."""
        return {f"{section}.{key}": value for section, fields in self.sections.items() if isinstance(fields, dict)
                for key, value in fields.items()}

    def command(self) -> str:
        """The command that trains this run again: the recipe and the overrides it was started with."""
        words = ["neuralab", "train", self.recipe, "--out", str(self.path)]
        overrides = self.config.get("overrides") or {}
        for section, fields in sorted(overrides.items()):
            for key, value in sorted(fields.items()):
                words += [f"--{section}.{key}", _as_flag(value)]
        return shlex.join(words)


def _as_flag(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def is_run_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and not (path / "config.json").is_symlink()


def find_runs(root: Path) -> list[Path]:
    """Run folders under `root` (itself included), newest first; symlinked folders are not followed."""
    root = Path(root)
    found = []
    for folder, subfolders, _ in os.walk(root, followlinks=False):
        here = Path(folder)
        depth = len(here.relative_to(root).parts)
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED and not d.startswith(".")
                               and depth < MAX_DEPTH)
        if is_run_dir(here):
            found.append(here)
    return sorted(found, key=_modified, reverse=True)


def _modified(path: Path) -> float:
    stamps = []
    for file in (path / "metrics.jsonl", path / "config.json"):
        try:
            stamps.append(file.stat().st_mtime)
        except OSError:  # not written yet, or deleted while the folder is read
            continue
    return max(stamps, default=0.0)


def _images(run_dir: Path) -> list[str]:
    base = run_dir.resolve()
    out = []
    for folder, subfolders, files in os.walk(run_dir, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED and not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() in IMAGE_TYPES and inside(base, path.relative_to(run_dir)) is not None:
                out.append(path.relative_to(run_dir).as_posix())
    return out


def _status(summary: dict[str, Any] | None, modified: float) -> str:
    if summary is None:
        return "running" if time.time() - modified < RUNNING_WITHIN_S else "stopped"
    checks = [c.get("ok") for c in (summary.get("expect") or {}).values() if isinstance(c, dict)]
    if not checks:
        return "finished"
    return "passed" if all(checks) else "missed"


def read_run(run_dir: Path, root: Path | None = None,
             read_rows: Callable[[Path], list[dict[str, Any]]] = read_jsonl) -> RunRecord:
    """Read the run in `run_dir` (named relative to `root`, the runs folder, when given); `read_rows` reads its
    metrics.jsonl (the server's reads only what was appended since its last read: `metric_rows.MetricRows`)."""
    run_dir = Path(run_dir)
    config = _read_json(run_dir, "config.json")
    if not isinstance(config, dict) or not isinstance(config.get("recipe"), str):
        raise UserError(f"{run_dir}: not a run directory (no readable config.json)")
    summary = _read_json(run_dir, "summary.json")
    summary = summary if isinstance(summary, dict) else None
    metrics_file = inside(run_dir, "metrics.jsonl")
    rows = [r for r in read_rows(metrics_file) if isinstance(r, dict) and isinstance(r.get("step"), int | float)] \
        if metrics_file is not None else []
    modified = _modified(run_dir)
    name = run_dir.relative_to(root).as_posix() if root is not None else run_dir.name
    record = RunRecord(name=name or ".", path=run_dir, config=config, summary=summary, rows=rows,
                       images=_images(run_dir), status=_status(summary, modified), modified=modified,
                       recipe=config["recipe"])
    _describe(record)
    return record


def _describe(record: RunRecord) -> None:
    """The recipe's family, summary, curriculum IDs, paper and expected metrics, from the registry."""
    from neuralab.registry import MODELS, RECIPES

    try:
        recipe = RECIPES.get(record.recipe)
    except UserError:  # a recipe this version does not have
        record.family = "unknown"
        return
    record.family, record.title, record.curriculum = recipe.family, recipe.summary, recipe.curriculum
    try:
        record.paper = MODELS.get(recipe.model).paper
    except UserError:
        record.paper = ""
    checks = (record.summary or {}).get("expect")
    if not isinstance(checks, dict):  # still training: the newest values against the targets
        checks = recipe.check({k: v for k, v in record.metrics.items() if isinstance(v, int | float)})
    record.expect = [{"metric": k, "op": c.get("op"), "target": c.get("target"), "value": c.get("value"),
                      "ok": c.get("ok")} for k, c in checks.items() if isinstance(c, dict)]

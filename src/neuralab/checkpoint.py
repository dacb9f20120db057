"""Checkpoints: every tensor in a safetensors file, everything else in a JSON file beside it.

A checkpoint is the pair ``step-N.safetensors`` + ``step-N.json``; ``latest.json`` names the newest
complete pair and is replaced atomically after both files are in place, so a run killed at any moment
resumes from a whole checkpoint. The best checkpoint (by the recipe's monitored metric) is kept apart as
``best-N.safetensors`` + ``best-N.json`` named by ``best.json``; pruning never deletes it. Nothing is ever
unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from neuralab.atomic import write_atomic, write_json_atomic
from neuralab.errors import UserError

KEEP = 2  # complete checkpoints kept on disk (the newest and the one before)


def flatten_state(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "") -> Any:
    """Replace each tensor in a nested state by a reference, collecting the tensors in `tensors`.

    Dicts with non-string keys (optimizer states use int keys) are kept as key/value pair lists so the
    JSON round trip gives back the same keys.
    """
    if isinstance(obj, torch.Tensor):
        key = prefix or "tensor"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: flatten_state(v, tensors, f"{prefix}.{k}" if prefix else k) for k, v in obj.items()}
        return {"__pairs__": [[k, flatten_state(v, tensors, f"{prefix}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    raise TypeError(f"cannot checkpoint a value of type {type(obj).__name__} at {prefix!r}")


def unflatten_state(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__pairs__" in obj:
            return {k: unflatten_state(v, tensors) for k, v in obj["__pairs__"]}
        if "__tuple__" in obj:
            return tuple(unflatten_state(v, tensors) for v in obj["__tuple__"])
        return {k: unflatten_state(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


def _write_pair(directory: Path, stem: str, step: int, state: dict[str, Any]) -> None:
    """STEM.safetensors, then STEM.json: a JSON file only exists beside complete tensors."""
    tensors: dict[str, torch.Tensor] = {}
    meta = flatten_state(state, tensors)
    write_atomic(directory / f"{stem}.safetensors", lambda tmp: save_file(tensors, tmp))
    write_json_atomic(directory / f"{stem}.json", {"step": step, "state": meta})


def _link_pair(source: Path, target: Path) -> bool:
    """Hard-link the pair SOURCE.* as TARGET.* (no second copy of the tensors); False where not possible."""
    for suffix in (".safetensors", ".json"):
        tmp = target.with_name(f".{target.name}{suffix}.tmp")
        try:
            tmp.unlink(missing_ok=True)
            os.link(source.with_suffix(suffix), tmp)
        except OSError:  # no such checkpoint, or a file system without hard links
            tmp.unlink(missing_ok=True)
            return False
        os.replace(tmp, target.with_suffix(suffix))
    return True


def save(directory: str | os.PathLike, step: int, state: dict[str, Any]) -> Path:
    """Write `state` as checkpoint `step` in `directory`, point `latest.json` at it, prune old ones."""
    directory = Path(directory)
    stem = f"step-{step:09d}"
    _write_pair(directory, stem, step, state)
    write_json_atomic(directory / "latest.json", {"step": step, "name": stem})
    for old in sorted(directory.glob("step-*.json"))[:-KEEP]:
        old.unlink(missing_ok=True)
        old.with_suffix(".safetensors").unlink(missing_ok=True)
    return directory / stem


def save_best(directory: str | os.PathLike, step: int, state: dict[str, Any], metric: str, value: float) -> Path:
    """Keep `state` as the best checkpoint (`metric` reached `value` at `step`) and drop the previous best.

    When checkpoint `step` was just written its files are hard-linked rather than written again.
    `best.json` is replaced atomically after the pair is in place, like `latest.json`.
    """
    directory = Path(directory)
    stem = f"best-{step:09d}"
    if not _link_pair(directory / f"step-{step:09d}", directory / stem):
        _write_pair(directory, stem, step, state)
    write_json_atomic(directory / "best.json", {"step": step, "name": stem, "metric": metric, "value": value})
    for old in directory.glob("best-*.json"):
        if old.stem != stem:
            old.unlink(missing_ok=True)
            old.with_suffix(".safetensors").unlink(missing_ok=True)
    return directory / stem


def latest_step(directory: str | os.PathLike) -> int | None:
    pointer = Path(directory) / "latest.json"
    if not pointer.exists():
        return None
    return int(json.loads(pointer.read_text())["step"])


def best(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The best checkpoint's pointer {step, name, metric, value}, or None when none was kept."""
    pointer = Path(directory) / "best.json"
    return json.loads(pointer.read_text()) if pointer.exists() else None


def steps(directory: str | os.PathLike) -> list[int]:
    """Steps of the checkpoints on disk (the newest ones and the best), ascending."""
    found = {int(p.stem.split("-")[1]) for p in Path(directory).glob("step-*.json")}
    kept = best(directory)
    return sorted(found | ({int(kept["step"])} if kept else set()))


def _name(directory: Path, which: int | str) -> str:
    """File stem of checkpoint `which`: "latest", "best" or a step number."""
    if which in ("latest", "best"):
        pointer = directory / f"{which}.json"
        if not pointer.exists():
            if which == "best":
                raise UserError(f"{directory}: no best checkpoint (the run monitors no metric, or it was trained "
                                f"before best checkpoints were kept); use latest or a step")
            raise UserError(f"{directory}: no checkpoint here (no latest.json)")
        return json.loads(pointer.read_text())["name"]
    try:
        step = int(which)
    except ValueError:
        raise UserError(f"checkpoint {which!r}: choose latest, best or a step number") from None
    stem = f"step-{step:09d}"
    if (directory / f"{stem}.json").exists():
        return stem
    kept = best(directory)
    if kept is not None and int(kept["step"]) == step:
        return kept["name"]
    available = ", ".join(map(str, steps(directory))) or "none"
    best_note = f" (best: {kept['step']})" if kept else ""
    raise UserError(f"{directory}: no checkpoint at step {step}; available steps: {available}{best_note}")


def load(directory: str | os.PathLike, which: int | str = "latest") -> tuple[int, dict[str, Any]]:
    """Read checkpoint `which` in `directory` ("latest", "best" or a step) -> (step, state)."""
    directory = Path(directory)
    try:
        name = _name(directory, which)
        meta = json.loads((directory / f"{name}.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{directory}: checkpoint cannot be read ({exc})") from None
    weights = directory / f"{name}.safetensors"
    try:
        tensors = load_file(str(weights))
    except (OSError, SafetensorError) as exc:  # e.g. a torch.save pickle put in its place: never unpickled
        raise UserError(f"{weights}: not a readable safetensors file ({exc}); refusing to load it") from None
    # safetensors hands back tensors at 8-byte offsets; torch allocates 64-byte aligned memory. Kernels
    # that peel unaligned heads (MKL's AVX2 paths among them) sum in another order on unaligned data, so a
    # resumed run would drift in the last bits from the uninterrupted one: copy into fresh, aligned storage.
    tensors = {k: v.clone() for k, v in tensors.items()}
    return int(meta["step"]), unflatten_state(meta["state"], tensors)


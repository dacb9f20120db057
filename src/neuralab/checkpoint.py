"""Checkpoints: every tensor in a safetensors file, everything else in a JSON file beside it.

A checkpoint is the pair ``step-N.safetensors`` + ``step-N.json``; ``latest.json`` names the newest
complete pair and is replaced atomically after both files are in place, so a run killed at any moment
resumes from a whole checkpoint. The best checkpoint (by the recipe's monitored metric) is kept apart as
``best-N.safetensors`` + ``best-N.json`` named by ``best.json``; pruning never deletes it. Nothing is ever
unpickled.

The JSON carries the run format (`neuralab.run_format`) and the SHA-256 and size of its safetensors file, checked
on every load: a truncated or overwritten checkpoint is refused rather than half-loaded, and `--resume` falls back
to the newest intact one (`resume_point`). A malformed file is refused with one line (`UserError`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from neuralab import run_format
from neuralab.atomic import write_bytes_atomic, write_json_atomic
from neuralab.errors import UserError, one_line

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
    """The nested state `flatten_state` wrote, its tensor references replaced by `tensors`; KeyError, TypeError or
    ValueError where the JSON does not have that shape."""
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


def digest(blob: bytes) -> dict[str, Any]:
    """The fields a checkpoint JSON records of its tensors file's bytes: their SHA-256 and their size."""
    return {"sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}


def _write_pair(directory: Path, stem: str, step: int, state: dict[str, Any]) -> None:
    """STEM.safetensors, then STEM.json with the digest of those bytes: a JSON file only exists beside complete
    tensors, and records what they must hash to."""
    tensors: dict[str, torch.Tensor] = {}
    meta = flatten_state(state, tensors)
    blob = save_tensors(tensors)
    write_bytes_atomic(directory / f"{stem}.safetensors", blob)
    write_json_atomic(directory / f"{stem}.json", run_format.stamp(
        {"step": step, "state": meta, **digest(blob)}))


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
    for tmp in directory.glob(".*.tmp"):  # left by a process killed mid-write (the run lock excludes a live one)
        tmp.unlink(missing_ok=True)
    _write_pair(directory, stem, step, state)
    write_json_atomic(directory / "latest.json", {"step": step, "name": stem})
    _prune(directory, step)
    return directory / stem


def _prune(directory: Path, step: int) -> None:
    """Keep the newest KEEP checkpoints up to `step`. Newer ones are a future the run abandoned when it resumed
    from an older checkpoint, and a safetensors file without its JSON is a write that never finished."""
    kept = sorted(p for p in directory.glob("step-*.json") if _step_of(p) is not None and _step_of(p) <= step)
    for old in [*kept[:-KEEP], *(p for p in directory.glob("step-*.json") if (_step_of(p) or 0) > step)]:
        old.unlink(missing_ok=True)
        old.with_suffix(".safetensors").unlink(missing_ok=True)
    for weights in directory.glob("step-*.safetensors"):
        if not weights.with_suffix(".json").exists():
            weights.unlink(missing_ok=True)


def _step_of(path: Path) -> int | None:
    """N of a file named step-N.* or best-N.*; None for any other name."""
    _, _, digits = path.stem.partition("-")
    return int(digits) if digits.isdigit() else None


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot be read ({one_line(exc)})") from None
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{path}: not valid JSON ({one_line(exc)}); the file is damaged") from None


def _pointer(directory: Path, which: str) -> dict[str, Any] | None:
    """latest.json or best.json as {step, name, ...}; None when absent; a damaged one is refused in one line."""
    path = directory / f"{which}.json"
    if not path.exists():
        return None
    content = _read_json(path)
    name = content.get("name") if isinstance(content, dict) else None
    step = content.get("step") if isinstance(content, dict) else None
    if not isinstance(name, str) or isinstance(step, bool) or not isinstance(step, int) \
            or name != f"{'best' if which == 'best' else 'step'}-{step:09d}":
        raise UserError(f"{path}: malformed checkpoint pointer (expected a step and the name step-N/best-N)")
    return content


def latest_step(directory: str | os.PathLike) -> int | None:
    """The step `latest.json` names; None when the directory holds no checkpoint."""
    pointer = _pointer(Path(directory), "latest")
    return None if pointer is None else pointer["step"]


def has_checkpoints(directory: str | os.PathLike) -> bool:
    """True when `directory` holds a checkpoint or a pointer to one, intact or not."""
    directory = Path(directory)
    return (directory / "latest.json").exists() or any(directory.glob("step-*.json")) \
        or any(directory.glob("best-*.json"))


def best(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The best checkpoint's pointer {step, name, metric, value}, or None when none was kept."""
    return _pointer(Path(directory), "best")


def steps(directory: str | os.PathLike) -> list[int]:
    """Steps of the checkpoints on disk (the newest ones and the best), ascending."""
    found = {n for p in Path(directory).glob("step-*.json") if (n := _step_of(p)) is not None}
    kept = best(directory)
    return sorted(found | ({int(kept["step"])} if kept else set()))


def _name(directory: Path, which: int | str) -> str:
    """File stem of checkpoint `which`: "latest", "best" or a step number."""
    if which in ("latest", "best"):
        pointer = _pointer(directory, str(which))
        if pointer is None:
            if which == "best":
                raise UserError(f"{directory}: no best checkpoint (the run monitors no metric, or it was trained "
                                f"before best checkpoints were kept); use latest or a step")
            raise UserError(f"{directory}: no checkpoint here (no latest.json)")
        return pointer["name"]
    try:
        step = int(which)
    except ValueError:
        raise UserError(f"checkpoint {which!r}: choose latest, best or a step number") from None
    stem = f"step-{step:09d}"
    if (directory / f"{stem}.json").exists():
        return stem
    kept = best(directory)
    if kept is not None and kept["step"] == step:
        return kept["name"]
    available = ", ".join(map(str, steps(directory))) or "none"
    best_note = f" (best: {kept['step']})" if kept else ""
    raise UserError(f"{directory}: no checkpoint at step {step}; available steps: {available}{best_note}")


def load(directory: str | os.PathLike, which: int | str = "latest") -> tuple[int, dict[str, Any]]:
    """Read checkpoint `which` in `directory` ("latest", "best" or a step) -> (step, state)."""
    directory = Path(directory)
    return _load_pair(directory, _name(directory, which))


def _load_pair(directory: Path, name: str) -> tuple[int, dict[str, Any]]:
    """Checkpoint NAME (its JSON and its safetensors, checked against the recorded digest) -> (step, state)."""
    path = directory / f"{name}.json"
    meta = run_format.read(_read_json(path), path)
    step, state, recorded, size = (meta.get(k) for k in ("step", "state", "sha256", "size"))
    if isinstance(step, bool) or not isinstance(step, int) or not isinstance(state, dict) \
            or not isinstance(recorded, str | None) or not isinstance(size, int | None):
        raise UserError(f"{path}: malformed checkpoint (expected a step, a state object and the tensors' digest)")
    weights = directory / f"{name}.safetensors"
    try:
        blob = weights.read_bytes()
    except OSError as exc:
        raise UserError(f"{weights}: cannot be read ({exc.strerror or exc})") from None
    if recorded is not None and (len(blob) != size or hashlib.sha256(blob).hexdigest() != recorded):
        raise UserError(f"{weights}: damaged ({len(blob)} bytes whose SHA-256 does not match the {size} recorded in "
                        f"{path.name}: truncated or overwritten); refusing to load it")
    try:
        tensors = load_tensors(blob)
    except SafetensorError as exc:  # e.g. a torch.save pickle put in its place: never unpickled
        raise UserError(f"{weights}: not a readable safetensors file ({one_line(exc)}); refusing to load it") \
            from None
    # safetensors hands back tensors at 8-byte offsets; torch allocates 64-byte aligned memory. Kernels
    # that peel unaligned heads (MKL's AVX2 paths among them) sum in another order on unaligned data, so a
    # resumed run would drift in the last bits from the uninterrupted one: copy into fresh, aligned storage.
    tensors = {k: v.clone() for k, v in tensors.items()}
    try:
        return step, unflatten_state(state, tensors)
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise UserError(f"{path}: malformed checkpoint state ({type(exc).__name__}: {one_line(exc)})") from None


def resume_point(directory: str | os.PathLike) -> tuple[int, dict[str, Any], str | None]:
    """The checkpoint a resumed run starts from -> (step, state, warning).

    That is the one `latest.json` names; when it (or the pointer) is damaged or missing, the newest intact
    checkpoint on disk, with a one-line warning saying which was skipped and why. None intact: `UserError`.
    """
    directory = Path(directory)
    problems: list[str] = []
    named = None
    try:
        named = _name(directory, "latest")
        return (*_load_pair(directory, named), None)
    except UserError as exc:
        problems.append(str(exc))
    others = {p.stem for pattern in ("step-*.json", "best-*.json") for p in directory.glob(pattern)
              if _step_of(p) is not None and p.stem != named}
    for stem in sorted(others, key=lambda n: (_step_of(Path(n)), n.startswith("step")), reverse=True):
        try:
            step, state = _load_pair(directory, stem)
        except UserError as exc:
            problems.append(str(exc))
            continue
        return step, state, (f"the newest checkpoint is unusable ({problems[0]}); resuming from step {step}, "
                             "the newest intact one")
    raise UserError(f"{directory}: no intact checkpoint to resume from ({problems[0]})")

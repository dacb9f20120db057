"""The one training loop every recipe runs through: `fit(recipe) -> Run`.

The engine seeds, picks the device, builds data, model and method from the recipe's config sections,
then counts steps: it logs metrics as JSON lines, evaluates on schedule, stops early on patience,
checkpoints (atomically) and resumes bit-identically. It never calls `backward()`: the method owns
its learning rule. Under `torchrun` every process runs this loop on its shard of each batch
(`neuralab.distributed`); rank 0 alone writes files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab import acceleration, checkpoint, distributed
from neuralab.atomic import write_json_atomic
from neuralab.config import RunConfig, from_dict, override, to_dict, validate
from neuralab.distributed import Processes
from neuralab.errors import UserError
from neuralab.methods.base import RunContext
from neuralab.metrics import MetricsLog
from neuralab.progress import Progress
from neuralab.recipes.recipe import Recipe
from neuralab.registry import DATA, METHODS, MODELS, RECIPES

SECTIONS = ("run", "model", "method", "data")
# Model config fields that the data decides (input shape, classes) and the DataMeta value behind each.
DATA_FIELDS = {
    "in_features": lambda m: math.prod(m.input_shape),
    "in_channels": lambda m: m.input_shape[0] if len(m.input_shape) == 3 else None,
    "image_size": lambda m: m.input_shape[-1] if len(m.input_shape) == 3 else None,
    "num_classes": lambda m: m.num_classes or None,
}


class DivergedError(UserError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class Interrupted(Exception):
    """SIGINT arrived; a checkpoint was written."""


@dataclass
class Run:
    """A finished (or loaded) run: its directory, configs, the live objects and the final metrics."""

    recipe: Recipe
    run_dir: Path | None
    sections: dict[str, Any]
    model: torch.nn.Module
    method: Any
    data: Any
    step: int = 0
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    procs: Processes = dataclasses.field(default_factory=Processes)  # this process's rank in data-parallel runs

    @property
    def checks(self) -> dict[str, dict[str, Any]]:
        return self.recipe.check(self.metrics)


def select_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device: unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA GPU is available here; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps: Apple MPS is not available here; use --device cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"--device: unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    return device


def resolve(recipe: Recipe, overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The recipe's four config sections with `overrides` ({section: {field: value}}) applied."""
    sections = recipe.sections()
    for section, changes in (overrides or {}).items():
        if section not in SECTIONS:
            raise UserError(f"unknown config section {section!r}; sections are {', '.join(SECTIONS)}")
        sections[section] = override(sections[section], changes, section)
    for section in SECTIONS:
        validate(sections[section], section)
    return sections


def _fit_model_to_data(model_cfg: Any, meta: Any, explicit: dict[str, Any]) -> Any:
    """Take input shape and number of classes from the data; refuse an explicit value that contradicts it."""
    names = {f.name for f in dataclasses.fields(model_cfg)}
    changes = {}
    for name, from_meta in DATA_FIELDS.items():
        if name not in names:
            continue
        value = from_meta(meta)
        if value is None or value == getattr(model_cfg, name):
            continue
        if name == "num_classes" and value == 2 and getattr(model_cfg, name) == 1:
            continue  # one sigmoid output is a two-class classifier (loss bce)
        if name in explicit:
            raise UserError(f"--model.{name} {explicit[name]} does not match the data ({meta.source}: "
                            f"{name} = {value})")
        changes[name] = value
    return override(model_cfg, changes, "model") if changes else model_cfg


def build(recipe: Recipe, sections: dict[str, Any], run_dir: Path | None = None,
          explicit_model: dict[str, Any] | None = None, data: Any = None, procs: Processes | None = None) -> Run:
    """Seed, then build data (unless given, e.g. one fold of a cross-validation), model and method.

    With `procs` of a data-parallel group the method trains the model through DDP.
    """
    run: RunConfig = sections["run"]
    procs = procs or Processes(device=select_device(run.device))
    device = procs.device
    if run.threads:
        torch.set_num_threads(run.threads)
    torch.manual_seed(run.seed)
    if run.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    if data is None:
        data = DATA.get(recipe.data).build(sections["data"], run.seed)
    data = data.to(device)
    entry = MODELS.get(recipe.model)
    if hasattr(data, "meta"):
        sections["model"] = _fit_model_to_data(sections["model"], data.meta, explicit_model or {})
    torch.manual_seed(run.seed)  # model init does not depend on how much randomness the data used
    model = entry.cls(sections["model"]).to(device)
    if run.channels_last:  # conv outputs follow the weights' memory order
        model = model.to(memory_format=torch.channels_last)
    steps_per_epoch = data.steps_per_epoch
    total = run.steps or max(1, math.ceil(run.epochs * steps_per_epoch))
    procs.check_data(data)
    ctx = RunContext(total_steps=total, device=device, seed=run.seed, run_dir=run_dir, amp=run.amp)
    method = METHODS.get(recipe.method).build(sections["method"], procs.wrap(model), data, ctx)
    return Run(recipe=recipe, run_dir=run_dir, sections=sections, model=model, method=method, data=data,
               procs=procs)


def _rng_state() -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_float(v: Any) -> float:
    return float(v.item()) if isinstance(v, torch.Tensor) else float(v)


def default_run_dir(recipe: str) -> Path:
    return Path("runs") / f"{recipe}-{time.strftime('%Y%m%d-%H%M%S')}"


def save_config(run_dir: Path, recipe: Recipe, sections: dict[str, Any], data: Any) -> None:
    meta = data.meta.to_dict() if hasattr(data, "meta") else {}
    write_json_atomic(run_dir / "config.json", {
        "recipe": recipe.name, "sections": {k: to_dict(v) for k, v in sections.items()},
        "data_meta": meta, "torch": torch.__version__})


def load_config(run_dir: Path) -> tuple[Recipe, dict[str, Any], dict[str, Any]]:
    path = run_dir / "config.json"
    if not path.is_file():
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    try:
        saved = json.loads(path.read_text())
        recipe = RECIPES.get(saved["recipe"])
        defaults = recipe.sections()
        sections = {k: from_dict(type(defaults[k]), saved["sections"][k]) for k in SECTIONS}
    except (ValueError, KeyError) as exc:
        raise UserError(f"{path}: unreadable run configuration ({exc})") from None
    return recipe, sections, saved.get("data_meta", {})


def fit(recipe: Recipe | str, overrides: dict[str, dict[str, Any]] | None = None, *,
        out: str | Path | None = None, resume: bool = False, progress: bool = True, data: Any = None) -> Run:
    """Train `recipe` into a run directory and return the finished `Run`.

    `data` replaces the recipe's data source with a prebuilt one (cross-validation folds, ensembles).
    """
    if isinstance(recipe, str):
        recipe = RECIPES.get(recipe)
    if resume:
        run_dir = Path(out) if out else default_run_dir(recipe.name)
        if checkpoint.latest_step(run_dir / "checkpoints") is None:
            raise UserError(f"--resume: {run_dir} holds no checkpoint to resume from")
        saved_recipe, sections, _ = load_config(run_dir)
        if saved_recipe.name != recipe.name:
            raise UserError(f"--resume: {run_dir} is a run of {saved_recipe.name}, not {recipe.name}")
        for section, changes in (overrides or {}).items():  # e.g. more steps for a finished run
            sections[section] = override(sections[section], changes, section)
    else:
        sections = resolve(recipe, overrides)
    cfg: RunConfig = sections["run"]
    procs = distributed.start(select_device(cfg.device))
    threads = torch.get_num_threads()  # `--run.threads` applies to this run only
    try:
        if cfg.amp:
            acceleration.check_amp(procs.device)
        if cfg.compile:
            acceleration.check_compile(procs.device)
        run_dir = Path(out) if out else Path(procs.same_text(str(default_run_dir(recipe.name))))
        if not resume and checkpoint.latest_step(run_dir / "checkpoints") is not None:
            raise UserError(f"{run_dir} already holds a run; add --resume to continue it or choose another --out")
        run = build(recipe, sections, run_dir, explicit_model=(overrides or {}).get("model"), data=data,
                    procs=procs)
        if cfg.compile:
            run.model.compile()  # in place: the method's reference and the checkpoint keys stay the same
        if procs.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(run_dir, recipe, run.sections, run.data)
        run = _loop(run, resume, progress)
        procs.wait_for_all()
        return run
    finally:
        torch.set_num_threads(threads)
        procs.close()


def _loop(run: Run, resume: bool, progress: bool) -> Run:
    cfg: RunConfig = run.sections["run"]
    recipe, method, data, run_dir, procs = run.recipe, run.method, run.data, run.run_dir, run.procs
    ckpt_dir = run_dir / "checkpoints"
    steps_per_epoch = data.steps_per_epoch
    total = cfg.steps or max(1, math.ceil(cfg.epochs * steps_per_epoch))
    eval_every = cfg.eval_every or steps_per_epoch
    ckpt_every = cfg.checkpoint_every or eval_every
    log = MetricsLog(run_dir) if procs.is_main else _NoLog()
    monitor, sign = recipe.monitor_key, (1.0 if recipe.mode == "max" else -1.0)
    state = {"step": 0, "best": None, "bad_evals": 0, "sums": {}, "count": 0, "elapsed": 0.0}
    latest: dict[str, float] = {}

    if resume:
        step, saved = checkpoint.load(ckpt_dir)
        method.load_state_dict(saved["method"])
        data.load_state_dict(saved["data"])
        _set_rng_state(saved["rng"])
        state.update(saved["engine"])
        latest = dict(saved.get("latest", {}))
        log.truncate(step)
    else:
        log.truncate(-1)

    def checkpoint_state() -> dict[str, Any]:
        return {"method": method.state_dict(), "data": data.state_dict(), "rng": _rng_state(),
                "engine": {k: state[k] for k in ("step", "best", "bad_evals", "sums", "count", "elapsed")},
                "latest": latest}

    def evaluate() -> tuple[bool, str | None]:
        """Evaluate, log, track the best value -> (patience has run out, the monitored key if it improved)."""
        metrics = procs.from_main({k: _as_float(v) for k, v in method.evaluate().items()})
        latest.update(metrics)
        log.write({"step": state["step"], "epoch": state["step"] / steps_per_epoch,
                   "time": round(time.monotonic() - t0, 3), **metrics})
        key = monitor.replace("test/", "val/") if monitor.replace("test/", "val/") in metrics else monitor
        improved = None
        if key in metrics:
            value = sign * metrics[key]
            if state["best"] is None or value > state["best"]:
                state["best"], state["bad_evals"], improved = value, 0, key
            else:
                state["bad_evals"] += 1
        return bool(cfg.patience) and state["bad_evals"] >= cfg.patience, improved

    interrupted = []
    previous = signal.getsignal(signal.SIGINT)
    is_main = _is_main_thread()
    if is_main:
        signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    if progress and procs.is_main:  # said once, before the progress bar starts drawing
        notes = [f"resumed from step {state['step']}"] if resume else getattr(getattr(data, "meta", None), "notes", [])
        for line in notes:  # on a fresh run: what reading the data changed (rows dropped, cells filled)
            print(f"{recipe.name}: {line}", file=sys.stderr, flush=True)
    bar = Progress(total, state["step"], recipe.name, enabled=progress and procs.is_main)
    t0 = time.monotonic() - state["elapsed"]
    stopped_early, done = False, method.done
    try:
        while state["step"] < total and not done:
            metrics = {k: _as_float(v) for k, v in method.step(procs.shard(data.next_batch())).items()}
            # Every rank must take the same decisions: average the metrics, stop when any rank stops.
            metrics, (done, stop) = procs.agree(metrics, method.done, bool(interrupted))
            state["step"] += 1
            step = state["step"]
            for k, v in metrics.items():
                if not math.isfinite(v):
                    raise DivergedError(f"{recipe.name}: {k} became {v} at step {step}; stopped. The last good "
                                        f"checkpoint (step {checkpoint.latest_step(ckpt_dir) or 0}) is kept in "
                                        f"{ckpt_dir}; try a smaller learning rate")
                state["sums"][k] = state["sums"].get(k, 0.0) + v
            state["count"] += 1
            if step % cfg.log_every == 0 or step == total or done:
                means = {k: s / state["count"] for k, s in state["sums"].items()}
                latest.update(means)
                log.write({"step": step, "epoch": step / steps_per_epoch, "time": round(time.monotonic() - t0, 3),
                           **means})
                state["sums"], state["count"] = {}, 0
                bar.update(step, {k: v for k, v in latest.items() if k.endswith("loss") or k == monitor})
            final, improved = step == total or done, None
            if step % eval_every == 0 or final:
                stopped_early, improved = evaluate()
                bar.update(step, {k: v for k, v in latest.items() if k.endswith("loss") or k == monitor})
            state["elapsed"] = time.monotonic() - t0
            due = step % ckpt_every == 0 or final or stopped_early or stop
            if procs.is_main and (due or improved):
                saved = checkpoint_state()
                if due:
                    checkpoint.save(ckpt_dir, step, saved)
                if improved:  # after the regular checkpoint, whose files it then shares
                    checkpoint.save_best(ckpt_dir, step, saved, improved, latest[improved])
            if stop:
                raise Interrupted(f"interrupted at step {step}; checkpoint written to {ckpt_dir}. "
                                  f"Continue with: neuralab train {recipe.name} --out {run_dir} --resume")
            if stopped_early:
                break
    finally:
        bar.close()
        log.close()
        if is_main:
            signal.signal(signal.SIGINT, previous)
    run.step = state["step"]
    run.metrics = {k: v for k, v in latest.items()}
    run.metrics["time/seconds"] = round(state["elapsed"], 2)
    if procs.is_main:
        _finish(run, stopped_early)
    return run


class _NoLog:
    """The metrics log of ranks other than 0, which write no files."""

    def truncate(self, last_step: int) -> None: ...

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _finish(run: Run, stopped_early: bool) -> None:
    """Write summary.json and the plots of a finished run."""
    from neuralab.viz.curves import plot_run

    summary = {"recipe": run.recipe.name, "step": run.step, "stopped_early": stopped_early,
               "metrics": run.metrics, "expect": run.checks}
    report = getattr(run.method, "report", None)
    if report is not None:
        summary["report"] = report(run.run_dir)
    write_json_atomic(run.run_dir / "summary.json", summary)
    plot_run(run.run_dir, run.method)

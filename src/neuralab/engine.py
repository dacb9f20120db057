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
import os
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
from neuralab.contracts import DataSource, Method, RunContext
from neuralab.distributed import Processes
from neuralab.errors import DivergedError, Interrupted, UserError
from neuralab.metrics import MetricsLog, monitored_key
from neuralab.progress import Progress
from neuralab.recipes.recipe import Recipe
from neuralab.registry import DATA, METHODS, MODELS, RECIPES

SECTIONS = ("run", "model", "method", "data")
MIN_USER_STEPS = 300  # fewest training steps on user data when the user sets no budget


@dataclass
class Run:
    """A finished (or loaded) run: its directory, configs, the live objects and the final metrics."""

    recipe: Recipe
    run_dir: Path | None
    sections: dict[str, Any]
    model: torch.nn.Module
    method: Method
    data: DataSource
    step: int = 0
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    procs: Processes = dataclasses.field(default_factory=Processes)  # this process's rank in data-parallel runs
    total_steps: int = 0  # the length the run is planned for (schedules depend on it)

    @property
    def checks(self) -> dict[str, dict[str, Any]]:
        """The recipe's expected metrics against the measured ones; none on the user's own data."""
        return {} if on_user_data(self.sections) else self.recipe.check(self.metrics)


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


def on_user_data(sections: dict[str, Any]) -> bool:
    """True when `--data.path` replaced the recipe's own data: its `expect` then does not apply."""
    return bool(getattr(sections["data"], "path", None))


def _budget_for_user_data(run: RunConfig, steps_per_epoch: int, explicit: dict[str, Any]) -> RunConfig:
    """A recipe's epochs are set for its own data; on a small user data set they give a handful of steps.
    Without an explicit --run.epochs/--run.steps, train at least MIN_USER_STEPS steps and say so."""
    if run.steps or {"epochs", "steps"} & set(explicit):
        return run
    if math.ceil(run.epochs * steps_per_epoch) >= MIN_USER_STEPS:
        return run
    epochs = math.ceil(MIN_USER_STEPS / steps_per_epoch)
    print(f"note: your data gives {steps_per_epoch} steps per epoch; training {epochs} epochs "
          f"({epochs * steps_per_epoch} steps) instead of {run.epochs:g}. Set --run.epochs or --run.steps to choose.",
          file=sys.stderr)
    return override(run, {"epochs": epochs}, "run")


def build(recipe: Recipe, sections: dict[str, Any], run_dir: Path | None = None,
          explicit: dict[str, dict[str, Any]] | None = None, data: Any = None,
          procs: Processes | None = None, total_steps: int | None = None) -> Run:
    """Seed, then build data (unless given, e.g. one fold of a cross-validation), model and method.

    `explicit` holds the overrides of a new run ({section: {field: value}}): sizes the user set are not
    taken from the data, and a budget the user set is kept; None rebuilds a saved run as its config says.
    With `procs` of a data-parallel group the method trains the model through DDP. `total_steps` is the
    length a saved run was planned for (its schedule depends on it), when the data at hand cannot tell.
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
    if data.meta is not None:
        sections["model"] = entry.sizing(sections["model"], data.meta, (explicit or {}).get("model", {}))
    if explicit is not None and on_user_data(sections):
        sections["run"] = run = _budget_for_user_data(run, data.steps_per_epoch, explicit.get("run", {}))
    torch.manual_seed(run.seed)  # model init does not depend on how much randomness the data used
    model = entry.cls(sections["model"])
    steps_per_epoch = data.steps_per_epoch
    total = total_steps or run.steps or max(1, math.ceil(run.epochs * steps_per_epoch))
    procs.check_data(data)
    ctx = RunContext(total_steps=total, device=device, seed=run.seed, run_dir=run_dir, amp=run.amp,
                     channels_last=run.channels_last, compile=run.compile, procs=procs if procs.active else None,
                     model_name=recipe.model, model_config=sections["model"])
    trained = ctx.prepare(model)
    model = trained.module if procs.active else trained  # the plain network (checkpoints, predictions)
    method = METHODS.get(recipe.method).build(sections["method"], trained, data, ctx)
    return Run(recipe=recipe, run_dir=run_dir, sections=sections, model=model, method=method, data=data,
               procs=procs, total_steps=total)


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


def save_config(run: Run) -> None:
    meta = run.data.meta.to_dict() if run.data.meta is not None else {}
    write_json_atomic(run.run_dir / "config.json", {
        "recipe": run.recipe.name, "sections": {k: to_dict(v) for k, v in run.sections.items()},
        "total_steps": run.total_steps, "data_meta": meta, "torch": torch.__version__})


def saved_total_steps(run_dir: Path) -> int | None:
    """The number of steps a saved run was planned for (None for runs saved before it was recorded)."""
    return json.loads((run_dir / "config.json").read_text()).get("total_steps")


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
        _check_run_dir(run_dir)
        if not resume and checkpoint.latest_step(run_dir / "checkpoints") is not None:
            raise UserError(f"{run_dir} already holds a run; add --resume to continue it or choose another --out")
        run = build(recipe, sections, run_dir, explicit=None if resume else (overrides or {}), data=data,
                    procs=procs)
        if procs.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(run)
        run = _loop(run, resume, progress)
        procs.wait_for_all()
        return run
    finally:
        torch.set_num_threads(threads)
        procs.close()


def _check_run_dir(run_dir: Path) -> None:
    """Refuse a run directory that cannot be created, before anything is built or written."""
    for path in (run_dir, *run_dir.parents):
        if path.exists():
            if not path.is_dir():
                raise UserError(f"--out {run_dir}: {path} is a file, not a folder; choose another --out")
            if not os.access(path, os.W_OK | os.X_OK):
                raise UserError(f"--out {run_dir}: cannot write in {path}; choose another --out")
            return


def _loop(run: Run, resume: bool, progress: bool) -> Run:
    cfg: RunConfig = run.sections["run"]
    recipe, method, data, run_dir, procs = run.recipe, run.method, run.data, run.run_dir, run.procs
    ckpt_dir = run_dir / "checkpoints"
    steps_per_epoch = data.steps_per_epoch
    total = run.total_steps
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
        key = monitored_key(monitor, metrics)
        if cfg.patience and "test" in key.split("/")[:-1]:
            raise UserError(f"--run.patience: early stopping would watch {key}, a test-set metric, and so choose "
                            "the stopping point on the test set; hold out a validation split (e.g. "
                            "--data.val_fraction 0.1) to stop on")
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
        notes = [f"resumed from step {state['step']}"] if resume else (data.meta.notes if data.meta is not None else [])
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
                    good = checkpoint.latest_step(ckpt_dir)
                    kept = (f"the last good checkpoint (step {good}) is kept in {ckpt_dir}" if good is not None
                            else "no checkpoint had been written yet")
                    raise DivergedError(f"{recipe.name}: {k} became {v} at step {step}; stopped, {kept}. "
                                        "Try a smaller learning rate")
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
    report = run.method.report(run.run_dir)
    if report:
        summary["report"] = report
    write_json_atomic(run.run_dir / "summary.json", summary)
    plot_run(run.run_dir, run.method)

"""The one training loop every recipe runs through: `fit(recipe) -> Run`.

The engine builds the run (`neuralab.build`: seed, device, data, model, method), then counts steps: it
logs metrics as JSON lines, evaluates on schedule, stops early on patience, checkpoints (atomically) and
resumes bit-identically on the same machine. It never calls `backward()`: the method owns its learning rule.
Under `torchrun` every process runs this loop on its shard of each batch (`neuralab.distributed`); rank 0
alone writes files.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch

from neuralab import acceleration, checkpoint, distributed
from neuralab.atomic import write_json_atomic
from neuralab.build import (
    Run,
    build,
    default_run_dir,
    load_config,
    resolve,
    save_config,
    saved_overrides,
    select_device,
)
from neuralab.config import RunConfig, merge_overrides, override
from neuralab.errors import DivergedError, Interrupted, UserError
from neuralab.metrics import MetricsLog, monitored_key
from neuralab.progress import Progress
from neuralab.recipes.recipe import Recipe
from neuralab.registry import RECIPES


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
        started = sections["run"]
        for section, changes in (overrides or {}).items():  # e.g. more steps for a finished run
            sections[section] = override(sections[section], changes, section)
        for name in ("init_from", "freeze"):  # the optimiser's parameters and the starting point are fixed
            if getattr(sections["run"], name) != getattr(started, name):
                raise UserError(f"--resume: the run was started with --run.{name} {getattr(started, name)!r}; "
                                "keep it, or start a new run")
    else:
        sections = resolve(recipe, overrides)
    cfg: RunConfig = sections["run"]
    procs = distributed.start(select_device(cfg.device))
    threads = torch.get_num_threads()  # `--run.threads` applies to this run only
    try:
        if cfg.compile:
            acceleration.check_compile(procs.device)
        if cfg.tensorboard:
            from neuralab.tensorboard_log import summary_writer

            summary_writer()  # a missing package is said now, before anything is built or written
        run_dir = Path(out) if out else Path(procs.same_text(str(default_run_dir(recipe.name))))
        _check_run_dir(run_dir)
        if not resume and checkpoint.latest_step(run_dir / "checkpoints") is not None:
            raise UserError(f"{run_dir} already holds a run; add --resume to continue it or choose another --out")
        run = build(recipe, sections, run_dir, explicit=None if resume else (overrides or {}), data=data,
                    procs=procs)
        if procs.is_main:
            started = merge_overrides(saved_overrides(run_dir), overrides or {}) if resume else overrides or {}
            run_dir.mkdir(parents=True, exist_ok=True)
            save_config(run, started)
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
    if cfg.tensorboard and procs.is_main:
        from neuralab.tensorboard_log import TensorBoardLog

        log = TensorBoardLog(log, run_dir)
    monitor, sign = recipe.monitor_key, (1.0 if recipe.mode == "max" else -1.0)
    # sums and counts per metric: a metric reported on some steps only (the return of an episode that ended) is
    # averaged over the steps that reported it
    state = {"step": 0, "best": None, "bad_evals": 0, "sums": {}, "counts": {}, "count": 0, "elapsed": 0.0}
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
                "engine": {k: state[k] for k in ("step", "best", "bad_evals", "sums", "counts", "count", "elapsed")},
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
        notes = [*notes, *(run.transfer.lines() if run.transfer is not None else [])]  # what --init-from loaded
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
                state["counts"][k] = state["counts"].get(k, 0) + 1
            state["count"] += 1
            if step % cfg.log_every == 0 or step == total or done:
                means = {k: s / state["counts"].get(k, state["count"]) for k, s in state["sums"].items()}
                latest.update(means)
                log.write({"step": step, "epoch": step / steps_per_epoch, "time": round(time.monotonic() - t0, 3),
                           **means})
                state["sums"], state["counts"], state["count"] = {}, {}, 0
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
    if run.sections["run"].tensorboard:
        from neuralab.tensorboard_log import write_finish

        write_finish(run.run_dir, run.step, summary)

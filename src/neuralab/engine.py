"""The one training loop every recipe runs through: `fit(recipe) -> Run`.

The engine builds the run (`neuralab.build`: seed, device, data, model, method), then counts steps: it
logs metrics as JSON lines, evaluates on schedule, stops early on patience, checkpoints (atomically) and
resumes bit-identically on the same machine. It never calls `backward()`: the method owns its learning rule.
Under `torchrun` every process runs this loop on its shard of each batch (`neuralab.distributed`); rank 0
alone writes files.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch

from neuralab import acceleration, checkpoint, distributed, run_lock
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
from neuralab.errors import DivergedError, Interrupted, UserError, WriteError
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


# The settings a resumed run may change: how long it trains, where, how fast and how often it reports and saves.
# Any other field would make the resumed run differ from the uninterrupted one (an optimiser's setting, the data,
# the model, the evaluation schedule, early stopping, the numerics of amp/compile/channels-last, --init-from).
RESUMABLE_CHANGES = {"run": {"steps", "epochs", "device", "threads", "log_every", "checkpoint_every", "tensorboard"}}
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}  # raised by writes only
_DENIED_ERRNOS = {errno.EACCES, errno.EPERM}  # a write when it names a file of the run directory


def fit(recipe: Recipe | str, overrides: dict[str, dict[str, Any]] | None = None, *,
        out: str | Path | None = None, resume: bool = False, progress: bool = True, data: Any = None) -> Run:
    """Train `recipe` into a run directory and return the finished `Run`.

    `data` replaces the recipe's data source with a prebuilt one (cross-validation folds, ensembles).
    """
    if isinstance(recipe, str):
        recipe = RECIPES.get(recipe)
    if resume:
        run_dir = Path(out) if out else default_run_dir(recipe.name)
        if not checkpoint.has_checkpoints(run_dir / "checkpoints"):
            raise UserError(f"--resume: {run_dir} holds no checkpoint to resume from")
        saved_recipe, sections, _ = load_config(run_dir)
        if saved_recipe.name != recipe.name:
            raise UserError(f"--resume: {run_dir} is a run of {saved_recipe.name}, not {recipe.name}")
        started = dict(sections)
        for section, changes in (overrides or {}).items():  # e.g. more steps for a finished run
            sections[section] = override(sections[section], changes, section)
        _check_resume_changes(started, sections)
    else:
        sections = resolve(recipe, overrides)
    cfg: RunConfig = sections["run"]
    lock = run_lock.RunLock()
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
        if procs.is_main and run_dir.is_dir():  # before reading what another training may be writing
            lock.acquire_for(run_dir)
        if not resume and checkpoint.has_checkpoints(run_dir / "checkpoints"):
            raise UserError(f"{run_dir} already holds a run; add --resume to continue it or choose another --out")
        run = build(recipe, sections, run_dir, explicit=None if resume else (overrides or {}), data=data,
                    procs=procs)
        try:
            if procs.is_main:
                started = merge_overrides(saved_overrides(run_dir), overrides or {}) if resume else overrides or {}
                run_dir.mkdir(parents=True, exist_ok=True)
                lock.acquire_for(run_dir)  # the lock lives in the run directory: taken once it exists
                save_config(run, started)
            run = _loop(run, resume, progress)
        except OSError as exc:
            raise _write_error(exc, run_dir) from None
        procs.wait_for_all()
        return run
    finally:
        lock.release()
        torch.set_num_threads(threads)
        procs.close()


def _check_resume_changes(started: dict[str, Any], sections: dict[str, Any]) -> None:
    """Refuse a resume whose overrides change a setting that would make it differ from the uninterrupted run."""
    for section, cfg in sections.items():
        allowed = RESUMABLE_CHANGES.get(section, set())
        for f in dataclasses.fields(cfg):
            old, new = getattr(started[section], f.name), getattr(cfg, f.name)
            if f.name not in allowed and old != new:
                raise UserError(f"--resume: the run was started with --{section}.{f.name} {old!r}; resuming with "
                                f"{new!r} would change its results. Keep it, or start a new run with another --out")


def _write_error(exc: OSError, run_dir: Path) -> Exception:
    """A failed write into the run directory (full disk, quota, read-only, permissions) as one line that says the
    newest checkpoint is intact; any other OSError unchanged (a bug, or a read that has its own message)."""
    name = str(exc.filename) if exc.filename else ""
    inside = bool(name) and Path(name).absolute().is_relative_to(run_dir.absolute())
    if exc.errno not in _WRITE_ERRNOS and not (exc.errno in _DENIED_ERRNOS and inside):
        return exc
    try:
        step = checkpoint.latest_step(run_dir / "checkpoints")
    except UserError:
        step = None
    kept = (f"the newest checkpoint (step {step}) is intact; free space or fix permissions, then continue with "
            "--resume") if step is not None else "no checkpoint had been written yet"
    return WriteError(f"cannot write into {run_dir}: {exc.strerror or exc}{f' ({name})' if name else ''}; {kept}")


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
        step, saved, warning = checkpoint.resume_point(ckpt_dir)
        if warning and procs.is_main:
            print(f"neuralab: warning: {warning}", file=sys.stderr, flush=True)
            # Written again as the newest checkpoint: latest.json names an intact one even if no step follows, and
            # the damaged files of later steps are pruned.
            checkpoint.save(ckpt_dir, step, saved)
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
        try:
            bar.close()
            log.close()
        finally:
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

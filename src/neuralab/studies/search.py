"""Hyper-parameter search on Optuna (Akiba, Sano, Yanase, Ohta, Koyama, "Optuna: A Next-generation
Hyperparameter Optimization Framework", 2019).

Each trial trains the recipe through the engine into OUT/trial-N with the trial's values as config overrides
and returns one metric of the finished run, measured on a validation split carved from the training data
(selection.py: `val/acc` for a recipe that reports `test/acc`). When the study is complete, the best trial's
values are retrained once on the whole training set (train + validation) into OUT/final-trial-N, and that run's
test metric is reported: the test set is read once, by a choice already made.

With a storage URL (sqlite:///study.db or any database URL Optuna accepts) the study lives in the database:
the same command run again resumes it (complete trials are kept and not rerun; --trials is the total), and
several processes or machines may work on one study at once. A process's heartbeat marks its running trial
alive; the trial of a process that died is failed once its heartbeat is older than twice the interval, and its
values are queued to run again.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuralab import checkpoint
from neuralab.build import resolve
from neuralab.config import merge_overrides
from neuralab.engine import DivergedError, fit
from neuralab.errors import UserError
from neuralab.recipes.recipe import Recipe
from neuralab.studies.cross_validation import Log, Target
from neuralab.studies.optuna_setup import import_optuna, quiet
from neuralab.studies.search_selection import Selection, select_by
from neuralab.studies.search_space import ParamSpec, as_overrides, space_size
from neuralab.studies.tables import cell, write_table

SAMPLERS = ("grid", "random", "tpe")
POLL_SECONDS = 0.5  # how often a process that waits for other processes' last trials looks again


@dataclass
class TrialRow:
    number: int
    state: str
    params: dict[str, Any]
    value: float | None
    run_dir: str


@dataclass
class FinalTest:
    """The best trial's values retrained once and scored once on the test set."""

    trial: int
    metric: str
    value: float | None  # None: the refit diverged
    run_dir: Path
    kept_val: bool  # the validation part was kept out of training, for early stopping (run.patience)
    note: str = ""  # why there is no value


@dataclass
class SearchResult:
    study: str
    target: Target
    rows: list[TrialRow]
    report: str
    files: list[Path]
    val_fraction: float = 0.0  # of the training data every trial was scored on (0: no validation split)
    final: FinalTest | None = None

    @property
    def complete(self) -> list[TrialRow]:
        return [r for r in self.rows if r.state == "COMPLETE"]

    @property
    def best(self) -> TrialRow | None:
        done = self.complete
        if not done:
            return None
        pick = max if self.target.maximize else min
        return pick(done, key=lambda r: r.value)


def open_storage(url: str, heartbeat: int) -> Any:
    """An Optuna RDB storage with a heartbeat; retried while another process is creating the same database."""
    optuna = import_optuna()
    import sqlalchemy.exc

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    attempt = 0
    while True:
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=kwargs, heartbeat_interval=heartbeat,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback())
        except (sqlalchemy.exc.ArgumentError, ImportError, ValueError) as exc:
            raise UserError(f"--storage {url}: {str(exc).splitlines()[0]}") from None
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # two processes creating one database's tables at once: the loser finds them on a retry
            message = str(exc).splitlines()[0]
            attempt += 1
            racing = any(w in message for w in ("already exists", "UNIQUE constraint", "locked"))
            if attempt == 8 or not racing:
                raise UserError(f"--storage {url}: {message}") from None
            time.sleep(0.25 * attempt)


def grid_space(specs: Sequence[ParamSpec], points: int) -> dict[str, list[Any]]:
    if points < 2:
        raise UserError(f"--grid-points {points}: a range needs at least 2 grid points")
    return {s.key: s.grid(points) for s in specs}


def make_sampler(kind: str, specs: Sequence[ParamSpec], grid_points: int, seed: int | None) -> Any:
    optuna = import_optuna()
    if kind == "grid":
        return optuna.samplers.GridSampler(grid_space(specs, grid_points), seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise UserError(f"--sampler {kind}: use {', '.join(SAMPLERS)}")


def _check_study(study: Any, record: dict[str, Any], name: str) -> None:
    """A resumed study must search the same recipe, fields, ranges and metric as the command."""
    stored = study.user_attrs
    for key, value in record.items():
        if key in stored and stored[key] != value:
            raise UserError(f"--study {name}: it was created with {key} {stored[key]}, not {value}; "
                            f"choose another --study")
        if key not in stored:
            study.set_user_attr(key, value)


def _adopt_running(study: Any, adopted: set[int], optuna: Any) -> None:
    """Give every running trial this process has not seen before one heartbeat.

    Optuna fails a running trial only once its last heartbeat is stale, and a trial has none until its
    process's heartbeat thread first beats; a process killed between creating a trial and that first beat
    would hold its place forever. A live owner keeps beating over ours; a dead one's trial goes stale.
    """
    storage = study._storage
    if not optuna.storages._heartbeat.is_heartbeat_enabled(storage):
        return
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial._trial_id not in adopted:
            adopted.add(trial._trial_id)
            storage.record_heartbeat(trial._trial_id)


def _full(study: Any, n_trials: int, sampler: Any, optuna: Any, adopted: set[int]) -> bool:
    """True when the study has `n_trials` complete trials (or a finished grid).

    While the remaining places are held by other processes' running trials, wait for them: one of them may
    fail and leave its place to this process.
    """
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)
    while True:
        _adopt_running(study, adopted, optuna)
        optuna.storages.fail_stale_trials(study)
        counted = study.get_trials(deepcopy=False, states=states)
        complete = sum(t.state == states[0] for t in counted)
        if complete >= n_trials:
            return True
        if isinstance(sampler, optuna.samplers.GridSampler) and sampler.is_exhausted(study):
            return True
        if len(counted) < n_trials:
            return False
        time.sleep(POLL_SECONDS)


def trial_count(specs: Sequence[ParamSpec], sampler: str, trials: int | None, grid_points: int) -> int:
    """The number of trials to run; refused where some would train a configuration another already trained."""
    if sampler == "grid":
        size = math.prod(len(v) for v in grid_space(specs, grid_points).values())
        trials = size if trials is None else trials
    else:
        size = space_size(specs)
    if trials is None or trials < 1:
        raise UserError("--trials: give the number of trials (at least 1)")
    if size is not None and trials > size:
        if size == 1:
            fixed = ", ".join(s.text for s in specs)
            raise UserError(f"--trials {trials}: nothing varies (every --param has a single value: {fixed}), so "
                            f"every trial would train the same configuration; give several values or a range, "
                            f"or --trials 1")
        if sampler == "grid":
            raise UserError(f"--trials {trials}: the grid has only {size} points; use --trials {size} or more "
                            f"--grid-points")
        raise UserError(f"--trials {trials}: the --param values allow only {size} configurations, so some would "
                        f"be trained twice; use --trials {size} or fewer (--sampler grid tries each once)")
    return trials


def run_search(recipe: Recipe, specs: Sequence[ParamSpec], overrides: dict[str, dict[str, Any]], *,
               trials: int | None, sampler: str, out: Path, grid_points: int = 3, storage: str | None = None,
               study_name: str | None = None, metric: str | None = None, direction: str | None = None,
               seed: int = 0, heartbeat: int = 10, log: Log | None = None) -> SearchResult:
    """Search `specs` for the best validation `metric` of `recipe`, then test the best values once; a results
    table and a plot go to OUT.

    Without a storage the sampler is seeded with `seed`; with one, every process draws fresh values (a
    shared seed would make parallel workers and resumed runs repeat each other's points).
    """
    optuna = import_optuna()
    if not specs:
        raise UserError("search: give at least one --param FIELD=KIND:... (see neuralab search --help)")
    selection = select_by(recipe, resolve(recipe, overrides), overrides, metric, direction)
    target = selection.target
    for spec in specs:
        if selection.test_metric and spec.key == "data.val_fraction":
            raise UserError(f"--param {spec.text}: every trial must be scored on the same validation split; set "
                            f"--data.val_fraction instead")
    trials = trial_count(specs, sampler, trials, grid_points)
    if heartbeat < 1:
        raise UserError(f"--heartbeat {heartbeat}: must be at least 1 second")
    name = study_name or f"search-{recipe.name}"
    chosen = make_sampler(sampler, specs, grid_points, seed if storage is None else None)
    trial_overrides = selection.trial_overrides(overrides)
    with quiet(optuna):
        study = optuna.create_study(
            storage=open_storage(storage, heartbeat) if storage else None, sampler=chosen, study_name=name,
            direction="maximize" if target.maximize else "minimize", load_if_exists=True)
        _check_study(study, {"recipe": recipe.name, "params": [s.text for s in specs], "metric": target.metric,
                             "direction": "maximize" if target.maximize else "minimize",
                             "val_fraction": selection.val_fraction}, name)
        counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)

        def objective(trial: Any) -> float:
            ahead = [t for t in study.get_trials(deepcopy=False, states=counted) if t.number < trial.number]
            if len(ahead) >= trials:  # another process took the last place at the same moment
                trial.set_user_attr("surplus", True)
                study.stop()
                raise optuna.TrialPruned("the study already has its trials")
            values = {s.key: s.suggest(trial) for s in specs}
            run_dir = out / f"trial-{trial.number}"
            trial.set_user_attr("run_dir", str(run_dir))
            run = fit(recipe, merge_overrides(trial_overrides, as_overrides(values)), out=run_dir, progress=False)
            if target.metric not in run.metrics:
                raise UserError(f"{recipe.name} reports no {target.metric} to choose by; it reports "
                                f"{', '.join(sorted(run.metrics))} (give one as --metric, with --direction)")
            return run.metrics[target.metric]  # the run also logs its test metrics; they are never read here

        def after_trial(study: Any, trial: Any) -> None:
            if log and not trial.user_attrs.get("surplus"):
                shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in trial.params.items())
                value = "" if trial.value is None else f" {target.metric} {trial.value:.4f}"
                log(f"trial {trial.number} {trial.state.name.lower()}:{value} ({shown})")
            if _full(study, trials, chosen, optuna, adopted):
                study.stop()

        adopted: set[int] = set()  # the other processes' running trials this one has given a heartbeat
        if not _full(study, trials, chosen, optuna, adopted):
            study.optimize(objective, n_trials=trials, callbacks=[after_trial], catch=(DivergedError,))
        rows = [TrialRow(t.number, t.state.name, dict(t.params), t.value, t.user_attrs.get("run_dir", ""))
                for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("surplus")]
    result = SearchResult(name, target, rows, "", [], selection.val_fraction)
    if result.best is not None and selection.test_metric:
        result.final = refit_and_test(recipe, overrides, result.best, selection, out)
        if log:
            log(f"final: {_final_line(result.final)}")
    return _write(result, specs, out)


def refit_and_test(recipe: Recipe, overrides: dict[str, dict[str, Any]], best: TrialRow, selection: Selection,
                   out: Path) -> FinalTest:
    """Retrain `best`'s values on the whole training set into OUT/final-trial-N and read its test metric.

    The validation part is kept out of the refit only when early stopping needs it: without one the engine
    would stop on the test split. Processes sharing a study and OUT take turns on a file lock (released by
    the system if a process dies), so the refit runs once: a later process reads its summary, and a refit
    that was killed resumes from its checkpoint.
    """
    from filelock import FileLock

    values = merge_overrides(overrides, as_overrides(best.params))
    kept_val = bool(resolve(recipe, values)["run"].patience)
    val_fraction = selection.val_fraction if kept_val else 0.0
    final_overrides = merge_overrides(values, {"data": {"val_fraction": str(val_fraction)}})
    run_dir = out / f"final-trial-{best.number}"
    final = FinalTest(best.number, selection.test_metric, None, run_dir, kept_val)
    out.mkdir(parents=True, exist_ok=True)
    with FileLock(out / "final.lock"):
        summary = run_dir / "summary.json"
        if summary.exists():
            metrics = json.loads(summary.read_text())["metrics"]
        else:
            resume = checkpoint.latest_step(run_dir / "checkpoints") is not None
            try:
                metrics = fit(recipe, final_overrides, out=run_dir, resume=resume, progress=False).metrics
            except DivergedError as exc:
                final.note = str(exc)
                return final
    if final.metric not in metrics:
        raise UserError(f"{recipe.name} reports no {final.metric} to test the chosen values by; it reports "
                        f"{', '.join(sorted(metrics))}")
    final.value = metrics[final.metric]
    return final


def _final_line(final: FinalTest) -> str:
    trained_on = "the training part (validation kept for early stopping)" if final.kept_val else "train + val"
    done = (f"diverged: {final.note}" if final.value is None
            else f"{final.metric} {final.value:.4f} (the test set, read once)")
    return f"best values (trial {final.trial}) retrained on {trained_on} in {final.run_dir}: {done}"


def _write(result: SearchResult, specs: Sequence[ParamSpec], out: Path) -> SearchResult:
    keys = [s.key for s in specs]
    metric = result.target.metric
    header = ["trial", "state", *keys, metric]
    rows = [[r.number, r.state.lower(), *(r.params.get(k) for k in keys), r.value] for r in result.rows]
    best = result.best
    scored = f" on a validation split (data.val_fraction {result.val_fraction:g})" if result.val_fraction else ""
    footer = (f"{len(result.complete)} complete trials{scored}; best {metric} {best.value:.4f} at trial "
              f"{best.number} ({', '.join(f'{k}={cell(best.params[k])}' for k in keys)})" if best
              else "no complete trial")
    if result.final:
        footer += f"\n{_final_line(result.final)}"
    result.files = list(write_table(out, "search", header, rows, footer))
    result.files.append(plot_search(result, specs, out / "search.png"))
    result.report = (out / "search.md").read_text().rstrip()
    return result


def plot_search(result: SearchResult, specs: Sequence[ParamSpec], path: Path) -> Path:
    """The metric against the trial number (with the best so far) and against each searched field."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from neuralab.viz.curves import save_figure

    done = sorted(result.complete, key=lambda r: r.number)
    fig, axes = plt.subplots(1, 1 + len(specs), figsize=(4.2 * (1 + len(specs)), 3.4), squeeze=False)
    ax = axes[0][0]
    metric = result.target.metric
    if done:
        xs, ys = [r.number for r in done], [r.value for r in done]
        ax.scatter(xs, ys, s=18, label="trial")
        running, best = [], None
        for y in ys:
            best = y if best is None else (max(best, y) if result.target.maximize else min(best, y))
            running.append(best)
        ax.step(xs, running, where="post", color="C3", label="best so far")
        ax.legend()
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per trial")
    for ax, spec in zip(axes[0][1:], specs, strict=True):
        values = [r.params.get(spec.key) for r in done]
        if spec.kind == "choice":
            labels = [str(c) for c in spec.choices]
            ax.scatter([labels.index(str(v)) for v in values], [r.value for r in done], s=18)
            ax.set_xticks(range(len(labels)), labels)
        else:
            ax.scatter(values, [r.value for r in done], s=18)
            if spec.kind == "log":
                ax.set_xscale("log")
        ax.set_xlabel(spec.key)
        ax.set_title(f"{metric} vs {spec.name}")
    for ax in axes[0]:
        ax.grid(alpha=0.3)
    return save_figure(fig, path)

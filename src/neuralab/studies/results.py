"""Results tables: train recipes over several seeds and write the measured numbers into markdown files.

`neuralab results` trains each recipe with seeds 0..N-1 and writes one table (expected metric, measured
mean +- std with min and max over the seeds, seeds that reached the expectation, wall time per run) between
markers of a markdown file. `neuralab results --report RECIPE` writes the recipe's own report (its method's
`report()` markdown) for seed 0 instead. Every table names the machine it was measured on, because wall
times only compare on the same machine.
"""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neuralab.errors import UserError


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation (0 for one value), minimum and maximum of per-seed values."""

    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no values to aggregate")
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return cls(statistics.fmean(values), std, min(values), max(values))


@dataclass(frozen=True)
class SeedRun:
    """One finished run: its seed, the recipe's checks ({metric: {op, target, value, ok}}), wall seconds, its final
    metrics, and whether it was read from a run trained before the table (`reused`)."""

    seed: int
    checks: dict[str, dict[str, Any]]
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    reused: bool = False  # read from a finished run (`--reuse`): seconds are its own time/seconds

    @property
    def reached(self) -> bool:
        return all(c["ok"] for c in self.checks.values())


@dataclass(frozen=True)
class RecipeResult:
    """A recipe trained over several seeds."""

    name: str
    curriculum: str
    expect: dict[str, tuple[str, float]]
    runs: list[SeedRun]
    threads: int = 0  # torch threads the runs trained with (`--run.threads`, else torch's default)

    def metric(self, key: str) -> Spread | None:
        """The spread of `key` (a checked metric, else a final one) over the seeds that measured it (None when none
        did)."""
        values = [r.checks[key]["value"] if key in r.checks else r.metrics.get(key) for r in self.runs]
        values = [v for v in values if v is not None]
        return Spread.of(values) if values else None

    @property
    def reached(self) -> int:
        return sum(r.reached for r in self.runs)

    @property
    def seconds(self) -> Spread:
        return Spread.of([r.seconds for r in self.runs])


def _num(value: float) -> str:
    return f"{value:.4g}"


def format_row(result: RecipeResult, columns: Sequence[str] = ()) -> str:
    """One markdown row: recipe, curriculum, expected, measured (mean +- std [min, max]), reached, wall time, then
    one cell (mean +- std) per metric of `columns`."""
    expected = "; ".join(f"{k} {op} {_num(t)}" for k, (op, t) in result.expect.items())
    measured = []
    for key in result.expect:
        s = result.metric(key)
        measured.append(f"{key} = n/a" if s is None else
                        f"{key} = {_num(s.mean)} ± {_num(s.std)} [{_num(s.min)}, {_num(s.max)}]")
    t = result.seconds
    reached = f"{result.reached}/{len(result.runs)}"
    if result.reached < len(result.runs):
        reached = f"**{reached}**"
    extra = [("n/a" if s is None else f"{_num(s.mean)} ± {_num(s.std)}") for s in map(result.metric, columns)]
    return (f"| `{result.name}` | {result.curriculum} | {expected} | {'; '.join(measured)} | {reached} | "
            f"{t.mean:.1f} ± {t.std:.1f} s |" + "".join(f" {cell} |" for cell in extra))


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform.processor(), else the architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(threads: int | str = 0) -> str:
    """Date, CPU model, torch's CPU capability, threads and torch version: what the wall times depend on. `threads`:
    what the runs trained with (0: this process's count, which a run's `--run.threads` changes only while it trains)."""
    import torch

    return (f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, torch CPU capability "
            f"{torch.backends.cpu.get_cpu_capability()}, {threads or torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}")


def format_table(results: Sequence[RecipeResult], command: str, seeds: int, columns: Sequence[str] = ()) -> str:
    """The whole generated block: how it was made and where, then one row per recipe, with a column (mean +- std
    over the seeds) for each final metric of `columns`."""
    used = sorted({r.threads for r in results if r.threads})
    threads = used[0] if len(used) == 1 else "/".join(map(str, used)) if used else 0
    reused = [f"`{r.name}` {', '.join(str(run.seed) for run in r.runs if run.reused)}" for r in results
              if any(run.reused for run in r.runs)]
    read = (f" Read from runs finished before this command (--reuse), with their own training time (time/seconds) "
            f"as wall time: {'; '.join(reused)}." if reused else "")
    return "\n".join([
        f"Generated by `{command}` on {machine_line(threads)}. Seeds 0..{seeds - 1}; measured: mean ± sample std "
        f"[min, max] over the seeds; wall time: mean ± std seconds per run after an untimed warm-up, "
        f"measured in the same command (compare times only between tables from the same machine).{read}",
        "", "| recipe | curriculum | expected | measured | reached | wall time |" + "".join(f" {c} |" for c in columns),
        "|---|---|---|---|---|---|" + "---|" * len(columns), *(format_row(r, columns) for r in results)])


def select_recipes(family: str | None = None, names: Sequence[str] | None = None) -> list[str]:
    """Recipe names to run: the ones named (checked), else the family's, else all, in name order."""
    from neuralab.registry import RECIPES

    if names:
        for name in names:
            RECIPES.get(name)  # an unknown name is a UserError listing the known ones
        chosen = [n for n in names if family is None or RECIPES.get(n).family == family]
        if not chosen:
            raise UserError(f"none of {', '.join(names)} is in family {family!r}")
        return chosen
    chosen = [n for n, r in RECIPES.items() if family is None or r.family == family]
    if not chosen:
        families = sorted({r.family for _, r in RECIPES.items()})
        raise UserError(f"no recipes in family {family!r}; families: {', '.join(families)}")
    return sorted(chosen)


def _fresh(run_dir: Path) -> Path:
    """Each seed's run starts from an empty folder: a results command re-measures, it never resumes."""
    shutil.rmtree(run_dir, ignore_errors=True)
    return run_dir


def _with_seed(overrides: dict[str, dict[str, Any]] | None, seed: int) -> dict[str, dict[str, Any]]:
    merged = {section: dict(fields) for section, fields in (overrides or {}).items()}
    merged.setdefault("run", {})["seed"] = seed
    return merged


def train_seeds(name: str, seeds: int, out: Path, overrides: dict[str, dict[str, Any]] | None = None,
                log: Callable[[str], None] | None = None, reuse: bool = False, nll_samples: int = 0) -> RecipeResult:
    """Train recipe `name` with seeds 0..seeds-1 into out/name/seed-K and collect checks and wall times.

    Wall time is one `fit` call, from start to the written summary and plots, after a warm-up run. With `reuse`, a
    seed whose folder holds a finished run of exactly this configuration (`finished_run`) is read, not trained: its
    checks and metrics from its summary, its time the run's own `time/seconds` (so seeds too long to train one after
    another can be trained side by side by `neuralab train --run.seed K --out OUT/RECIPE/seed-K`, then tabulated).
    With `nll_samples`, each seed's final model also gets the test likelihood estimate of `neuralab eval --nll`
    (`Method.log_likelihood`: test/nll, ...: metrics for `--columns`), after and outside its timed training; a reused
    seed's is read from its newest checkpoint.
    """
    import torch

    from neuralab.api import load
    from neuralab.engine import fit
    from neuralab.registry import RECIPES

    recipe = RECIPES.get(name)
    found = {seed: finished_run(name, out, overrides, seed) for seed in range(seeds)} if reuse else {}
    if any(found.get(seed) is None for seed in range(seeds)):
        # An untimed 1-step run first: the first run in a process pays for imports (scipy, sklearn, matplotlib:
        # seconds) and data loading, which would make seed 0 look slower than the others.
        warm = _with_seed(overrides, 0)
        warm["run"]["steps"] = 1
        fit(recipe, warm, out=_fresh(out / name / "warm-up"), progress=False)
        shutil.rmtree(out / name / "warm-up")
    runs, threads = [], 0
    for seed in range(seeds):
        if found.get(seed) is not None:
            summary, run_threads = found[seed]
            threads = run_threads or threads
            metrics = summary["metrics"]
            # checked against the recipe's expectation as it stands, as the table's "expected" column shows it (the
            # summary holds the checks of the recipe the run trained with)
            runs.append(SeedRun(seed, recipe.check(metrics), float(metrics["time/seconds"]), dict(metrics),
                                reused=True))
            method = None  # read back from its checkpoint if its likelihood is asked for
        else:
            t0 = time.perf_counter()
            run = fit(recipe, _with_seed(overrides, seed), out=_fresh(out / name / f"seed-{seed}"), progress=False)
            # at the process's count when the config leaves it (0), so a table mixing such recipes with one-thread
            # ones says both
            threads = run.sections["run"].threads or torch.get_num_threads()
            runs.append(SeedRun(seed, run.checks, time.perf_counter() - t0, dict(run.metrics)))
            method = run.method  # in its final state, that of its newest checkpoint
        if nll_samples:
            method = method or load(out / name / f"seed-{seed}").run.method
            runs[-1].metrics.update({k: float(v) for k, v in method.log_likelihood(nll_samples).items()})
        if log:
            verdict = "reached" if runs[-1].reached else "NOT reached"
            how = "read from its finished run" if runs[-1].reused else f"in {runs[-1].seconds:.1f} s"
            log(f"{name} seed {seed}: {verdict} {how}")
    return RecipeResult(name, recipe.curriculum, dict(recipe.expect), runs, threads)


def finished_run(name: str, out: Path, overrides: dict[str, dict[str, Any]] | None,
                 seed: int = 0) -> tuple[dict[str, Any], int] | None:
    """(summary, torch threads) of a finished run out/name/seed-K of exactly this configuration (summary.json, written
    at a run's end), or None when there is no such run (none, unfinished, other settings)."""
    from neuralab.build import resolve
    from neuralab.config import to_dict
    from neuralab.registry import RECIPES

    run_dir = out / name / f"seed-{seed}"
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError):
        return None
    sections = {k: to_dict(v) for k, v in resolve(RECIPES.get(name), _with_seed(overrides, seed)).items()}
    if saved.get("sections") != json.loads(json.dumps(sections)):
        return None
    return summary, sections["run"]["threads"]


def recipe_report(name: str, out: Path, overrides: dict[str, dict[str, Any]] | None, command: str,
                  reuse: bool = False) -> str:
    """The recipe's own report (its method's markdown) for seed 0, headed by the command and the machine; with
    `reuse`, the report of a finished run of the same configuration (`finished_run`) where there is one."""
    from neuralab.engine import fit

    found = finished_run(name, out, overrides) if reuse else None
    if found is not None and found[0].get("report"):
        return f"Generated by `{command}` on {machine_line(found[1])}.\n\n{found[0]['report']}"
    run = fit(name, _with_seed(overrides, 0), out=_fresh(out / name / "seed-0"), progress=False)
    text = run.method.report(run.run_dir)
    if not text:
        raise UserError(f"--report {name}: this recipe's method writes no report; use neuralab results "
                        f"--recipes {name}")
    return f"Generated by `{command}` on {machine_line(run.sections['run'].threads)}.\n\n{text}"


def markers(block: str | None) -> tuple[str, str]:
    """`<!-- results:start -->`/`<!-- results:end -->`, or with a name: `<!-- results:NAME:start -->`..."""
    tag = f"results:{block}" if block else "results"
    return f"<!-- {tag}:start -->", f"<!-- {tag}:end -->"


def replace_block(text: str, block: str | None, content: str, where: str = "the file") -> str:
    """`text` with everything between the block's markers replaced by `content`; the rest is kept byte for byte."""
    start, end = markers(block)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise UserError(f"{where} needs exactly one {start} line followed by one {end} line to write the "
                        f"table between them")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content.strip()}\n{end}{tail}"


def write_block(path: Path, block: str | None, content: str, dry_run: bool = False) -> None:
    """Replace the block's table in the markdown file at `path`, atomically; `dry_run` only checks the markers."""
    from neuralab.atomic import write_text_atomic

    if not path.is_file():
        raise UserError(f"--write {path}: no such file")
    text = replace_block(path.read_text(), block, content, where=str(path))
    if not dry_run:
        write_text_atomic(path, text)

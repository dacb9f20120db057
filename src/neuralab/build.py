"""Build a run from a recipe: resolve its config sections, pick the device, build data, model and method, and
save or read back a run directory's configuration.

`resolve` applies overrides to the recipe's sections; `build` seeds, builds the data source, lets the model
size itself from the data (`neuralab.models.sizing`), prepares it through the run context and hands it to
the method. `neuralab.engine` then runs the loop; `neuralab.api.load` rebuilds a saved run with the same
calls.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab import acceleration, run_format
from neuralab.atomic import write_json_atomic
from neuralab.config import RunConfig, from_dict, override, to_dict, validate
from neuralab.contracts import DataSource, Method, RunContext
from neuralab.distributed import Processes
from neuralab.errors import UserError, one_line
from neuralab.nn.shapes import ShapeError, has_windows, trace_shapes
from neuralab.recipes.recipe import Recipe
from neuralab.registry import DATA, METHODS, MODELS, RECIPES
from neuralab.transfer import Transfer
from neuralab.transfer import prepare as prepare_transfer

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
    transfer: Transfer | None = None  # what --init-from loaded and --freeze froze, when either was asked for

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
    if sections["run"].full:  # the recipe's full setting, under the user's own overrides
        if not recipe.full:
            raise UserError(f"--run.full: {recipe.name} has no separate full setting; it already trains as the "
                            "paper does")
        for section, changes in recipe.full.items():
            mine = (overrides or {}).get(section, {})
            sections[section] = override(sections[section], {k: v for k, v in changes.items() if k not in mine},
                                         section)
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
    steps = f"{steps_per_epoch} step{'' if steps_per_epoch == 1 else 's'}"
    print(f"note: your data gives {steps} per epoch; training {epochs} epochs "
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
    `--run.init_from` starts a new run's model from another run's matching weights, `--run.freeze` fixes
    parameters before the method builds its optimiser (`neuralab.transfer`).
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
    data, model = sized_model(recipe, sections, data, (explicit or {}).get("model", {}))
    transfer = None
    if run.init_from or run.freeze:  # before the method builds its optimiser over the trainable parameters
        # Only a new run starts from the source's weights; a resumed or loaded one has its own checkpoint.
        transfer = prepare_transfer(model, run.init_from if explicit is not None else None, run.freeze)
    data = data.to(device)
    if explicit is not None and on_user_data(sections):
        sections["run"] = run = _budget_for_user_data(run, data.steps_per_epoch, explicit.get("run", {}))
    steps_per_epoch = data.steps_per_epoch
    total = total_steps or run.steps or max(1, math.ceil(run.epochs * steps_per_epoch))
    procs.check_data(data)
    ctx = RunContext(total_steps=total, device=device, seed=run.seed, run_dir=run_dir,
                     amp=acceleration.use_amp(run.amp, device),
                     channels_last=run.channels_last, compile=run.compile, procs=procs if procs.active else None,
                     model_name=recipe.model, model_config=sections["model"])
    trained = ctx.prepare(model)
    model = trained.module if procs.active else trained  # the plain network (checkpoints, predictions)
    method = METHODS.get(recipe.method).build(sections["method"], trained, data, ctx)
    if transfer is not None and "model" not in method.state_dict():
        raise UserError(f"--run.init_from/--run.freeze: {recipe.method} does not train the recipe's model (it builds "
                        f"networks of its own), so there is nothing to start from another run or to freeze")
    return Run(recipe=recipe, run_dir=run_dir, sections=sections, model=model, method=method, data=data,
               procs=procs, total_steps=total, transfer=transfer)


def sized_model(recipe: Recipe, sections: dict[str, Any], data: Any = None,
                explicit_model: dict[str, Any] | None = None) -> tuple[DataSource, torch.nn.Module]:
    """The data (built unless given) and the recipe's model at the size that data gives; `sections["model"]`
    is updated to that size. `info` and `flops` show this model without building a method."""
    seed = sections["run"].seed
    if data is None:
        data = DATA.get(recipe.data).build(sections["data"], seed)
    entry = MODELS.get(recipe.model)
    if data.meta is not None:
        sections["model"] = entry.sizing(sections["model"], data.meta, explicit_model or {})
    torch.manual_seed(seed)  # model init does not depend on how much randomness the data used
    shape = tuple(data.meta.input_shape) if data.meta is not None else None
    try:  # a conv/pool window larger than its input fails here, in one line, not as a torch traceback
        model = entry.cls(sections["model"])
        # A generator's input is a latent code, not a data example: the data sizes its output (and its discriminator).
        if shape is not None and has_windows(model) and not getattr(model, "latent_input", False):
            trace_shapes(model, shape, torch.long if data.meta.kind == "text" else torch.float32)  # token ids
    except ShapeError as exc:
        inputs = "x".join(map(str, shape)) if shape else "its"
        raise ShapeError(f"{recipe.model} cannot take {inputs} inputs: {exc}; give larger "
                         "inputs or configure the model for this size (`neuralab info MODEL` prints every "
                         "layer's output)") from None
    return data, model


def default_run_dir(recipe: str) -> Path:
    return Path("runs") / f"{recipe}-{time.strftime('%Y%m%d-%H%M%S')}"


def save_config(run: Run, overrides: dict[str, dict[str, Any]]) -> None:
    """config.json: the recipe, its resolved sections, the overrides that made them (from which `neuralab report`
    writes the command that reproduces the run) and where it ran."""
    import platform

    from neuralab import __version__

    meta = run.data.meta.to_dict() if run.data.meta is not None else {}
    environment = {"device": str(run.procs.device), "processes": run.procs.world_size,
                   "threads": torch.get_num_threads(), "neuralab": __version__, "torch": torch.__version__,
                   "python": platform.python_version(), "platform": platform.platform(),
                   "cpu": platform.processor() or platform.machine(),
                   "started": time.strftime("%Y-%m-%d %H:%M:%S %z")}
    if run.procs.device.type == "cuda":
        environment["gpu"] = torch.cuda.get_device_name(run.procs.device)
    write_json_atomic(run.run_dir / "config.json", run_format.stamp({
        "recipe": run.recipe.name, "sections": {k: to_dict(v) for k, v in run.sections.items()},
        "overrides": {k: {f: _jsonable(v) for f, v in fields.items()} for k, fields in overrides.items()},
        "total_steps": run.total_steps, "data_meta": meta, "torch": torch.__version__, "environment": environment}))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def saved_overrides(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The overrides a saved run was started with ({} for runs saved before they were recorded)."""
    return read_config(run_dir).get("overrides", {})


def saved_total_steps(run_dir: Path) -> int | None:
    """The number of steps a saved run was planned for (None for runs saved before it was recorded)."""
    return read_config(run_dir).get("total_steps")


def read_config(run_dir: Path) -> dict[str, Any]:
    """A run directory's config.json as the current run format has it (an older format migrated, a newer refused)."""
    path = run_dir / "config.json"
    if not path.is_file():
        raise UserError(f"{run_dir}: not a run directory (no config.json)")
    try:
        saved = run_format.read(json.loads(path.read_text()), path)
    except (OSError, ValueError, RecursionError) as exc:
        raise UserError(f"{path}: unreadable run configuration ({one_line(exc)})") from None
    return saved


def load_config(run_dir: Path) -> tuple[Recipe, dict[str, Any], dict[str, Any]]:
    path = run_dir / "config.json"
    saved = read_config(run_dir)
    try:
        if not (isinstance(saved.get("recipe"), str) and len(saved["recipe"]) <= 200
                and isinstance(saved.get("sections"), dict) and isinstance(saved.get("data_meta", {}), dict)):
            raise ValueError("expected an object with a recipe name, its sections and its data description")
        recipe = RECIPES.get(saved["recipe"])
        defaults = recipe.sections()
        sections = {k: from_dict(type(defaults[k]), saved["sections"][k]) for k in SECTIONS}
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise UserError(f"{path}: unreadable run configuration ({one_line(exc)})") from None
    return recipe, sections, saved.get("data_meta", {})

"""The Python face of neuralab: train, load, predict, create models, list recipes.

    >>> import neuralab
    >>> run = neuralab.train("mlp-digits", {"run": {"epochs": 2}}, out="runs/demo")
    >>> run.metrics["test/acc"]
    >>> neuralab.load("runs/demo").predict(x)   # class probabilities
    >>> neuralab.load("runs/demo", checkpoint="best").evaluate("test")

Only `train(..., progress=True)` prints (a progress bar on a terminal, else a line every 10 s, on stderr);
everything else here is silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab import checkpoint as checkpoints
from neuralab.build import Run, build, load_config, saved_total_steps
from neuralab.config import override
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.engine import fit
from neuralab.errors import UserError
from neuralab.registry import MODELS, RECIPES


def train(recipe: str, overrides: dict[str, dict[str, Any]] | None = None, *, out: str | Path | None = None,
          resume: bool = False, progress: bool = False, seed: int | None = None,
          device: str | None = None, init_from: str | Path | None = None,
          freeze: tuple[str, ...] | str | None = None) -> Run:
    """Train a recipe; `overrides` is {section: {field: value}} with sections run, model, method, data.

    `init_from` starts the model from another run's matching weights and `freeze` (name prefixes) keeps
    parameters fixed, like `--init-from` and `--freeze`; `run.transfer` says what was loaded, skipped, frozen.

    `progress=True` shows progress on stderr (what the CLI shows unless --quiet): a bar with the loss,
    the monitored metric and the ETA on a terminal, a plain line every 10 s otherwise, and a line saying
    where a resumed run continues. The default is silent, like Keras' `verbose=0`.
    """
    overrides = {k: dict(v) for k, v in (overrides or {}).items()}
    if seed is not None:
        overrides.setdefault("run", {})["seed"] = seed
    if device is not None:
        overrides.setdefault("run", {})["device"] = device
    if init_from is not None:
        overrides.setdefault("run", {})["init_from"] = str(init_from)
    if freeze is not None:
        overrides.setdefault("run", {})["freeze"] = freeze
    return fit(RECIPES.get(recipe), overrides, out=out, resume=resume, progress=progress)


@dataclass
class LoadedRun:
    """A trained run read back from its directory: the live `Run` plus what predicting needs."""

    run: Run
    meta: DataMeta | None
    step: int

    @property
    def model(self) -> torch.nn.Module:
        return self.run.model

    def evaluate(self, split: str | None = None) -> dict[str, float]:
        """The method's evaluation metrics (e.g. val/acc, test/loss); with `split` ("val", "test", "eval"...)
        only that split's."""
        metrics = {k: float(v) for k, v in self.run.method.evaluate().items()}
        if split is None:
            return metrics
        splits = sorted({k.split("/")[0] for k in metrics if "/" in k})
        if split not in splits:
            raise UserError(f"split {split!r}: this run's evaluation has no such split; its splits: "
                            f"{', '.join(splits) or 'none'}")
        return {k: v for k, v in metrics.items() if k.startswith(f"{split}/")}

    def preprocess(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw inputs (pixels 0..255 or CSV features) -> the normalised tensors the model was trained on.

        Missing features (NaN) get the training rows' column means where the run was trained with
        `--data.missing mean`, as its training data did."""
        meta = self.meta
        x = raw.float()
        if meta.fill:
            x = torch.where(x.isnan(), torch.tensor(meta.fill), x)
        x = x / meta.pixel_scale
        mean, std = torch.as_tensor(meta.mean), torch.as_tensor(meta.std)
        return ((x - mean) / std).to(self.run.data.device)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, K) for already preprocessed inputs."""
        expected = tuple(self.meta.input_shape)
        if tuple(x.shape[1:]) != expected:
            raise UserError(f"inputs of shape {tuple(x.shape[1:])} do not match the model's {expected}")
        return self.run.method.predict_proba(x)


def load(run_dir: str | Path, *, with_data: bool = True, checkpoint: int | str = "latest") -> LoadedRun:
    """Rebuild a run from its directory and load one of its checkpoints; prints nothing.

    `checkpoint` is "latest" (the newest), "best" (the best value of the recipe's monitored metric, e.g.
    val/acc, kept apart from pruning) or a step number. `with_data=False` skips reading the training data
    (for predicting, when that data may have moved): the model and method are built from the shapes saved
    in config.json, and `evaluate` is unavailable.
    """
    run_dir = Path(run_dir)
    recipe, sections, meta = load_config(run_dir)
    if checkpoints.latest_step(run_dir / "checkpoints") is None:
        raise UserError(f"{run_dir}: no checkpoint to load")
    step, state = checkpoints.load(run_dir / "checkpoints", checkpoint)  # before building: a wrong step fails fast
    data = None if with_data or not meta else SupervisedData.shape_only(DataMeta.from_dict(meta))
    run = build(recipe, sections, run_dir, data=data, total_steps=saved_total_steps(run_dir))
    run.method.load_state_dict(state["method"])
    run.step = step
    run.metrics = dict(state.get("latest", {}))
    return LoadedRun(run=run, meta=DataMeta.from_dict(meta) if meta else None, step=step)


def create_model(name: str, **config: Any) -> torch.nn.Module:
    """A registered model built from its default config with `config` fields changed."""
    entry = MODELS.get(name)
    return entry.cls(override(entry.config(), config, "model"))


def list_recipes(family: str | None = None) -> list[str]:
    """Names of the registered recipes, all or one family's (`cnn`, `mlp`, `rl`, ...)."""
    return [name for name, r in RECIPES.items() if family is None or r.family == family]


def list_models(family: str | None = None) -> list[str]:
    """Names of the registered architectures, all or one family's, as `create_model` takes them."""
    return [name for name, m in MODELS.items() if family is None or m.family == family]


def _shapes(example: Any) -> tuple:
    """An example input's shape; a tuple of shapes for a model that takes several inputs (source and target)."""
    return tuple(_shapes(x) for x in example) if isinstance(example, tuple) else tuple(example.shape)


def model_info(name: str) -> dict[str, Any]:
    """What a registered architecture is: family, paper, its config fields (default and doc), the shape of an
    example input and its number of parameters at the default config."""
    from neuralab.config import describe

    entry = MODELS.get(name)
    cfg = entry.config()
    model = entry.cls(cfg)
    return {"name": name, "family": entry.family, "paper": entry.paper,
            "config": {field: {"type": tp, "default": value, "doc": doc} for field, tp, value, doc in describe(cfg)},
            "example_input_shape": _shapes(entry.example_input(cfg)),
            "parameters": sum(p.numel() for p in model.parameters())}

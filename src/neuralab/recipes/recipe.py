"""A recipe: one complete, reproducible setup (model, method, data, configs) and the result it must reach."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neuralab.config import RunConfig, override
from neuralab.registry import DATA, METHODS, MODELS, RECIPES

OPS = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}


@dataclass(frozen=True)
class Recipe:
    name: str
    family: str
    summary: str
    curriculum: str  # IDs of ../shared/curriculum.md, e.g. "C2"
    model: str
    method: str
    data: str
    # Changes to the registered component's default config, as {field: value}: a recipe file stays a
    # declaration that imports no torch, so `neuralab list` answers at once; they are checked on resolve.
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    method_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    data_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    run: RunConfig = RunConfig()
    expect: dict[str, tuple[str, float]] = dataclasses.field(default_factory=dict)
    monitor: str = ""  # metric for early stopping and "best"; defaults to the first `expect` key
    mode: str = "max"
    fast_variant_of: str = ""  # set on quick CPU variants of a full recipe
    # The paper's setting for GPUs, as overrides {section: {field: value}} applied by `--run.full` (input size,
    # width, optimiser, schedule, epochs); the recipe's own fields are its CPU variant.
    full: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def sections(self) -> dict[str, Any]:
        """The four config sections with defaults filled in."""
        return {
            "run": self.run,
            "model": override(MODELS.get(self.model).config(), self.model_config, "model"),
            "method": override(METHODS.get(self.method).config(), self.method_config, "method"),
            "data": override(DATA.get(self.data).config(), self.data_config, "data"),
        }

    @property
    def monitor_key(self) -> str:
        return self.monitor or next(iter(self.expect), "")

    def check(self, metrics: dict[str, float]) -> dict[str, dict[str, Any]]:
        """Each expected metric with the measured value and whether it holds."""
        out = {}
        for key, (op, target) in self.expect.items():
            value = metrics.get(key)
            out[key] = {"op": op, "target": target, "value": value,
                        "ok": value is not None and OPS[op](value, target)}
        return out


def register(recipe: Recipe) -> Recipe:
    RECIPES.add(recipe.name, recipe)
    return recipe

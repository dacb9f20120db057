"""A recipe: one complete, reproducible setup (model, method, data, configs) and the result it must reach."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from neuralab.config import RunConfig
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
    model_config: Any = None  # None: the model's defaults
    method_config: Any = None
    data_config: Any = None
    run: RunConfig = RunConfig()
    expect: dict[str, tuple[str, float]] = dataclasses.field(default_factory=dict)
    monitor: str = ""  # metric for early stopping and "best"; defaults to the first `expect` key
    mode: str = "max"
    fast_variant_of: str = ""  # set on quick CPU variants of a full recipe

    def sections(self) -> dict[str, Any]:
        """The four config sections with defaults filled in."""
        return {
            "run": self.run,
            "model": self.model_config or MODELS.get(self.model).config(),
            "method": self.method_config or METHODS.get(self.method).config(),
            "data": self.data_config or DATA.get(self.data).config(),
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

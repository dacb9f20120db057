"""Typed registries for models, methods, data sources and recipes; a duplicate name is an error.

Registration records what the contract tests and the CLI need (family, config type, an example input),
so no per-model code is needed elsewhere.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from neuralab.errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> entry mapping that refuses duplicates and suggests close names on a miss."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group  # which modules register entries: "recipes" or "components"
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> None:
        if name in self._entries:
            raise ValueError(f"duplicate {self.kind} name {name!r}")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        _load(self.group)
        if name not in self._entries:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `neuralab list`"
            raise UserError(f"unknown {self.kind} {name!r}{hint}")
        return self._entries[name]

    def names(self) -> list[str]:
        _load(self.group)
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        _load(self.group)
        return sorted(self._entries.items())


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    cls: type
    config: type
    example_input: Callable[[Any], Any]
    paper: str
    sizing: Callable[..., Any]  # (config, data meta, explicit overrides) -> config sized by the data


@dataclass(frozen=True)
class ComponentEntry:
    """A method or a data source: a constructor and the config dataclass it takes."""

    name: str
    build: Callable[..., Any]
    config: type


# Recipes are declarations that import no torch; the components they name load on first use.
MODELS: Registry[ModelEntry] = Registry("model", "components")
METHODS: Registry[ComponentEntry] = Registry("method", "components")
DATA: Registry[ComponentEntry] = Registry("data source", "components")
RECIPES: Registry[Any] = Registry("recipe", "recipes")


def register_model(name: str, *, family: str, config: type, example_input: Callable[[Any], Any],
                   sizing: Callable[..., Any], paper: str = "") -> Callable[[type], type]:
    """Class decorator: `cls(config)` builds the model, `example_input(config)` feeds it, `sizing` (a rule of
    `neuralab.models.sizing`) fits its config to the data."""

    def wrap(cls: type) -> type:
        MODELS.add(name, ModelEntry(name, family, cls, config, example_input, paper, sizing))
        return cls

    return wrap


def register_method(name: str, *, config: type) -> Callable[[T], T]:
    def wrap(build: T) -> T:
        METHODS.add(name, ComponentEntry(name, build, config))  # type: ignore[arg-type]
        return build

    return wrap


def register_data(name: str, *, config: type) -> Callable[[T], T]:
    def wrap(build: T) -> T:
        DATA.add(name, ComponentEntry(name, build, config))  # type: ignore[arg-type]
        return build

    return wrap


_GROUPS = {
    "recipes": ("neuralab.recipes",),
    "components": ("neuralab.data", "neuralab.methods", "neuralab.models", "neuralab.experiments"),
}
_loaded: set[str] = set()


def _load(group: str) -> None:
    """Import (once) every module that registers entries of `group`."""
    if group in _loaded:
        return
    _loaded.add(group)
    for module in _GROUPS[group]:
        importlib.import_module(module)

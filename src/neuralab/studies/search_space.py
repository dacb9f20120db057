"""Search spaces from the command line (Bergstra, Bengio, "Random Search for Hyper-Parameter Optimization", 2012).

One `--param` names a config field and the values to try:

    section.field=log:LO:HI      log-uniform floats in [LO, HI] (LO > 0), e.g. method.lr=log:1e-4:1e-1
    section.field=float:LO:HI    uniform floats in [LO, HI]
    section.field=int:LO:HI      integers LO..HI
    section.field=choice:A,B,C   one of the listed values; `choice:` may be left out (lr=1e-3,1e-2)

A bare field (`lr`) means the one section that has it; a field two sections share must be written with its
section. Tuple values are written in parentheses inside a choice: `model.hidden=choice:(64,64),(128,)`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from neuralab.config import override
from neuralab.errors import UserError

KINDS = ("log", "float", "int", "choice")
SYNTAX = "FIELD=log:LO:HI | float:LO:HI | int:LO:HI | choice:A,B,C"


@dataclass(frozen=True)
class ParamSpec:
    """One searched field: where it lives and the values it may take."""

    section: str
    name: str
    kind: str  # one of KINDS
    low: float = 0.0
    high: float = 0.0
    choices: tuple[Any, ...] = ()
    text: str = ""  # as the user wrote it, for messages and the study's record

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}"

    @property
    def count(self) -> int | None:
        """How many distinct values the field may take; None for a continuous range."""
        if self.kind == "choice":
            return len(self.choices)
        if self.kind == "int":
            return int(self.high - self.low) + 1
        return None

    def suggest(self, trial: Any) -> Any:
        """This field's value for an Optuna trial."""
        if self.kind in ("log", "float"):
            return trial.suggest_float(self.key, self.low, self.high, log=self.kind == "log")
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high))
        return trial.suggest_categorical(self.key, list(self.choices))

    def grid(self, points: int) -> list[Any]:
        """Values a grid search tries: the choices, or `points` values spread over the range."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "log":
            return [float(v) for v in np.geomspace(self.low, self.high, points)]
        if self.kind == "float":
            return [float(v) for v in np.linspace(self.low, self.high, points)]
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high, points)})


def split_top_level(text: str) -> list[str]:
    """'a,(1,2),b' -> ['a', '(1,2)', 'b']: commas inside brackets belong to the value."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _typed(value: str) -> Any:
    """'64' -> 64, '1e-3' -> 0.001, anything else stays a string (Optuna stores these types as they are)."""
    for convert in (int, float):
        try:
            return convert(value)
        except ValueError:
            pass
    return value


def resolve_field(name: str, sections: dict[str, Any], where: str) -> tuple[str, str]:
    """'method.lr' -> ('method', 'lr'); a bare 'lr' -> the one section with that field, else an error."""
    if "." in name:
        section, _, field_name = name.partition(".")
        if section not in sections:
            raise UserError(f"{where}: unknown config section {section!r}; sections are {', '.join(sections)}")
        if field_name not in {f.name for f in dataclasses.fields(sections[section])}:
            names = ", ".join(f.name for f in dataclasses.fields(sections[section]))
            raise UserError(f"{where}: {section} has no field {field_name!r}; its fields: {names}")
        return section, field_name
    owners = [s for s, cfg in sections.items() if name in {f.name for f in dataclasses.fields(cfg)}]
    if not owners:
        raise UserError(f"{where}: no config section has a field {name!r} (see `neuralab info RECIPE`)")
    if len(owners) > 1:
        raise UserError(f"{where}: {name!r} is a field of {' and '.join(owners)}; write "
                        f"{' or '.join(f'{s}.{name}' for s in owners)}")
    return owners[0], name


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise UserError(f"{where}: {text!r} is not a finite number")
    return value


def parse_param(text: str, sections: dict[str, Any]) -> ParamSpec:
    """Parse one `--param` (syntax in the module docstring) and check its values against the field's type."""
    where = f"--param {text}"
    name, eq, values = text.partition("=")
    if not eq or not name.strip() or not values.strip():
        raise UserError(f"{where}: expected {SYNTAX}")
    section, field_name = resolve_field(name.strip(), sections, where)
    kind, colon, rest = values.partition(":")
    if not colon or kind not in KINDS:
        if colon and kind.isalpha():
            raise UserError(f"{where}: unknown kind {kind!r}; expected {SYNTAX}")
        kind, rest = "choice", values
    if kind == "choice":
        choices = tuple(_typed(v) for v in split_top_level(rest))
        if not choices:
            raise UserError(f"{where}: no values given; expected {SYNTAX}")
        if len(set(map(str, choices))) != len(choices):
            raise UserError(f"{where}: a value is listed twice")
        spec = ParamSpec(section, field_name, kind, choices=choices, text=text)
        tried = [str(c) for c in choices]
    else:
        bounds = rest.split(":")
        if len(bounds) != 2:
            raise UserError(f"{where}: {kind} takes two bounds, {kind}:LO:HI")
        low, high = (_number(b, where) for b in bounds)
        if kind == "int" and not (low.is_integer() and high.is_integer()):
            raise UserError(f"{where}: int bounds must be whole numbers")
        if not low < high:
            raise UserError(f"{where}: the lower bound must be below the upper bound")
        if kind == "log" and low <= 0:
            raise UserError(f"{where}: a log range needs a lower bound above 0")
        spec = ParamSpec(section, field_name, kind, low=low, high=high, text=text)
        tried = [str(int(low)) if kind == "int" else str(low), str(int(high)) if kind == "int" else str(high)]
    for value in tried:  # the field's own type and bounds decide what is acceptable
        try:
            override(sections[section], {field_name: value}, section)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
    return spec


def parse_params(texts: Sequence[str], sections: dict[str, Any]) -> list[ParamSpec]:
    specs = [parse_param(t, sections) for t in texts]
    keys = [s.key for s in specs]
    for key in keys:
        if keys.count(key) > 1:
            raise UserError(f"--param: {key} is given twice")
    return specs


def as_overrides(values: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{'method.lr': 0.01} -> {'method': {'lr': '0.01'}}: strings, parsed by the field's own type."""
    out: dict[str, dict[str, str]] = {}
    for key, value in values.items():
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = str(value)
    return out


def space_size(specs: Sequence[ParamSpec]) -> int | None:
    """How many distinct configurations the specs allow; None when a continuous range makes them endless."""
    counts = [s.count for s in specs]
    return None if None in counts else math.prod(counts)


def candidates(specs: Sequence[ParamSpec]) -> list[dict[str, Any]]:
    """Every combination of the specs' choices (a full grid), as {'section.field': value} dicts."""
    for spec in specs:
        if spec.kind != "choice":
            raise UserError(f"--param {spec.text}: cross-validation takes a list of values "
                            f"(e.g. {spec.name}=1e-3,1e-2), not a {spec.kind} range")
    return [dict(zip([s.key for s in specs], combo, strict=True))
            for combo in itertools.product(*(s.choices for s in specs))]

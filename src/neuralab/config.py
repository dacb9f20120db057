"""Typed configuration: frozen dataclasses with a documented, validated field for every knob.

Every section a recipe has (``run``, ``model``, ``method``, ``data``) is one of these dataclasses, so the
CLI can list fields, parse ``--section.field VALUE`` overrides and reject bad values in one place.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import reprlib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neuralab.errors import UserError


def field(default: Any, doc: str, *, ge: float | None = None, gt: float | None = None,
          le: float | None = None, choices: Iterable[Any] | None = None, nonempty: bool = False,
          unique: bool = False) -> Any:
    """A dataclass field with a docstring and optional checks run by `validate`.

    `ge`, `gt`, `le` bound a number; `choices` lists the allowed values (a dict's keys count). On a tuple or
    list field each bound and `choices` apply to every element, `nonempty` refuses an empty one and `unique`
    refuses an element given twice. A list or dict default is copied for each instance, so no two configs
    share (and mutate) one object.
    """
    meta = {"doc": doc, "ge": ge, "gt": gt, "le": le, "choices": None if choices is None else tuple(choices),
            "nonempty": nonempty, "unique": unique}
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Bare(str):
    """The value of a command-line override given without one (`--run.full`): true for a yes/no field, while any
    other field says it needs a value. A str equal to "true", so it is stored and shown like a typed one."""


BARE = Bare("true")
AMP_CHOICES = ("off", "on", "auto")
_SWITCH = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}


def absolute_path(value: str) -> str:
    """A path field's value made absolute (`~` expanded), as config.json keeps it so that a resumed or loaded run
    finds the file from any folder; `~user` of a user that does not exist is one line."""
    try:
        return str(Path(value).expanduser().absolute())
    except RuntimeError:  # pathlib: "Could not determine home directory"
        raise UserError(f"{value}: no such user's home directory to expand") from None


@dataclass(frozen=True)
class RunConfig:
    """Settings of the engine shared by every recipe."""

    seed: int = field(0, "Seed of every random number generator of the run.")
    steps: int = field(0, "Number of training steps; 0 means `epochs` full passes over the data.", ge=0)
    epochs: float = field(1.0, "Passes over the training data when `steps` is 0.", gt=0)
    device: str = field("auto", "Where to run: auto, cpu, cuda, cuda:N or mps.")
    deterministic: bool = field(False, "Ask torch for deterministic algorithms (slower on GPU).")
    eval_every: int = field(0, "Evaluate every N steps; 0 means once per epoch (or episode block).", ge=0)
    checkpoint_every: int = field(0, "Write a checkpoint every N steps; 0 means at every evaluation.", ge=0)
    patience: int = field(0, "Stop after this many evaluations without improvement; 0 disables.", ge=0)
    log_every: int = field(50, "Write train metrics every N steps.", ge=1)
    tensorboard: bool = field(False, "Also write the metrics (scalars) and plots (images) for TensorBoard under "
                                     "RUN_DIR/tensorboard (needs the tensorboard package).")
    threads: int = field(0, "CPU threads for torch; 0 keeps torch's default.", ge=0)
    amp: str = field("off", "bfloat16 autocast around forward passes and losses: off, on, or auto (on where the "
                            "device computes bf16 natively: CPUs with AVX512-BF16 or AMX, GPUs with bf16).",
                     choices=AMP_CHOICES)
    compile: bool = field(False, "torch.compile the model (Inductor: needs a C++ compiler on CPU, Triton on GPU).")
    full: bool = field(False, "Train the recipe's full setting for GPUs (the paper's input size, network, "
                              "schedule and epochs; `neuralab info RECIPE` lists it) instead of its CPU variant.")
    channels_last: bool = field(False, "Keep conv weights and activations in channels-last (NHWC) memory order, "
                                       "which oneDNN and cuDNN convolutions run faster on.")
    init_from: str | None = field(None, "Run directory whose best (else newest) checkpoint starts the model: every "
                                        "tensor whose name and shape match is loaded, the others keep their "
                                        "initialisation (a resumed run continues from its own checkpoint).")
    freeze: tuple[str, ...] = field((), "Parameter-name prefixes to freeze, comma list (e.g. features): "
                                        "requires_grad off and left out of the optimiser; batch norm under them "
                                        "stays in inference mode.", unique=True)

    def __post_init__(self) -> None:
        # Kept absolute in the run's config.json, so the record names the source from any folder.
        if self.init_from:
            object.__setattr__(self, "init_from", absolute_path(self.init_from))
        # `--amp`, `amp=True` and configs saved when amp was a yes/no switch mean "on"; false means "off".
        if isinstance(self.amp, bool) or str(self.amp).lower() in _SWITCH:
            object.__setattr__(self, "amp", _SWITCH[str(self.amp).lower()])


def describe(cfg: Any) -> list[tuple[str, str, Any, str]]:
    """(name, type, default/current value, doc) for every field of a config dataclass."""
    hints = typing.get_type_hints(type(cfg))
    return [(f.name, _type_name(hints[f.name]), getattr(cfg, f.name), f.metadata.get("doc", ""))
            for f in dataclasses.fields(cfg)]


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _parse(text: Any, tp: Any, where: str) -> Any:
    """Convert a CLI string (or a Python value) to the field's type, or explain why it cannot be."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if text is None or (isinstance(text, str) and text.lower() in ("none", "null", "")):
            return None
        return _parse(text, args[0], where)
    if isinstance(text, Bare) and tp is not bool:
        raise UserError(f"{where} needs a value")
    if origin in (tuple, list):
        (inner, *_) = typing.get_args(tp) or (str,)
        if isinstance(text, str):
            items = [t for t in text.replace("(", "").replace(")", "").replace("[", "").replace("]", "")
                     .split(",") if t.strip()]
        elif isinstance(text, tuple | list):
            items = list(text)
        else:
            raise UserError(f"{where}: expected a list, got {reprlib.repr(text)}")
        parsed = [_parse(i.strip() if isinstance(i, str) else i, inner, where) for i in items]
        return tuple(parsed) if origin is tuple else parsed
    if tp is bool:
        if isinstance(text, bool):
            return text
        low = str(text).lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise UserError(f"{where}: expected true or false, got {reprlib.repr(text)}")
    if tp is int:
        if isinstance(text, bool):
            raise UserError(f"{where}: expected an integer, got {reprlib.repr(text)}")
        try:
            value = float(text) if isinstance(text, str) else text
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise UserError(f"{where}: expected an integer, got {reprlib.repr(text)}") from None
    if tp is float:
        try:
            return float(text)
        except (TypeError, ValueError):
            raise UserError(f"{where}: expected a number, got {reprlib.repr(text)}") from None
    if tp is str:
        return str(text)
    if tp is dict or typing.get_origin(tp) is dict:
        if isinstance(text, dict):
            return text
        try:
            return dict(json.loads(text))
        except (ValueError, TypeError):
            raise UserError(f"{where}: expected a JSON object, got {reprlib.repr(text)}") from None
    raise UserError(f"{where}: cannot set a field of type {tp}")


def validate(cfg: Any, section: str = "") -> None:
    """Check every constrained field of `cfg`; raise `UserError` naming the field and what is allowed."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        where = f"--{section}.{f.name}" if section else f.name
        if isinstance(value, tuple | list):
            _check_items(value, f.metadata, where)
        elif value is not None and not isinstance(value, bool):
            _check_value(value, f.metadata, where)


def _check_value(value: Any, m: Mapping[str, Any], where: str) -> None:
    if m.get("choices") is not None and value not in m["choices"]:
        raise UserError(f"{where}: {reprlib.repr(value)} is not one of {', '.join(map(str, m['choices']))}")
    if isinstance(value, int | float):
        if m.get("ge") is not None and value < m["ge"]:
            raise UserError(f"{where}: must be >= {m['ge']}, got {value}")
        if m.get("gt") is not None and value <= m["gt"]:
            raise UserError(f"{where}: must be > {m['gt']}, got {value}")
        if m.get("le") is not None and value > m["le"]:
            raise UserError(f"{where}: must be <= {m['le']}, got {value}")


def _check_items(values: tuple | list, m: Mapping[str, Any], where: str) -> None:
    """The checks of a tuple or list field: non-empty, each element among `choices`, no repeats, bounds."""
    choices = m.get("choices")
    allowed = f"; choose from {', '.join(map(str, choices))}" if choices is not None else ""
    if m.get("nonempty") and not values:
        raise UserError(f"{where}: give at least one value{allowed}")
    if choices is not None:
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise UserError(f"{where}: unknown {', '.join(map(str, unknown))}{allowed}")
    if m.get("unique"):
        repeated = list(dict.fromkeys(v for i, v in enumerate(values) if v in values[:i]))
        if repeated:
            raise UserError(f"{where}: {', '.join(map(str, repeated))} given more than once; give each once")
    for i, v in enumerate(values):
        if isinstance(v, int | float) and not isinstance(v, bool):
            _check_value(v, {k: m.get(k) for k in ("ge", "gt", "le")}, f"{where}[{i}]")


def override(cfg: Any, changes: dict[str, Any], section: str = "") -> Any:
    """Return a copy of `cfg` with `changes` applied (values may be CLI strings), validated."""
    hints = typing.get_type_hints(type(cfg))
    names = [f.name for f in dataclasses.fields(cfg)]
    parsed = {}
    for key, raw in changes.items():
        where = f"--{section}.{key}" if section else key
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise UserError(f"unknown field {where}{hint}; fields of {section or 'this section'}: "
                            f"{', '.join(names)}")
        parsed[key] = _parse(raw, hints[key], where)
    new = dataclasses.replace(cfg, **parsed)
    validate(new, section)
    return new


def merge_overrides(base: dict[str, dict[str, Any]], extra: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Overrides {section: {field: value}} of `base`, with `extra`'s fields taking precedence."""
    merged = {k: dict(v) for k, v in base.items()}
    for section, changes in extra.items():
        merged.setdefault(section, {}).update(changes)
    return merged


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config dataclass from `to_dict` output (JSON turns tuples into lists)."""
    if not isinstance(data, dict):
        raise UserError(f"{cls.__name__}: expected an object of fields, got {reprlib.repr(data)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _parse(data[f.name], hints[f.name], f.name)
    return cls(**kwargs)

"""How a model takes its sizes from the data it is trained on: each model registers one of these rules.

A rule reads the data's `DataMeta` (input shape, classes) and returns the model config with the sizes the
data decides; a size the user set explicitly (`--model.num_classes 3`) that contradicts the data is refused
with one line. Models without such a rule (a Q-table sized by its environment) keep their config.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neuralab.config import override
from neuralab.errors import UserError

if TYPE_CHECKING:
    from neuralab.data.tensors import DataMeta

Sizing = Callable[[Any, "DataMeta", dict[str, Any]], Any]  # (config, meta, explicit overrides) -> config


def _classes(meta: DataMeta, cfg: Any) -> int | None:
    if not meta.num_classes:
        return None  # regression: the output width is the recipe's
    if meta.num_classes == 2 and cfg.num_classes == 1:
        return 1  # one sigmoid output is a two-class classifier (loss bce)
    return meta.num_classes


def _apply(cfg: Any, meta: DataMeta, explicit: dict[str, Any], sizes: dict[str, int | None]) -> Any:
    names = {f.name for f in dataclasses.fields(cfg)}
    changes = {}
    for name, value in sizes.items():
        if name not in names or value is None or value == getattr(cfg, name):
            continue
        if name in explicit:
            raise UserError(f"--model.{name} {explicit[name]} does not match the data ({meta.source}: "
                            f"{name} = {value})")
        changes[name] = value
    return override(cfg, changes, "model") if changes else cfg


def flat_inputs(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """Feature vectors or flattened images: `in_features` = the product of the input shape."""
    sizes = {"in_features": math.prod(meta.input_shape)}
    if hasattr(cfg, "num_classes"):
        sizes["num_classes"] = _classes(meta, cfg)
    return _apply(cfg, meta, explicit, sizes)


def conditional_flat_inputs(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """Flattened inputs for a model that is conditioned on the class only when asked (a conditional VAE): as
    `flat_inputs`, but `num_classes` follows the data only when the config's is > 0; 0 (unconditional) stays 0."""
    sizes = {"in_features": math.prod(meta.input_shape)}
    if cfg.num_classes:
        if not meta.num_classes:
            raise UserError(f"this conditional model needs class labels, but {meta.source} has none; set "
                            "--model.num_classes 0 for an unconditional one")
        sizes["num_classes"] = meta.num_classes
    return _apply(cfg, meta, explicit, sizes)


def images(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """Square images (C, H, W): `in_channels`, `image_size` and `num_classes`; feature rows are refused."""
    if len(meta.input_shape) != 3:
        raise UserError(f"this recipe's model takes images (channels, height, width), but {meta.source} holds "
                        f"rows of {math.prod(meta.input_shape)} features; train a recipe with an MLP on it "
                        "(e.g. mlp-mnist), or give a folder of images")
    channels, height, _ = meta.input_shape
    return _apply(cfg, meta, explicit, {"in_channels": channels, "image_size": height,
                                        "num_classes": _classes(meta, cfg)})


def sequences(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """Sequences (C, L): `in_channels`, `length` and `num_classes`; a feature row (F,) is one channel of length F
    (a CSV of sampled signals); images are refused."""
    shape = list(meta.input_shape)
    if len(shape) == 1:
        shape = [1, *shape]
    if len(shape) != 2:
        raise UserError(f"this recipe's model takes sequences (channels, length), but {meta.source} holds inputs "
                        f"of shape {tuple(meta.input_shape)}; train a recipe with an image model on it "
                        "(e.g. lenet5-mnist)")
    channels, length = shape
    return _apply(cfg, meta, explicit, {"in_channels": channels, "length": length,
                                        "num_classes": _classes(meta, cfg)})


def tokens(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """Token ids (text, neuralab.data.vocab): `vocab_size` from the vocabulary, `target_vocab_size` from a translation
    set's target vocabulary and `num_classes` where the model has them; images and feature rows are refused."""
    if meta.kind != "text":
        raise UserError(f"this recipe's model reads text (token ids), but {meta.source} holds {meta.kind}; train a "
                        "recipe made for that data")
    sizes = {"vocab_size": len(meta.vocab), "target_vocab_size": len(meta.target_vocab) or None}
    if hasattr(cfg, "num_classes"):
        sizes["num_classes"] = _classes(meta, cfg)
    return _apply(cfg, meta, explicit, sizes)


def _target_length(meta: DataMeta) -> int | None:
    return meta.target_shape[0] if meta.target_shape else None


def forecasts(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """Windows of a series (C, L) -> its next values: `in_channels` and `length` as for `sequences`, `horizon`
    from the targets' length."""
    cfg = sequences(cfg, meta, explicit)
    return _apply(cfg, meta, explicit, {"horizon": _target_length(meta)})


def vector_to_sequence(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """A feature vector (F,) -> a sequence (one-to-many): `in_features` from the input, `steps` from the targets'
    length."""
    if len(meta.input_shape) != 1:
        raise UserError(f"this recipe's model generates a sequence from one vector, but {meta.source} holds inputs "
                        f"of shape {tuple(meta.input_shape)}; give rows of features")
    return _apply(cfg, meta, explicit, {"in_features": meta.input_shape[0], "steps": _target_length(meta)})


def unsized(cfg: Any, meta: DataMeta, explicit: dict[str, Any]) -> Any:
    """A model whose sizes do not come from a data set's meta (tabular RL, fixed toy objectives)."""
    return cfg

"""The one harness of the side-by-side lessons: N variants of the recipe's setup that differ by config
changes, each built the way a normal run is built and trained by the real learning rule, on one shared
batch order.

A variant is a name plus changes to the model config and to the rule's config (and, for transfer lessons,
a run to start from and parameters to freeze, applied by `neuralab.transfer` as --init-from/--freeze are).
Each variant's network is built from the registered model with those changes, initialised from the run's
seed inside a forked generator (so variants with the same architecture start from the same weights, and the
global generator that the engine checkpoints is not touched), prepared by the run context (device,
channels-last, compile, DDP) and handed to the registered rule (`supervised` by default), so augmentation,
penalties, clipping, autocast and closures apply exactly as in a single run. Metrics are named
VARIANT/SPLIT/NAME.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import override
from neuralab.contracts import DataSource, Method, RunContext
from neuralab.errors import UserError
from neuralab.registry import METHODS, MODELS
from neuralab.transfer import Transfer
from neuralab.transfer import prepare as prepare_transfer


@dataclass(frozen=True)
class Variant:
    """One arm of a comparison: its name and its differences from the recipe's configs."""

    name: str
    model: dict[str, Any] = dataclasses.field(default_factory=dict)  # changes to the model config
    rule: dict[str, Any] = dataclasses.field(default_factory=dict)  # changes to the rule's config
    init_from: str | None = None  # a run whose matching weights start this variant (`neuralab.transfer`)
    freeze: tuple[str, ...] = ()  # parameter-name prefixes this variant does not train
    model_name: str = ""  # another registered model than the recipe's, sized by the data the same way


def seeded_network(model_name: str, cfg: Any, seed: int) -> nn.Module:
    """The registered model `model_name` built from `cfg` and initialised from `seed`, without touching the
    global generator the engine checkpoints."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MODELS.get(model_name).cls(cfg)


class Sweep:
    """Variants trained side by side by one registered rule; `rules[name]` is each variant's live method."""

    def __init__(self, variants: Iterable[Variant], data: DataSource, ctx: RunContext, *, method: str,
                 rule: str = "supervised", rule_config: Any = None) -> None:
        variants = list(variants)
        if not variants or len({v.name for v in variants}) != len(variants):
            raise UserError(f"method {method}: give at least one variant, each name once")
        entry = METHODS.get(rule)
        base_rule = rule_config if rule_config is not None else entry.config()
        self.networks: dict[str, nn.Module] = {}
        self.transfers: dict[str, Transfer] = {}  # what each transferred variant loaded, skipped and froze
        self.rules: dict[str, Method] = {}
        for v in variants:
            model_name, base = ctx.model_name, ctx.model_config
            if v.model_name and v.model_name != ctx.model_name:
                other = MODELS.get(v.model_name)
                model_name, base = v.model_name, other.sizing(other.config(), data.meta, {})
            unknown = [k for k in v.model if not hasattr(base, k)]
            if unknown:
                raise UserError(f"method {method}: model {model_name} has no field {', '.join(unknown)}; "
                                "this lesson needs a model that has them, such as mlp")
            cfg = override(base, v.model, "model")
            net = seeded_network(model_name, cfg, ctx.seed)
            if v.init_from or v.freeze:  # the path of --init-from/--freeze, before the rule builds its optimiser
                self.transfers[v.name] = prepare_transfer(net, v.init_from, v.freeze)
            net = ctx.prepare(net)
            self.networks[v.name] = net
            self.rules[v.name] = entry.build(override(base_rule, v.rule, "method"), net, data, ctx)
        self.variants = {v.name: v for v in variants}

    def step(self, batch: Any) -> dict[str, Any]:
        """One step of every variant's rule on the same batch -> {"VARIANT/train/loss": ...}."""
        return {f"{name}/{k}": v for name, rule in self.rules.items() for k, v in rule.step(batch).items()}

    def evaluate(self) -> dict[str, float]:
        return {f"{name}/{k}": v for name, rule in self.rules.items() for k, v in rule.evaluate().items()}

    def state_dict(self) -> dict[str, Any]:
        return {name: rule.state_dict() for name, rule in self.rules.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, rule in self.rules.items():
            rule.load_state_dict(state[name])


def plot_variants(curves: dict[str, tuple[list[float], list[float]]], path: Path, *, title: str, xlabel: str,
                  ylabel: str, log_y: bool = False, styles: dict[str, str] | None = None) -> Path:
    """One line per variant, {name: (xs, ys)}, with labelled axes: the plot every lesson draws."""
    import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

    from neuralab.viz.curves import save_figure

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, (name, (xs, ys)) in enumerate(curves.items()):
        ax.plot(xs, ys, (styles or {}).get(name, "-"), color=f"C{i % 10}", label=name,
                marker="o" if len(xs) < 30 else None, ms=3)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, framealpha=0.8)
    return save_figure(fig, path)

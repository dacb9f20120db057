"""`transfer-compare`: fine-tuning a network trained on one data set against the same network trained from
scratch on a few labels of another (curriculum C4; Yosinski, Clune, Bengio, Lipson, "How transferable are
features in deep neural networks?", 2014).

The source is a finished run (`--method.source RUN_DIR`), or one this lesson trains first into
RUN_DIR/source through the engine (by default `lenet5-mnist`, for as many steps as the variants train).
Three variants of the recipe's model then train side by side on the recipe's (small) training set, on the
same batches, from the same seed, with the same rule, for the same steps: `scratch` from its
initialisation, `finetune` from the source's matching weights, and `frozen` from them too but with the
feature extractor frozen (only the layers after it train). The weights are loaded and frozen by
`neuralab.transfer`, the code behind `neuralab train --init-from RUN_DIR --freeze PREFIX`.

Metrics: VARIANT/test/acc, and each transferred variant's test-accuracy gain over scratch at the end
(compare/test/finetune_gain, compare/test/frozen_gain) and at the first evaluation (`_head_start`): how
much of the source's knowledge carries over, and how long it takes the scratch net to catch up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab import checkpoint
from neuralab.config import absolute_path, field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.experiments.sweep import Sweep, Variant, plot_variants
from neuralab.methods.optim import OPTIMIZERS
from neuralab.methods.supervised import SupervisedConfig
from neuralab.registry import RECIPES, register_method

VARIANTS = ("scratch", "finetune", "frozen")


@dataclass(frozen=True)
class TransferCompareConfig:
    source: str | None = field(None, "A finished run to start the transferred variants from (e.g. a run of "
                                     "lenet5-mnist); empty: train one into RUN_DIR/source first (the fields "
                                     "below).")
    source_recipe: str = field("lenet5-mnist", "Recipe of the source run this lesson trains when `source` is "
                                               "empty; its model must share layer names and shapes with this one.")
    source_steps: int = field(0, "Training steps of that source run; 0: as many as this run trains each variant.",
                              ge=0)
    source_batch_size: int = field(128, "Examples per step of that source run.", ge=1)
    freeze: tuple[str, ...] = field(("features",), "Parameter-name prefixes the frozen variant keeps fixed (the "
                                                   "feature extractor; the layers after it train).", nonempty=True)
    optimizer: str = field("adam", "Optimiser of every variant.", choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate of every variant.", gt=0)
    eval_batch_size: int = field(2000, "Examples per forward pass when evaluating.", ge=1)

    def __post_init__(self) -> None:
        if self.source:  # absolute in config.json, so a resumed or loaded run finds it from any folder
            object.__setattr__(self, "source", absolute_path(self.source))


def source_run(cfg: TransferCompareConfig, ctx: RunContext) -> Path:
    """The source run directory: `cfg.source`, or RUN_DIR/source, trained (or finished) here when incomplete.

    The source run is an ordinary run of `cfg.source_recipe` through the engine, with this run's seed and
    device; it draws from a forked random generator, so this run's own randomness does not depend on
    whether its source had to be trained."""
    if cfg.source:
        return Path(cfg.source)
    RECIPES.get(cfg.source_recipe)  # an unknown recipe is named before anything is trained
    if ctx.run_dir is None or ctx.procs is not None:
        raise UserError("transfer-compare trains its source in a single process with a run directory; train the "
                        "source first and pass it as --method.source RUN_DIR")
    out = ctx.run_dir / "source"
    if not (out / "summary.json").exists():  # not yet trained, or interrupted: train or finish it
        from neuralab.engine import fit

        steps = cfg.source_steps or ctx.total_steps
        overrides = {"run": {"steps": steps, "seed": ctx.seed, "device": str(ctx.device)},
                     "data": {"batch_size": cfg.source_batch_size}}
        with torch.random.fork_rng():
            fit(cfg.source_recipe, overrides, out=out, progress=False,
                resume=checkpoint.latest_step(out / "checkpoints") is not None)
    return out


@register_method("transfer-compare", config=TransferCompareConfig)
class TransferCompare(Method):
    """Each step: one step of scratch, finetune and frozen on the same batch."""

    def __init__(self, cfg: TransferCompareConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.data = cfg, data
        self.source = source_run(cfg, ctx)
        source = str(self.source)
        variants = [Variant("scratch"), Variant("finetune", init_from=source),
                    Variant("frozen", init_from=source, freeze=cfg.freeze)]
        rule = SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr, schedule="none",
                                eval_batch_size=cfg.eval_batch_size)
        self.sweep = Sweep(variants, data, ctx, method="transfer-compare", rule_config=rule)
        self.steps = 0
        self.first: dict[str, float] = {}  # the step of the first evaluation and each variant's test/acc there
        self.done = False

    def step(self, batch: Any) -> dict[str, Any]:
        self.steps += 1
        return self.sweep.step(batch)

    def evaluate(self) -> dict[str, float]:
        """Each variant's metrics, and the gain of each transferred variant over scratch in test accuracy: now
        (`_gain`) and at the first evaluation (`_head_start`)."""
        metrics = {k: float(v) for k, v in self.sweep.evaluate().items()}
        if not self.first:
            self.first = {"step": self.steps, **{name: metrics[f"{name}/test/acc"] for name in VARIANTS}}
        for name in VARIANTS[1:]:
            metrics[f"compare/test/{name}_gain"] = metrics[f"{name}/test/acc"] - metrics["scratch/test/acc"]
            metrics[f"compare/test/{name}_head_start"] = self.first[name] - self.first["scratch"]
        return metrics

    def _source_summary(self) -> str:
        """"a run of RECIPE (N steps, test/acc X)" from the source's own files."""
        config = json.loads((self.source / "config.json").read_text())
        summary_path = self.source / "summary.json"
        if not summary_path.exists():
            return f"a run of {config['recipe']}"
        summary = json.loads(summary_path.read_text())
        acc = summary["metrics"].get("test/acc")
        shown = "" if acc is None else f", test/acc {acc:.4f}"
        return f"a run of {config['recipe']} ({summary['step']} steps{shown})"

    def report(self, run_dir: Path | None = None) -> str:
        metrics = self.evaluate()
        transfer = self.sweep.transfers["finetune"]
        trainable = {name: sum(p.numel() for p in net.parameters() if p.requires_grad)
                     for name, net in self.sweep.networks.items()}
        starts = {"scratch": "its initialisation", "finetune": "source weights", "frozen": "source weights"}
        first, now = int(self.first["step"]), self.steps
        lines = [f"Transfer to {len(self.data.x_train):,} training examples; source: {self._source_summary()}, "
                 f"{transfer.checkpoint}: {len(transfer.loaded)} tensors loaded, {len(transfer.skipped)} skipped. "
                 f"Test accuracy on {len(self.data.split('test')[1]):,} examples after {first} and {now} steps "
                 f"(gain: minus scratch's):", "",
                 f"| variant | starts from | frozen | trainable parameters | step {first} | gain | step {now} | gain |",
                 "|---|---|---|---|---|---|---|---|"]
        for name in VARIANTS:
            frozen = ", ".join(self.sweep.transfers[name].freeze) if name in self.sweep.transfers else ""
            early, late = ("-", "-") if name == "scratch" else (
                f"{metrics[f'compare/test/{name}_head_start']:+.4f}", f"{metrics[f'compare/test/{name}_gain']:+.4f}")
            lines.append(f"| {name} | {starts[name]} | {frozen or '-'} | {trainable[name]:,} | "
                         f"{self.first[name]:.4f} | {early} | {metrics[f'{name}/test/acc']:.4f} | {late} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/transfer.png: test accuracy of each variant at every evaluation."""
        log = plots_dir.parent / "metrics.jsonl"
        if not log.exists():
            return []
        rows = [json.loads(line) for line in log.read_text().splitlines()]
        curves = {name: ([r["step"] for r in rows if f"{name}/test/acc" in r],
                         [r[f"{name}/test/acc"] for r in rows if f"{name}/test/acc" in r]) for name in VARIANTS}
        if not curves["scratch"][0]:
            return []
        return [plot_variants(curves, plots_dir / "transfer.png", xlabel="step", ylabel="test accuracy",
                              title=f"fine-tuned vs from scratch on {len(self.data.x_train):,} training examples")]

    def state_dict(self) -> dict[str, Any]:
        return {"variants": self.sweep.state_dict(), "steps": self.steps, "first": dict(self.first)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["variants"])
        self.steps = int(state["steps"])
        self.first = dict(state["first"])

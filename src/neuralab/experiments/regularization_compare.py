"""`regularization-compare`: one over-parameterised MLP, 200 training digits, one run per regulariser
(curriculum F5, F11; notes 002 section 2.10; Srivastava et al., "Dropout: a simple way to prevent neural
networks from overfitting", 2014).

Each regulariser is one variant of a sweep (a change to the MLP's config or to the supervised rule's),
every variant starts from the same initial weights and sees the same mini-batches; one engine step trains
all of them for one epoch and measures train, validation and test loss and accuracy, so the table shows
how far each technique closes the train/test gap of the unregularised net, and the plot shows the
over- and underfitting curves (train vs test loss over epochs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.experiments.sweep import Sweep, Variant
from neuralab.methods.augment import AUGMENTATIONS
from neuralab.methods.optim import OPTIMIZERS
from neuralab.methods.supervised import SupervisedConfig, evaluate_split
from neuralab.registry import register_method

TECHNIQUES = ("none", "l2", "l1", "elastic", "max_norm", "dropout", "batch_norm", "augment", "early_stopping")
UNDERFIT = "huge_l2"
VARIANTS = (*TECHNIQUES, UNDERFIT)


@dataclass(frozen=True)
class RegularizationCompareConfig:
    optimizer: str = field("momentum", "Optimiser of every variant (plain SGD with momentum: with Adam an L2 "
                                       "term in the loss is rescaled away, Loshchilov & Hutter 2019).",
                           choices=OPTIMIZERS)
    lr: float = field(0.05, "Learning rate of every variant.", gt=0)
    batch_size: int = field(50, "Examples per update of every variant.", ge=1)
    l2: float = field(0.01, "L2 strength of the l2 and elastic variants (penalty l2/2 * sum w^2).", ge=0)
    l1: float = field(1e-3, "L1 strength of the l1 and elastic variants (penalty l1 * sum|w|).", ge=0)
    max_norm: float = field(1.0, "Radius of the max-norm variant's per-unit weight ball.", gt=0)
    dropout: float = field(0.5, "Drop probability of the dropout variant (inverted dropout).", gt=0, le=0.95)
    augment: tuple[str, ...] = field(("shift", "rotate"), "Augmentations of the augment variant.",
                                     choices=AUGMENTATIONS, nonempty=True)
    patience: int = field(10, "Epochs without a better validation loss before the early-stopping variant stops "
                              "and goes back to its best epoch.", ge=1)
    underfit_l2: float = field(0.25, "L2 strength of the huge_l2 variant, chosen to underfit.", gt=0)
    acc_margin: float = field(0.01, "A technique closes the accuracy gap when its train-test accuracy gap is at "
                                    "least this much smaller than the unregularised net's.", ge=0)
    loss_margin: float = field(0.1, "A technique closes the loss gap when its test-train loss gap is at least "
                                    "this fraction smaller than the unregularised net's.", ge=0, le=1)
    eval_batch_size: int = field(2000, "Examples per forward pass when measuring.", ge=1)


def _variants(cfg: RegularizationCompareConfig) -> list[Variant]:
    """The unregularised net, one variant per regulariser, and the underfitting huge L2. Early stopping
    trains like `none`; the lesson stops it on its validation loss."""
    return [
        Variant("none"),
        Variant("l2", rule={"l2": cfg.l2}),
        Variant("l1", rule={"l1": cfg.l1}),
        Variant("elastic", rule={"l1": cfg.l1, "l2": cfg.l2}),
        Variant("max_norm", rule={"max_norm": cfg.max_norm}),
        Variant("dropout", model={"dropout": cfg.dropout}),
        Variant("batch_norm", model={"batch_norm": True}),
        Variant("augment", rule={"augment": cfg.augment}),
        Variant("early_stopping"),
        Variant(UNDERFIT, rule={"l2": cfg.underfit_l2}),
    ]


@register_method("regularization-compare", config=RegularizationCompareConfig)
class RegularizationCompare(Method):
    """Each step: one epoch of every variant's rule on the same shuffled batches, then a measurement of each."""

    def __init__(self, cfg: RegularizationCompareConfig, model: nn.Module, data: SupervisedData,
                 ctx: RunContext) -> None:
        if data.x_val is None:
            raise UserError("regularization-compare needs a validation split (--data.val_fraction > 0) "
                             "for its early-stopping variant")
        self.cfg, self.data, self.ctx = cfg, data, ctx
        rule = SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr, schedule="none",
                                eval_batch_size=cfg.eval_batch_size)
        self.sweep = Sweep(_variants(cfg), data, ctx, method="regularization-compare", rule_config=rule)
        self.generator = torch.Generator().manual_seed(ctx.seed)
        self.history: dict[str, dict[str, list[float]]] = {name: {} for name in self.sweep.rules}
        self.epoch = 0
        # early stopping: best validation loss, its epoch and weights, epochs since, whether it stopped
        self.stop = {"best": float("inf"), "best_epoch": 0, "bad": 0, "stopped": False, "weights": None}
        self.done = False

    def step(self, batch: Any) -> dict[str, float]:
        """One epoch in mini-batches of `batch_size` (the engine's batch only counts the epoch), so that
        early stopping can watch the validation loss after every epoch."""
        x, y = self.data.x_train, self.data.y_train
        order = torch.randperm(len(x), generator=self.generator).to(x.device)
        training = {n: rule for n, rule in self.sweep.rules.items()
                    if not (n == "early_stopping" and self.stop["stopped"])}
        for i in range(0, len(x), self.cfg.batch_size):
            idx = order[i:i + self.cfg.batch_size]
            for rule in training.values():
                rule.step((x[idx], y[idx]))
        self.epoch += 1
        metrics = {}
        for name in training:
            m = self._measure(name)
            for k, v in m.items():
                self.history[name].setdefault(k, []).append(v)
            metrics.update({f"{name}/train/loss": m["train/loss"], f"{name}/test/loss": m["test/loss"],
                            f"{name}/gap": m["train/acc"] - m["test/acc"]})
        if "early_stopping" in training:
            self._early_stopping()
        return metrics

    def _measure(self, name: str) -> dict[str, float]:
        """Loss and accuracy on the whole training set (measured like the rule measures the held-out splits),
        then the rule's own val/test metrics."""
        rule = self.sweep.rules[name]
        with self.ctx.autocast():
            train = evaluate_split(rule.model, *self.data.split("train"), rule.cfg.loss, self.cfg.eval_batch_size)
        return {**{f"train/{k}": v for k, v in train.items()}, **rule.evaluate()}

    def _early_stopping(self) -> None:
        """Keep the weights of the best validation loss; after `patience` worse epochs go back to them."""
        s, model = self.stop, self.sweep.networks["early_stopping"]
        val = self.history["early_stopping"]["val/loss"][-1]
        if val < s["best"]:
            s.update(best=val, best_epoch=self.epoch, bad=0,
                     weights={k: v.detach().clone() for k, v in model.state_dict().items()})
        else:
            s["bad"] += 1
        if s["bad"] >= self.cfg.patience:
            s["stopped"] = True
            model.load_state_dict(s["weights"])

    def rows(self) -> dict[str, dict[str, float]]:
        """Final train/test accuracy and loss of each variant (early stopping: at its best epoch)."""
        out = {}
        for name, h in self.history.items():
            if not h:
                continue
            at = self.stop["best_epoch"] - 1 if name == "early_stopping" and self.stop["best_epoch"] else -1
            row = {k: v[at] for k, v in h.items()}
            row["gap"] = row["train/acc"] - row["test/acc"]
            row["loss_gap"] = row["test/loss"] - row["train/loss"]
            row["epochs"] = len(h["train/acc"]) if at == -1 else at + 1
            out[name] = row
        return out

    def evaluate(self) -> dict[str, float]:
        rows = self.rows()
        if "none" not in rows:
            return {}
        metrics = {}
        for name, row in rows.items():
            metrics.update({f"{name}/{split}/{k}": row[f"{split}/{k}"] for split in ("train", "test")
                            for k in ("acc", "loss")})
            metrics[f"{name}/gap"] = row["gap"]
        techniques = [n for n in TECHNIQUES[1:] if n in rows]
        acc_gap, loss_gap = rows["none"]["gap"], rows["none"]["loss_gap"]
        metrics["compare/closing_acc_gap"] = sum(rows[n]["gap"] <= acc_gap - self.cfg.acc_margin for n in techniques)
        metrics["compare/closing_loss_gap"] = sum(rows[n]["loss_gap"] <= (1 - self.cfg.loss_margin) * loss_gap
                                                  for n in techniques)
        metrics["compare/test/best_acc_gain"] = max(rows[n]["test/acc"] for n in TECHNIQUES if n in rows) - \
            rows["none"]["test/acc"]
        if UNDERFIT in rows:
            metrics["compare/train/underfit_acc_drop"] = rows["none"]["train/acc"] - rows[UNDERFIT]["train/acc"]
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        rows = self.rows()
        if not rows:
            return ""
        n_train = len(self.data.x_train)
        lines = [f"Train/test gap per technique ({n_train} training digits; accuracy gap = train - test, "
                 f"loss gap = test - train cross-entropy):", "",
                 "| technique | train acc | test acc | acc gap | train loss | test loss | loss gap | epochs |",
                 "|---|---|---|---|---|---|---|---|"]
        for name, r in rows.items():
            lines.append(f"| {name} | {r['train/acc']:.3f} | {r['test/acc']:.3f} | {r['gap']:+.3f} | "
                         f"{r['train/loss']:.3f} | {r['test/loss']:.3f} | {r['loss_gap']:+.3f} | {r['epochs']} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/regularization.png: train vs test loss over epochs for no regularisation, the technique with
        the smallest gap and the underfitting huge L2, plus train and test accuracy of every variant."""
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

        from neuralab.viz.curves import save_figure

        rows = self.rows()
        if "none" not in rows:
            return []
        best = min((n for n in TECHNIQUES[1:] if n in rows), key=lambda n: rows[n]["gap"])
        shown = [("none", "no regularisation: overfits"), (best, f"{best}: smallest gap"),
                 (UNDERFIT, f"{UNDERFIT} (l2 = {self.cfg.underfit_l2:g}): underfits")]
        fig, axes = plt.subplots(1, 4, figsize=(19, 3.8))
        for ax, (name, title) in zip(axes[:3], shown, strict=True):
            h = self.history[name]
            epochs = range(1, len(h["train/loss"]) + 1)
            ax.plot(epochs, h["train/loss"], label="train")
            ax.plot(epochs, h["test/loss"], label="test")
            if max(h["test/loss"]) > 10 * min(h["train/loss"]):
                ax.set_yscale("log")
            ax.set_xlabel("epoch")
            ax.set_ylabel("cross-entropy")
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend()
        names = list(rows)
        pos = range(len(names))
        axes[3].bar([p - 0.2 for p in pos], [rows[n]["train/acc"] for n in names], 0.4, label="train")
        axes[3].bar([p + 0.2 for p in pos], [rows[n]["test/acc"] for n in names], 0.4, label="test")
        axes[3].set_xticks(list(pos), names, rotation=60, ha="right")
        axes[3].set_ylim(0.0, 1.02)
        axes[3].set_title("accuracy per technique")
        axes[3].legend(loc="lower left")
        return [save_figure(fig, plots_dir / "regularization.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"variants": self.sweep.state_dict(),
                "generator": self.generator.get_state(), "history": self.history, "epoch": self.epoch,
                "stop": self.stop}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["variants"])
        self.generator.set_state(state["generator"])
        self.history = {n: {k: list(v) for k, v in h.items()} for n, h in state["history"].items()}
        self.epoch = int(state["epoch"])
        self.stop = dict(state["stop"])

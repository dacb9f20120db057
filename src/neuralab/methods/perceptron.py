"""Perceptron learning rule (Rosenblatt, "The perceptron: a probabilistic model for information storage and
organization in the brain", 1958) with the pocket variant (Gallant, "Perceptron-based learning algorithms",
1990) (curriculum F1).

For every example the unit outputs out = +1 if w.x + b > 0 else -1 and, with the target t = +1 / -1 made
from the class label 1 / 0, changes its weights by

    dw = eta (t - out) x,        db = eta (t - out),

which is 0 when the example is classified correctly and +-2 eta x when it is not. No gradient is involved:
the update runs under `torch.no_grad` on parameters that do not require one. With one example per step (the
recipes' batch size 1) this is Rosenblatt's online rule; a larger batch adds the corrections of its examples,
all computed with the weights at the start of the batch. Training stops when a whole pass over the data
makes no mistake: on linearly separable data that happens after a finite number of updates (Novikoff,
"On convergence proofs on perceptrons", 1962); on XOR it never does.

The pocket keeps, beside the running weights, the weights with the highest training accuracy seen so far
(checked after every update, as in Gallant's pocket algorithm with ratchet), so a run on non-separable
data ends with the best weights it met rather than wherever the cycling rule happens to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.models.linear.threshold_unit import ThresholdUnit
from neuralab.registry import register_method


@dataclass(frozen=True)
class PerceptronConfig:
    lr: float = field(1.0, "Learning rate eta in dw = eta (t - out) x.", gt=0)
    pocket: bool = field(False, "Keep the weights with the best training accuracy seen so far (Gallant 1990) "
                                "and evaluate with them.")


def signed_targets(y: torch.Tensor) -> torch.Tensor:
    """Class labels 0 / 1 (B,) -> targets -1.0 / +1.0 (B,)."""
    return y.float() * 2 - 1


def threshold_accuracy(weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """Share of examples whose sign(w.x + b) (0 counting as -1) matches the label 0 / 1."""
    out = torch.where(x.flatten(1).to(weight.dtype) @ weight + bias > 0, 1.0, -1.0)
    return float((out == signed_targets(y)).float().mean())


def check_unit(model: torch.nn.Module, data: Any, method: str) -> None:
    """Linear-unit rules need the threshold-unit model and 0/1 class labels."""
    if not isinstance(model, ThresholdUnit):
        raise UserError(f"method {method} trains the threshold-unit model, not {type(model).__name__}")
    labels = torch.unique(data.y_train)
    if data.y_train.dtype.is_floating_point or not bool(((labels == 0) | (labels == 1)).all()):
        raise UserError(f"method {method}: labels must be the two classes 0 and 1 "
                        f"(got {labels.tolist()[:5]} from {data.meta.source})")


@register_method("perceptron", config=PerceptronConfig)
class Perceptron(Method):
    def __init__(self, cfg: PerceptronConfig, model: ThresholdUnit, data: SupervisedData, ctx: RunContext) -> None:
        check_unit(model, data, "perceptron")
        self.cfg, self.model, self.data = cfg, model, data
        self.steps_per_epoch = data.steps_per_epoch
        self.steps = 0
        self.updates = 0  # steps that changed the weights
        self.epochs = 0  # completed passes over the training data
        self.epoch_mistakes = 0  # mistakes so far in the current pass
        self.last_epoch_mistakes: int | None = None
        self.converged = False
        self.done = False
        self.pocket_weight = model.weight.detach().clone()
        self.pocket_bias = model.bias.detach().clone()
        self.pocket_acc = self._train_accuracy(self.pocket_weight, self.pocket_bias)
        self.pocket_update = 0  # number of updates after which the pocket weights were taken

    def _train_accuracy(self, weight: torch.Tensor, bias: torch.Tensor) -> float:
        x, y = self.data.split("train")
        return threshold_accuracy(weight, bias, x, y)

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        x = x.flatten(1).to(self.model.weight.dtype)  # (B, D)
        t = signed_targets(y).to(x.dtype)  # (B,)
        err = t - self.model(x)  # (B,) 0 where right, +-2 where wrong
        mistakes = int((err != 0).sum())
        if mistakes:
            self.model.weight.add_(self.cfg.lr * err @ x)
            self.model.bias.add_(self.cfg.lr * err.sum())
            self.updates += 1
            if self.cfg.pocket:
                acc = self._train_accuracy(self.model.weight, self.model.bias)
                if acc > self.pocket_acc:
                    self.pocket_weight.copy_(self.model.weight)
                    self.pocket_bias.copy_(self.model.bias)
                    self.pocket_acc, self.pocket_update = acc, self.updates
        self.epoch_mistakes += mistakes
        self.steps += 1
        if self.steps % self.steps_per_epoch == 0:  # a pass over the training data ended
            self.epochs += 1
            self.last_epoch_mistakes, self.epoch_mistakes = self.epoch_mistakes, 0
            if self.last_epoch_mistakes == 0:
                self.converged = self.done = True
        return {"train/acc": 1.0 - mistakes / len(t)}

    def _weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The weights evaluation uses: the pocket's when enabled, else the running ones."""
        if self.cfg.pocket:
            return self.pocket_weight, self.pocket_bias
        return self.model.weight, self.model.bias

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        x, y = self.data.split("test")
        mistakes = self.epoch_mistakes if self.last_epoch_mistakes is None else self.last_epoch_mistakes
        metrics = {"test/acc": threshold_accuracy(*self._weights(), x, y),
                   "train/errors": float(mistakes), "train/converged": float(self.converged),
                   "train/epochs": float(self.epochs), "train/updates": float(self.updates)}
        if self.cfg.pocket:
            metrics["train/pocket_acc"] = self.pocket_acc
            metrics["test/acc_last"] = threshold_accuracy(self.model.weight, self.model.bias, x, y)
        return metrics

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """A threshold unit decides without probabilities: 1.0 for the class it picks, 0.0 for the other."""
        weight, bias = self._weights()
        positive = (x.flatten(1).to(weight.dtype) @ weight + bias > 0).long()
        return torch.nn.functional.one_hot(positive, 2).float()

    def report(self, run_dir: Path | None = None) -> str:
        source = self.data.meta.source
        w = ", ".join(f"{v:.4g}" for v in self.model.weight.tolist())
        lines = [f"perceptron on {source}: eta {self.cfg.lr}, {self.epochs} epochs, {self.updates} updates; "
                 f"final w = [{w}], b = {float(self.model.bias):.4g}"]
        if self.converged:
            lines.append(f"converged: epoch {self.epochs} made no mistake (training accuracy 100%)")
        else:
            lines.append(f"did NOT converge: the last complete epoch still made "
                         f"{self.last_epoch_mistakes if self.last_epoch_mistakes is not None else '?'} mistakes "
                         f"after {self.epochs} epochs; on data that is not linearly separable (XOR) the rule "
                         f"cycles for ever")
        if self.cfg.pocket:
            pw = ", ".join(f"{v:.4g}" for v in self.pocket_weight.tolist())
            lines.append(f"pocket: w = [{pw}], b = {float(self.pocket_bias):.4g}, training accuracy "
                         f"{self.pocket_acc:.0%} (taken after update {self.pocket_update}); evaluation uses it")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.boundary import plot_linear_boundary

        x, y = self.data.split("train")
        if x.flatten(1).shape[1] != 2:
            return []
        weight, bias = self._weights()
        which = "pocket weights" if self.cfg.pocket else "final weights"
        return [plot_linear_boundary(x.flatten(1), y, weight, float(bias), plots_dir / "decision_boundary.png",
                                     f"perceptron, {self.data.meta.source} ({which})")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "pocket_weight": self.pocket_weight,
                "pocket_bias": self.pocket_bias, "pocket_acc": self.pocket_acc, "pocket_update": self.pocket_update,
                "steps": self.steps, "updates": self.updates, "epochs": self.epochs,
                "epoch_mistakes": self.epoch_mistakes, "last_epoch_mistakes": self.last_epoch_mistakes,
                "converged": self.converged}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.pocket_weight.copy_(state["pocket_weight"])
        self.pocket_bias.copy_(state["pocket_bias"])
        self.pocket_acc, self.pocket_update = float(state["pocket_acc"]), int(state["pocket_update"])
        self.steps, self.updates, self.epochs = int(state["steps"]), int(state["updates"]), int(state["epochs"])
        self.epoch_mistakes = int(state["epoch_mistakes"])
        last = state["last_epoch_mistakes"]
        self.last_epoch_mistakes = None if last is None else int(last)
        self.converged = bool(state["converged"])
        self.done = self.converged

"""Supervised learning by backpropagation: mini-batch gradient descent on a loss (curriculum F3, F5, F7).

Rumelhart, Hinton, Williams, "Learning representations by back-propagating errors", 1986. One step:
augment the batch, forward, data loss plus explicit weight penalties, backward, clip gradients, optimiser
step, max-norm projection (the regularisers of curriculum F11 live in `regularization.py` and
`augment.py`). Optional diagnostics (F12) log per-layer gradient norms and activation statistics; a
finished classification run reports per-class precision, recall and F1 and draws its confusion matrix (F13);
with `macro_f1` every evaluation also reports the macro-averaged F1 (S7: classes of unequal size).
With `adversarial` set, each training batch is replaced by its adversarial examples (Madry et al. 2018, C6;
the attacks live in `attacks.py`) and evaluation also reports the accuracy under PGD (`test/pgd_acc`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import AuxiliaryOutputs, Method, RunContext, auxiliary_loss
from neuralab.data.tensors import IGNORE_INDEX, SupervisedData
from neuralab.errors import UserError
from neuralab.methods.attacks import FAST_ALPHA_FACTOR, PixelSpace, fixed_subset, perturb, pgd
from neuralab.methods.augment import AUGMENTATIONS, Augmenter
from neuralab.methods.optim import OPTIMIZERS, QUASI_NEWTON, SCHEDULES, make_optimizer, make_schedule
from neuralab.methods.regularization import clip_gradients_, max_norm_, weight_penalty
from neuralab.nn.diagnostics import ActivationRecorder, dead_relu_fraction, gradient_norms
from neuralab.registry import register_method

LOSSES = ("cross_entropy", "bce", "mse")
ADVERSARIAL = ("none", "fgsm", "pgd")


@dataclass(frozen=True)
class SupervisedConfig:
    optimizer: str = field("adam", "Optimiser from torch.optim (lbfgs: full-batch L-BFGS with a strong-Wolfe "
                                   "line search; set --data.batch_size to the training-set size).",
                           choices=OPTIMIZERS + QUASI_NEWTON)
    lr: float = field(1e-3, "Learning rate (peak rate for onecycle).", gt=0)
    momentum: float = field(0.9, "Momentum for the momentum and nesterov optimisers.", ge=0, le=1)
    weight_decay: float = field(0.0, "L2 penalty coefficient applied by the optimiser.", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the whole run.", choices=SCHEDULES)
    loss: str = field("cross_entropy", "cross_entropy (classes), bce (one sigmoid output) or mse.",
                      choices=LOSSES)
    eval_batch_size: int = field(2000, "Examples per forward pass when evaluating.", ge=1)
    l1: float = field(0.0, "L1 penalty l1 * sum|w| added to the loss over the weights (not biases); drives "
                           "weights to exactly 0. With l2 it is the elastic net.", ge=0)
    l2: float = field(0.0, "L2 penalty l2/2 * sum w^2 added to the loss over the weights (not biases), unlike "
                           "weight_decay which the optimiser applies to every parameter.", ge=0)
    max_norm: float = field(0.0, "After each update, rescale every unit's incoming weight vector to L2 norm <= "
                                 "this (the notes suggest 3-4); 0 disables.", ge=0)
    clip_grad_norm: float = field(0.0, "Rescale the gradients so their joint L2 norm is at most this; 0 disables.",
                                  ge=0)
    clip_grad_value: float = field(0.0, "Clip every gradient entry to [-v, v]; 0 disables.", ge=0)
    augment: tuple[str, ...] = field((), "Training-batch augmentations, comma list applied in order: shift "
                                         "(up to 10% of the side), rotate (up to 15 degrees), crop (pad 1/8 of "
                                         "the side, random window), flip (left-right, p 0.5), noise (Gaussian, "
                                         "std 0.1). All but noise need images.",
                                     choices=AUGMENTATIONS)
    diagnostics: bool = field(False, "Log per-layer gradient norms and activation mean/std (diag/...) with the "
                                     "train metrics, and the dead-ReLU fraction at each evaluation.")
    adversarial: str = field("none", "Adversarial training (Madry et al. 2018): train on attacked batches only. "
                                     "fgsm: one signed-gradient step of 1.25 adv_eps from a uniform random start "
                                     "(Wong, Rice, Kolter 2020, 'fast' training); pgd: adv_steps PGD steps. "
                                     "Evaluation then also reports the accuracy under PGD, */pgd_acc.",
                             choices=ADVERSARIAL)
    adv_eps: float = field(0.1, "L-inf radius of the training and evaluation attacks in pixel units (pixels on "
                                "[0, 1], whatever the input normalisation).", gt=0, le=1)
    adv_steps: int = field(10, "PGD steps, in training with adversarial pgd and in the */pgd_acc evaluation.", ge=1)
    adv_alpha: float = field(0.0, "PGD step size in pixel units; 0: 2.5 adv_eps / adv_steps (Madry et al.). "
                                  "Training with fgsm always steps 1.25 adv_eps.", ge=0)
    adv_eval_size: int = field(1000, "*/pgd_acc is measured on this many examples of each split, a fixed random "
                                     "subset (PGD costs adv_steps forward-backward passes per example); 0: all.",
                               ge=0)
    macro_f1: bool = field(False, "Also report the macro-averaged F1 of a classifier at each evaluation "
                                  "(SPLIT/macro_f1): the mean of the per-class F1 scores, which weighs a rare "
                                  "class as much as a common one.")


def _loss(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if name == "cross_entropy":  # per-step outputs (B, T, K) for labels (B, T): one row of K per labelled step
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), ignore_index=IGNORE_INDEX)
    if name == "bce":
        return F.binary_cross_entropy_with_logits(out.squeeze(-1), y.float())
    target = y.float().view_as(out) if y.dtype.is_floating_point else F.one_hot(y, out.shape[-1]).float()
    return F.mse_loss(out, target)


def _correct(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    if y.dtype.is_floating_point:
        return None  # regression: no accuracy
    return (_predict(name, out) == y).sum()  # an ignored step (IGNORE_INDEX) never equals a prediction


def _count(y: torch.Tensor) -> int:
    """How many targets a batch's loss and accuracy average over: one per example, or per labelled step of
    per-step labels (B, T)."""
    if y.dim() > 1 and not y.dtype.is_floating_point:
        return int((y != IGNORE_INDEX).sum())
    return len(y)


def _predict(name: str, out: torch.Tensor) -> torch.Tensor:
    """Class labels from outputs: the sign of a single logit, else the argmax."""
    if name == "bce" or out.shape[-1] == 1:
        return (out.squeeze(-1) > 0).long()
    return out.argmax(-1)


def macro_f1(confusion: torch.Tensor) -> float:
    """Mean over classes of F1 = 2 TP / (2 TP + FP + FN) from a confusion matrix (K, K) (row: true class, column:
    predicted), over the classes that occur among the labels or the predictions, as sklearn's
    `f1_score(average="macro")` counts them."""
    tp = confusion.diag().double()
    support, predicted = confusion.sum(1), confusion.sum(0)  # TP + FN, TP + FP
    present = (support + predicted) > 0
    return float((2 * tp / (support + predicted).clamp_min(1))[present].mean())


@torch.no_grad()
def forward_all(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's outputs for all of `x`, `batch_size` examples per pass (the model's mode is kept)."""
    return torch.cat([model(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


@torch.no_grad()
def evaluate_split(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss: str,
                   batch_size: int, *, f1: bool = False) -> dict[str, float]:
    """Mean loss (and accuracy for class labels, and with `f1` the macro-averaged F1) of `model` in evaluation
    mode on (x, y)."""
    was_training = model.training
    model.eval()
    loss_sum, correct, count, confusion = 0.0, 0, 0, None
    for i in range(0, len(x), batch_size):
        out, yb = model(x[i:i + batch_size]), y[i:i + batch_size]
        loss_sum += float(_loss(loss, out, yb)) * _count(yb)
        count += _count(yb)
        c = _correct(loss, out, yb)
        correct += 0 if c is None else int(c)
        if f1 and c is not None:
            k = max(out.shape[-1], 2)  # one logit: two classes
            labelled = yb != IGNORE_INDEX  # per-step labels count their labelled steps only
            counts = torch.bincount(yb[labelled] * k + _predict(loss, out)[labelled], minlength=k * k).view(k, k)
            confusion = counts if confusion is None else confusion + counts
    model.train(was_training)
    metrics = {"loss": loss_sum / count}
    if not y.dtype.is_floating_point:
        metrics["acc"] = correct / count
        if confusion is not None:
            metrics["macro_f1"] = macro_f1(confusion)
    return metrics


@register_method("supervised", config=SupervisedConfig)
class Supervised(Method):
    def __init__(self, cfg: SupervisedConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.params = [p for p in model.parameters() if p.requires_grad]  # frozen ones (--run.freeze) stay put
        self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr, cfg.momentum, cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.augmenter = (Augmenter(cfg.augment, tuple(data.meta.input_shape), ctx.seed, ctx.device)
                          if cfg.augment else None)
        # Hooks only when asked for: without diagnostics the forward pass carries no extra work.
        self.recorder = ActivationRecorder(model) if cfg.diagnostics else None
        self.space, self.adv_generator = None, None
        if cfg.adversarial != "none":
            if not data.meta.num_classes:
                raise UserError("--method.adversarial: adversarial training needs class labels, not regression "
                                "targets")
            self.space = PixelSpace.from_meta(data.meta, "--method.adversarial")
            self.adv_generator = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
        self.done = False

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        self.model.train()
        if self.augmenter is not None:
            x = self.augmenter(x)
        if self.space is not None:
            x = self._adversarial(x, y)
        first: dict[str, Any] = {}

        def closure() -> torch.Tensor:
            """Forward, loss (+ penalty), backward, clipping. L-BFGS calls it again during its line search;
            the metrics report the step's first evaluation, at the weights the step started from."""
            with self.ctx.autocast():  # auxiliary classifiers (GoogLeNet) add their weighted losses
                out, aux = auxiliary_loss(self.model(x), lambda head: _loss(self.cfg.loss, head, y))
                loss = _loss(self.cfg.loss, out, y)
            objective = loss if aux is None else loss + aux
            if self.cfg.l1 or self.cfg.l2:
                penalty = weight_penalty(self.model, self.cfg.l1, self.cfg.l2)
                objective = objective + penalty
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            if not first:
                first["metrics"] = {"train/loss": loss.detach()}
                if aux is not None:
                    first["metrics"]["train/aux_loss"] = aux.detach()
                if self.cfg.l1 or self.cfg.l2:
                    first["metrics"]["train/penalty"] = penalty.detach()
                if self.recorder is not None:  # gradients as backprop made them, before clipping
                    first["metrics"].update(self._step_diagnostics())
                first["out"] = out.detach()
            clip_gradients_(self.params, self.cfg.clip_grad_norm, self.cfg.clip_grad_value)
            return objective

        self.optimizer.step(closure)
        if self.cfg.max_norm:
            max_norm_(self.model, self.cfg.max_norm)
        if self.schedule is not None:
            self.schedule.step()
        metrics = first["metrics"]
        correct = _correct(self.cfg.loss, first["out"], y)
        if correct is not None:
            metrics["train/acc"] = correct / _count(y)
        return metrics

    def loss_fn(self, out: torch.Tensor | AuxiliaryOutputs, y: torch.Tensor) -> torch.Tensor:
        """The run's training objective (mean over the batch) on outputs `out` for targets `y`, auxiliary
        classifiers included in training mode: what attacks ascend."""
        out, aux = auxiliary_loss(out, lambda head: _loss(self.cfg.loss, head, y))
        loss = _loss(self.cfg.loss, out, y)
        return loss if aux is None else loss + aux

    def _plain_model(self) -> nn.Module:
        """The network without its data-parallel wrapper: an attack's backward pass must not start DDP's
        gradient synchronisation, which expects the training backward pass."""
        return self.model.module if self.ctx.procs is not None else self.model

    def _adversarial(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training batch's adversarial examples, attacked in the model's training mode."""
        cfg = self.cfg
        if cfg.adversarial == "fgsm":
            return perturb(self._plain_model(), x, y, self.space, eps=cfg.adv_eps, steps=1,
                           alpha=FAST_ALPHA_FACTOR * cfg.adv_eps, random_start=True, generator=self.adv_generator,
                           loss=self.loss_fn)
        return pgd(self._plain_model(), x, y, self.space, cfg.adv_eps, cfg.adv_steps, cfg.adv_alpha,
                   self.adv_generator, self.loss_fn)

    def _pgd_accuracy(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy under PGD at adv_eps on a fixed random subset of (x, y), in evaluation mode; the random
        starts come from a generator seeded afresh, so every evaluation attacks the same way."""
        cfg = self.cfg
        x, y = fixed_subset(x, y, cfg.adv_eval_size)
        generator = torch.Generator(device=self.ctx.device).manual_seed(self.ctx.seed)
        model = self._plain_model().eval()
        correct = 0
        for i in range(0, len(x), cfg.eval_batch_size):
            xb, yb = x[i:i + cfg.eval_batch_size], y[i:i + cfg.eval_batch_size]
            adv = pgd(model, xb, yb, self.space, cfg.adv_eps, cfg.adv_steps, cfg.adv_alpha, generator, self.loss_fn)
            correct += int(_correct(cfg.loss, model(adv), yb))
        return correct / len(x)

    def _step_diagnostics(self) -> dict[str, float]:
        """Gradient norm of every weight and mean/std of every activation layer on this batch."""
        metrics = {f"diag/grad_norm/{name.removesuffix('.weight')}": v
                   for name, v in gradient_norms(self.model).items()}
        for layer, stats in self.recorder.stats.items():
            metrics[f"diag/act_mean/{layer}"] = stats["mean"]
            metrics[f"diag/act_std/{layer}"] = stats["std"]
        return metrics

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        metrics = {}
        for split in ("val", "test"):
            pair = self.data.split(split)
            if pair is not None:
                with self.ctx.autocast():
                    split_metrics = evaluate_split(self.model, *pair, self.cfg.loss, self.cfg.eval_batch_size,
                                                   f1=self.cfg.macro_f1)
                metrics.update({f"{split}/{k}": v for k, v in split_metrics.items()})
                if self.space is not None:
                    metrics[f"{split}/pgd_acc"] = self._pgd_accuracy(*pair)
        if self.recorder is not None:
            self.model.eval()  # dead means silent for every example, with the weights as they predict
            metrics["diag/dead_relu"] = dead_relu_fraction(self.model, self.data.x_train[:self.cfg.eval_batch_size])
        self.model.train()
        return metrics

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        out = forward_all(self.model, x, self.cfg.eval_batch_size)
        if self.cfg.loss == "bce" or out.shape[-1] == 1:
            p = torch.sigmoid(out.squeeze(-1))
            return torch.stack([1 - p, p], -1)
        return out.softmax(-1)

    def _test_labels(self) -> tuple[np.ndarray, np.ndarray, list[str]] | None:
        """(true, predicted, class names) on the test set, or None for regression."""
        x, y = self.data.split("test")
        if y.dtype.is_floating_point:
            return None
        self.model.eval()
        pred = _predict(self.cfg.loss, forward_all(self.model, x, self.cfg.eval_batch_size))
        self.model.train()
        names = list(self.data.meta.class_names) or [str(i) for i in range(int(y.max()) + 1)]
        labelled = y != IGNORE_INDEX  # per-step labels: the labelled steps, flattened
        return y[labelled].cpu().numpy(), pred[labelled].cpu().numpy(), names

    def confusion(self) -> np.ndarray | None:
        """Test-set confusion matrix (K, K): row = true class, column = predicted class; None for regression."""
        from sklearn.metrics import confusion_matrix

        labels = self._test_labels()
        if labels is None:
            return None
        y, pred, names = labels
        return confusion_matrix(y, pred, labels=list(range(len(names))))

    def report(self, run_dir: Path | None = None) -> str:
        """Per-class precision, recall and F1 on the test set as a markdown table ("" for regression)."""
        from sklearn.metrics import precision_recall_fscore_support

        labels = self._test_labels()
        if labels is None:
            return ""
        y, pred, names = labels
        idx = list(range(len(names)))
        p, r, f, n = precision_recall_fscore_support(y, pred, labels=idx, zero_division=0)
        mp, mr, mf, _ = precision_recall_fscore_support(y, pred, labels=idx, average="macro", zero_division=0)
        lines = [f"Per-class metrics on the test set ({len(y)} examples):", "",
                 "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {names[i]} | {p[i]:.3f} | {r[i]:.3f} | {f[i]:.3f} | {n[i]} |" for i in idx]
        lines.append(f"| macro average | {mp:.3f} | {mr:.3f} | {mf:.3f} | {len(y)} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/confusion.png for classifiers; plots/diagnostics.png when diagnostics were logged."""
        from neuralab.viz.diagnostics import plot_confusion, plot_layer_diagnostics

        made = []
        cm = self.confusion()
        if cm is not None:
            made.append(plot_confusion(cm, list(self.data.meta.class_names), plots_dir / "confusion.png"))
        diag = plot_layer_diagnostics(plots_dir.parent / "metrics.jsonl", plots_dir / "diagnostics.png")
        return made + ([diag] if diag else [])

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(),
                "augment": None if self.augmenter is None else self.augmenter.state_dict(),
                "adversarial": None if self.adv_generator is None else self.adv_generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            planned = state["schedule"].get("total_steps")
            if planned is not None and planned != getattr(self.schedule, "total_steps", planned):
                raise UserError(f"--resume: the {self.cfg.schedule} schedule was planned for {planned} steps; "
                                "keep --run.steps/--run.epochs as they were, or start a new run")
            self.schedule.load_state_dict(state["schedule"])
        if self.augmenter is not None:
            self.augmenter.load_state_dict(state["augment"])
        if self.adv_generator is not None:
            self.adv_generator.set_state(state["adversarial"])

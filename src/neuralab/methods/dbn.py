"""Greedy layer-wise pre-training of a deep belief net, then discriminative fine-tuning by backpropagation (Hinton,
Osindero and Teh, "A fast learning algorithm for deep belief nets", 2006; Hinton and Salakhutdinov, "Reducing the
dimensionality of data with neural networks", 2006) (curriculum E7, notes 002 section 4.8).

One run counts its steps through consecutive phases, so a killed run resumes in the right phase bit for bit:

1. RBM 1 learns the (binarised) images by CD-k for `pretrain_epochs` epochs; RBM 2 then learns RBM 1's hidden
   probabilities of the same batches, and so on; the top RBM (the associative memory) learns the penultimate layer's
   probabilities joined with the one-hot labels, its label units a softmax group. Each RBM has its own momentum
   optimiser and is the only one that changes during its phase; the update is `cd_gradients` of the RBM's rule. The
   associative memory learns by persistent CD (Tieleman 2008) with a decaying rate: CD-1 leaves it with a silent
   spurious mode that a generating chain, started far from the data, falls into.
2. The RBMs' weights initialise the classifier (`DBN.init_classifier_from_rbms`), and the rest of the run's steps
   fine-tune it, sigmoid layers and softmax together, by backpropagating the cross-entropy (a torch optimiser).

With `pretrain` off every step fine-tunes the classifier from its random initialisation: the comparison of
Hinton and Salakhutdinov. The RBMs keep their pre-trained weights through fine-tuning (the generative weights
untied from the recognition ones), so a label clamped in the associative memory still generates its digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.contrastive_divergence import cd_gradients
from neuralab.methods.decomposition import single_process
from neuralab.methods.elbo import binarized_test_set
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from neuralab.methods.supervised import evaluate_split, forward_all
from neuralab.models.energy.dbn import DBN
from neuralab.registry import register_method

PATH_STEPS = 8  # images per row of a walk between two classes (`draw(interpolate=True)`)
GENERATION_SEED = 0  # the plots' and the report's generated digits


@dataclass(frozen=True)
class GreedyPretrainingConfig:
    pretrain: bool = field(True, "Pre-train the RBMs greedily before fine-tuning; off: fine-tune the classifier from "
                                 "its random initialisation for all the run's steps.")
    pretrain_epochs: float = field(2.0, "Epochs of contrastive divergence for EACH RBM, bottom to top; fine-tuning "
                                        "gets the run's remaining steps (--run.steps or --run.epochs is the total).",
                                   ge=0)
    k: int = field(1, "Gibbs steps of each RBM's negative phase (CD-k).", ge=1)
    cd_lr: float = field(0.05, "Learning rate of contrastive divergence.", gt=0)
    cd_momentum: float = field(0.5, "Momentum of contrastive divergence.", ge=0, le=0.999)
    cd_weight_decay: float = field(2e-4, "L2 weight decay of the RBMs' weights (not their biases) during "
                                         "contrastive divergence (Hinton's practical guide: 1e-4 to 1e-2).", ge=0)
    persistent_top: bool = field(True, "Train the associative memory by persistent CD (Tieleman 2008): its negative "
                                       "chains carry on between updates, which keeps it from the silent spurious "
                                       "modes that CD-1 leaves and that generation would fall into.")
    top_lr: float = field(0.01, "Learning rate of the associative memory's CD, decayed linearly to 0 over its phase "
                                "when persistent_top.", gt=0)
    binarize: bool = field(True, "Binarise the images for pre-training (each batch drawn afresh as Bernoulli(pixel));"
                                 " higher RBMs learn the hidden probabilities of those binary images.")
    optimizer: str = field("adam", "Optimiser of the fine-tuning.", choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate of the fine-tuning.", gt=0)
    momentum: float = field(0.9, "Momentum of the momentum/nesterov fine-tuning optimisers.", ge=0, le=0.999)
    weight_decay: float = field(0.0, "L2 weight decay of the fine-tuning optimiser.", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the fine-tuning steps.", choices=SCHEDULES)
    gibbs_steps: int = field(200, "Gibbs steps in the associative memory per generated image (Hinton et al. "
                                  "2006 ran 1000).", ge=1)
    eval_batch_size: int = field(2000, "Examples per forward pass when evaluating.", ge=1)


@register_method("greedy-pretraining", config=GreedyPretrainingConfig)
class GreedyPretraining(Method):
    """Phases: CD-k on RBM 1, ..., CD-k on the associative memory, then backpropagation through the classifier."""

    def __init__(self, cfg: GreedyPretrainingConfig, model: DBN, data: SupervisedData, ctx: RunContext) -> None:
        single_process(ctx, "greedy-pretraining")
        if not isinstance(model, DBN):
            raise UserError("greedy-pretraining trains the dbn model (--model dbn)")
        self.cfg, self.model, self.data, self.ctx = cfg, model.to(ctx.device), data, ctx
        per_layer = round(cfg.pretrain_epochs * data.steps_per_epoch) if cfg.pretrain else 0
        # ends[l]: the step at which RBM l's phase ends; fine-tuning runs from ends[-1] to the run's last step
        self.ends = [per_layer * (i + 1) for i in range(len(model.rbms))]
        lrs = [cfg.cd_lr] * (len(model.rbms) - 1) + [cfg.top_lr if cfg.persistent_top else cfg.cd_lr]
        self.cd_optimizers = [make_optimizer("momentum", [{"params": [rbm.weight], "weight_decay": cfg.cd_weight_decay},
                                                          {"params": [rbm.visible_bias, rbm.hidden_bias],
                                                           "weight_decay": 0.0}], lr, cfg.cd_momentum)
                              for rbm, lr in zip(model.rbms, lrs, strict=True)]
        self.chains: torch.Tensor | None = None  # the associative memory's persistent chains (B, F + K)
        classifier = [*model.layers.parameters(), *model.head.parameters()]
        self.optimizer = make_optimizer(cfg.optimizer, classifier, cfg.lr, cfg.momentum, cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, max(ctx.total_steps - self.ends[-1], 1))
        x_test, self.y_test = data.split("test")
        self.x_test = x_test.flatten(1)
        self.x_test_bin = binarized_test_set(self.x_test) if cfg.binarize else self.x_test
        self.steps = 0
        self.recon_errors: dict[str, float] = {}  # RBM (1-based, as text) -> test recon error at its last evaluation

    def phase(self, step: int) -> int | None:
        """Index of the RBM that step `step` (0-based) pre-trains, or None when it fine-tunes."""
        return next((i for i, end in enumerate(self.ends) if step < end), None)

    def rbm_inputs(self, layer: int, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """What RBM `layer` learns from a batch of flat images x (B, V) in [0, 1] (binarised already if asked) and
        labels y (B,): the hidden probabilities of the RBMs below it, joined with the one-hot labels for the top."""
        v = self.model.up(x, layer)
        if layer == len(self.model.rbms) - 1:
            v = torch.cat([v, F.one_hot(y, self.model.cfg.num_classes).to(v.dtype)], 1)
        return v

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        layer = self.phase(self.steps)
        self.steps += 1
        if layer is not None:
            metrics = self._pretrain_step(layer, x.flatten(1), y)
            if self.steps == self.ends[-1]:  # the last pre-training step: the RBMs become the classifier
                self.model.init_classifier_from_rbms()
            return metrics
        self.model.train()
        loss = F.cross_entropy(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        return {"train/loss": loss.detach()}

    @torch.no_grad()
    def _pretrain_step(self, layer: int, x: torch.Tensor, y: torch.Tensor) -> dict[str, Any]:
        if self.cfg.binarize:
            x = torch.bernoulli(x)  # from the global generator, which the engine checkpoints
        v = self.rbm_inputs(layer, x, y)
        rbm = self.model.rbms[layer]
        top = layer == len(self.model.rbms) - 1
        if top:
            persistent = self.cfg.persistent_top
            start = self.chains if persistent and self.chains is not None else v
            v_model = self.model.top_gibbs(start, self.cfg.k)
            if persistent:
                self.chains = v_model
                begin, end = self.ends[layer - 1] if layer else 0, self.ends[layer]
                for group in self.cd_optimizers[layer].param_groups:  # from top_lr down to top_lr / phase length
                    group["lr"] = self.cfg.top_lr * (end - self.steps + 1) / (end - begin)
        else:
            v_model = rbm.gibbs(v, self.cfg.k)
        h = cd_gradients(rbm, v, v_model)
        self.cd_optimizers[layer].step()
        return {f"train/recon_error_rbm{layer + 1}": self._recon_error(layer, v, h)}

    def _recon_error(self, layer: int, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """Squared error per example of the mean-field reconstruction of RBM `layer`'s visible units (the top RBM's
        feature units only) from hidden probabilities h."""
        width = self.model.features if layer == len(self.model.rbms) - 1 else v.shape[1]
        return (v - self.model.rbms[layer].visible_mean(h))[:, :width].pow(2).sum(1).mean()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        metrics = {}
        for split in ("val", "test"):
            pair = self.data.split(split)
            if pair is not None:
                scores = evaluate_split(self.model, *pair, "cross_entropy", self.cfg.eval_batch_size)
                metrics.update({f"{split}/{k}": v for k, v in scores.items()})
        layer = self.phase(self.steps - 1) if self.steps else None
        if layer is not None:  # the RBM being pre-trained, on the test images
            v = self.rbm_inputs(layer, self.x_test_bin, self.y_test)
            error = float(self._recon_error(layer, v, self.model.rbms[layer].hidden_probs(v)))
            self.recon_errors[str(layer + 1)] = error
            metrics[f"test/recon_error_rbm{layer + 1}"] = error
        return metrics

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        return forward_all(self.model, x, self.cfg.eval_batch_size).softmax(-1)

    # --- generation from the associative memory --------------------------------------------------------------------
    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        """Digits generated with a label clamped in the associative memory: `label`'s, or one column per class; with
        `interpolate`, rows whose label units walk in equal steps from one class to the next."""
        k = self.model.cfg.num_classes
        if label is not None and not 0 <= label < k:
            raise UserError(f"--label {label}: this run's classes are 0..{k - 1}")
        notes = [] if self.cfg.pretrain else ["this run was not pre-trained: its associative memory is untrained and "
                                              "draws noise (train dbn-mnist for digits)"]
        eye = torch.eye(k, device=self.ctx.device)
        if interpolate:
            rows = max(1, round(n / PATH_STEPS))
            if rows * PATH_STEPS != n:
                notes.append(f"--n {n}: drew {rows} walk(s) of {PATH_STEPS} steps")
            start = (torch.full((rows,), label) if label is not None else torch.arange(rows) % k).to(eye.device)
            t = torch.linspace(0, 1, PATH_STEPS, device=eye.device).view(1, -1, 1)
            labels = (eye[start, None] * (1 - t) + eye[(start + 1) % k, None] * t).reshape(-1, k)
            nrow = PATH_STEPS
        else:
            classes = torch.full((n,), label) if label is not None else torch.arange(n) % k
            labels = eye[classes.to(eye.device)]
            nrow = k if label is None else max(1, round(n ** 0.5))
            if label is None:
                notes.append(f"no --label: column k holds class k (0..{k - 1})")
        return Drawn(self._images(self._generate(labels, seed)), nrow, notes)

    def _generate(self, labels: torch.Tensor, seed: int) -> torch.Tensor:
        generator = torch.Generator(device=self.ctx.device).manual_seed(seed)
        return self.model.generate(labels, self.cfg.gibbs_steps, generator)

    def _images(self, flat: torch.Tensor) -> torch.Tensor:
        """Flat pixel vectors (N, V) as images (N, C, H, W) in [0, 1]."""
        return flat.clamp(0, 1).reshape(len(flat), *self.data.meta.input_shape).cpu()

    @torch.no_grad()
    def generated_accuracy(self, per_class: int = 10) -> float:
        """Share of `per_class` digits generated for each label that the fine-tuned classifier labels so (chance:
        1 / classes)."""
        k = self.model.cfg.num_classes
        classes = torch.arange(k, device=self.ctx.device).repeat_interleave(per_class)
        images = self._generate(torch.eye(k, device=self.ctx.device)[classes], GENERATION_SEED)
        return float((self.predict_proba(images).argmax(1) == classes).float().mean())

    # --- report and figures --------------------------------------------------------------------------------------
    def report(self, run_dir: Path | None = None) -> str:
        """Pre-training reconstruction errors per RBM, the test error, and how often generated digits are
        classified as their clamped label."""
        sizes = [(rbm.cfg.in_features, rbm.cfg.hidden) for rbm in self.model.rbms]
        lines = ["| RBM | visible | hidden | pre-training epochs | test recon error (squared, per image) |",
                 "|---|---|---|---|---|"]
        for i, (v, h) in enumerate(sizes):
            error = self.recon_errors.get(str(i + 1))
            shown = "-" if error is None else f"{error:.2f}"
            visible = f"{v - self.model.cfg.num_classes} + {self.model.cfg.num_classes} labels" \
                if i == len(sizes) - 1 else str(v)
            epochs = f"{self.cfg.pretrain_epochs:g}" if self.cfg.pretrain else "0"
            lines.append(f"| {i + 1} | {visible} | {h} | {epochs} | {shown} |")
        x, y = self.data.split("test")
        acc = evaluate_split(self.model, x, y, "cross_entropy", self.cfg.eval_batch_size)["acc"]
        fine_tuned = max(self.steps - self.ends[-1], 0)
        lines += ["", f"Test error after {fine_tuned} fine-tuning steps: {100 * (1 - acc):.2f}% "
                      f"({len(y)} test images; Hinton et al. 2006: 1.25%)."]
        if self.cfg.pretrain:
            lines.append(f"Digits generated with a clamped label that the fine-tuned classifier gives that label: "
                         f"{100 * self.generated_accuracy():.0f}% (chance {100 / self.model.cfg.num_classes:.0f}%).")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/filters.png: the first RBM's weights into 100 hidden units, each scaled to [0, 1]; with pre-training,
        plots/generated.png: ten digits per class (one column each) from the associative memory."""
        from neuralab.viz.grid import save_grid

        w = self.model.rbms[0].weight.T[:100]  # (100, V)
        lo, hi = w.min(1, keepdim=True).values, w.max(1, keepdim=True).values
        paths = [save_grid(self._images((w - lo) / (hi - lo).clamp_min(1e-12)), plots_dir / "filters.png",
                           nrow=math.isqrt(len(w)))]
        if self.cfg.pretrain:
            drawn = self.draw(10 * self.model.cfg.num_classes, seed=GENERATION_SEED)
            paths.append(save_grid(drawn.images, plots_dir / "generated.png", drawn.nrow))
        return paths

    # --- checkpoint ----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "cd_optimizers": [o.state_dict() for o in self.cd_optimizers],
                "schedule": None if self.schedule is None else self.schedule.state_dict(),
                "steps": self.steps, "recon_errors": dict(self.recon_errors), "chains": self.chains}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for optimizer, saved in zip(self.cd_optimizers, state["cd_optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.steps = int(state["steps"])
        self.chains = None if state["chains"] is None else state["chains"].to(self.ctx.device)
        self.recon_errors = {str(k): float(v) for k, v in state["recon_errors"].items()}

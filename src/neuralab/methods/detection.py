"""Training an object detector on its own losses (curriculum C8): Faster R-CNN (Ren et al. 2015), Mask R-CNN (He et
al. 2017) and the detectors that share their interface, `model(images, targets, generator)` -> a dict of losses in
training and `model.detect(images)` -> torchvision's list of {"boxes", "labels", "scores"} (and "masks" for a
model that segments) in evaluation.

One step sums the model's losses (torchvision weighs its four losses equally), backpropagates and steps the
optimiser. The random anchor and proposal sampling draws from a generator of the method's own, kept in the
checkpoint, so a resumed run samples exactly as the uninterrupted one. Evaluation detects on the test images and
scores them with COCO's mAP@0.5 and mAP@[.5:.95] (`neuralab.detection.average_precision`), and times the inference;
for a model that predicts masks, also with the same mAPs on the masks' IoU (test/mask_map_50, test/mask_map,
test/mask_map_75).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.detection_data import DetectionData, Target
from neuralab.detection.average_precision import MASK_LEVEL, DetectionAP, mean_average_precision
from neuralab.errors import UserError
from neuralab.methods.optim import (
    OPTIMIZERS,
    SCHEDULES,
    load_training_state,
    make_optimizer,
    make_schedule,
    training_state,
)
from neuralab.methods.regularization import clip_gradients_
from neuralab.registry import register_method

SHOWN = 8  # test images drawn with their detections in plots/detections.png


@dataclass(frozen=True)
class DetectionConfig:
    optimizer: str = field("adam", "Optimiser from torch.optim (torchvision's detection recipes: momentum, lr 0.02, "
                                   "for pretrained backbones).", choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate (peak rate for onecycle).", gt=0)
    momentum: float = field(0.9, "Momentum for the momentum and nesterov optimisers.", ge=0, le=1)
    weight_decay: float = field(0.0, "L2 penalty coefficient applied by the optimiser.", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the whole run.", choices=SCHEDULES)
    clip_grad_norm: float = field(10.0, "Rescale the gradients so their joint L2 norm is at most this (early "
                                        "proposals are poor and their box losses spiky); 0 disables.", ge=0)
    eval_batch_size: int = field(50, "Test images per forward pass when evaluating.", ge=1)
    eval_limit: int = field(0, "Evaluate on the first this many test images; 0: all.", ge=0)


@register_method("detection", config=DetectionConfig)
class Detection(Method):
    def __init__(self, cfg: DetectionConfig, model: nn.Module, data: DetectionData, ctx: RunContext) -> None:
        # A run loaded for `neuralab detect` gets its data's shapes only (`SupervisedData.shape_only`).
        if not isinstance(data, DetectionData) and not getattr(data, "is_shape_only", False):
            raise UserError("--method detection: the data must be images with boxes (e.g. mnist-scenes)")
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr, cfg.momentum, cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.generator = torch.Generator(device=ctx.device).manual_seed(ctx.seed)
        # Box and mask AP of the latest evaluation, which the report tabulates (no mask AP: the model does not segment)
        self.last_ap: tuple[DetectionAP, DetectionAP | None] | None = None

    @property
    def detector(self) -> nn.Module:
        """The network without its data-parallel wrapper, whose `detect` evaluation calls."""
        return self.model.module if self.ctx.procs is not None else self.model

    def step(self, batch: tuple[torch.Tensor, list[Target]]) -> dict[str, Any]:
        images, targets = batch
        self.model.train()
        with self.ctx.autocast():
            losses = self.model(images, targets, self.generator)
        loss = sum(losses.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_gradients_(self.params, self.cfg.clip_grad_norm, 0.0)
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        return {"train/loss": loss.detach(), **{f"train/{k}": v.detach() for k, v in losses.items()}}

    @torch.no_grad()
    def detect_test(self, limit: int = 0) -> tuple[torch.Tensor, list[Target], list[Target], float]:
        """(test images, their targets, detections, seconds of inference) on the first `limit` test images (0: all),
        in evaluation mode; predicted masks come binary (the pixels above MASK_LEVEL), a byte per pixel."""
        model = self.detector
        model.eval()
        images, targets, detections, seconds = [], [], [], 0.0
        count = 0
        for x, y in self.data.batches("test", self.cfg.eval_batch_size):
            if limit and count >= limit:
                break
            x, y = (x[: limit - count], y[: limit - count]) if limit else (x, y)
            start = time.perf_counter()
            with self.ctx.autocast():
                found = model.detect(x)
            seconds += time.perf_counter() - start
            images.append(x)
            targets += y
            found = [{k: v.float() if v.is_floating_point() else v for k, v in d.items()} for d in found]
            detections += [{**d, "masks": d["masks"] > MASK_LEVEL} if "masks" in d else d for d in found]
            count += len(x)
        model.train()
        return torch.cat(images), targets, detections, seconds

    @torch.no_grad()
    def detect(self, images: torch.Tensor) -> list[Target]:
        model = self.detector
        model.eval()
        with self.ctx.autocast():
            found = model.detect(images.to(self.ctx.device))
        return [{k: v.float() if v.is_floating_point() else v for k, v in d.items()} for d in found]

    def _average_precision(self) -> tuple[DetectionAP, DetectionAP | None, float]:
        """Box AP, mask AP (None for a model without masks) and test images per second."""
        images, targets, detections, seconds = self.detect_test(self.cfg.eval_limit)
        boxes = mean_average_precision(detections, targets)
        masks = mean_average_precision(detections, targets, iou_type="segm") if "masks" in detections[0] else None
        return boxes, masks, len(images) / max(seconds, 1e-9)

    def evaluate(self) -> dict[str, float]:
        ap, mask_ap, speed = self._average_precision()
        self.last_ap = ap, mask_ap
        metrics = {"test/map_50": ap.map_50, "test/map": ap.map, "test/map_75": ap.map_75}
        if mask_ap is not None:
            metrics |= {"test/mask_map_50": mask_ap.map_50, "test/mask_map": mask_ap.map,
                        "test/mask_map_75": mask_ap.map_75}
        return {**metrics, "time/test_images_per_s": speed}

    def report(self, run_dir: Path | None = None) -> str:
        """AP of each class on the test scenes as a markdown table, of the boxes and, for a model that segments, of
        the masks (of the latest evaluation, if any)."""
        ap, mask_ap = self.last_ap if self.last_ap is not None else self._average_precision()[:2]
        names = list(self.data.meta.class_names)
        header, rule = "| class | AP@0.5 | AP@[.5:.95] |", "|---|---|---|"
        if mask_ap is not None:
            header, rule = header + " mask AP@0.5 | mask AP@[.5:.95] |", rule + "---|---|"
        lines = ["Average precision per class on the test scenes:", "", header, rule]
        for c in sorted(ap.per_class):
            row = f"| {names[c] if c < len(names) else c} | {ap.per_class_50[c]:.3f} | {ap.per_class[c]:.3f} |"
            if mask_ap is not None:
                row += f" {mask_ap.per_class_50[c]:.3f} | {mask_ap.per_class[c]:.3f} |"
            lines.append(row)
        mean = f"| mean | {ap.map_50:.3f} | {ap.map:.3f} |"
        lines.append(mean + (f" {mask_ap.map_50:.3f} | {mask_ap.map:.3f} |" if mask_ap is not None else ""))
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/detections.png: the first test scenes with the detections scoring 0.5 or more."""
        from neuralab.viz.detection import draw_detections

        images, _, detections, _ = self.detect_test(SHOWN)
        confident = [{k: v[d["scores"] >= 0.5] for k, v in d.items()} for d in detections]
        return [draw_detections(images, confident, list(self.data.meta.class_names), plots_dir / "detections.png",
                                title="test scenes: detections scoring >= 0.5")]

    def state_dict(self) -> dict[str, Any]:
        return training_state(self.model, self.optimizer, self.schedule, self.generator)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_training_state(state, self.model, self.optimizer, self.schedule, self.generator)

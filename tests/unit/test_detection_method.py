"""The detection method's evaluation (methods/detection.py) with stand-in detectors that answer with the test
scenes' own instances: box mAP always, mask mAP (test/mask_map_50, test/mask_map, test/mask_map_75) only for a
detector that returns masks, and scored on the masks' overlap, not the boxes'."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuralab.contracts import RunContext
from neuralab.data.detection_scenes import SceneConfig, build_mnist_scenes
from neuralab.methods.detection import Detection, DetectionConfig

MASK_METRICS = {"test/mask_map_50", "test/mask_map", "test/mask_map_75"}


class Oracle(nn.Module):
    """Detects each test scene's true instances (score 0.9); masks: "true" (as probabilities), "box" (the whole
    box filled: right boxes, poor masks) or None (a detector that does not segment)."""

    def __init__(self, split, masks: str | None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))  # the method's optimiser needs a parameter
        self.split, self.masks = split, masks

    def detect(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        pixels = (images * 255).round().to(torch.uint8)
        found = []
        for image in pixels:
            index = torch.nonzero((self.split.images == image).flatten(1).all(1)).flatten()[:1]
            _, (target,) = self.split.batch(index)
            d = {"boxes": target["boxes"], "labels": target["labels"], "scores": torch.full((len(target["boxes"]),),
                                                                                          0.9)}
            if self.masks == "true":
                d["masks"] = target["masks"][:, None].float() * 0.9
            elif self.masks == "box":
                y, x = torch.arange(images.shape[-2]), torch.arange(images.shape[-1])
                b = target["boxes"][:, :, None, None]
                inside = (x >= b[:, 0]) & (x < b[:, 2]) & (y[:, None] >= b[:, 1]) & (y[:, None] < b[:, 3])
                d["masks"] = inside[:, None].float()
            found.append(d)
        return found


@pytest.fixture(scope="module")
def scenes():
    return build_mnist_scenes(SceneConfig(canvas=64, max_objects=3, min_size=20, max_size=28, n_train=4, n_test=12,
                                          batch_size=4), seed=0)


def _method(scenes, masks: str | None) -> Detection:
    ctx = RunContext(total_steps=1, device=torch.device("cpu"), seed=0, run_dir=None)
    return Detection(DetectionConfig(eval_batch_size=5), Oracle(scenes.test, masks), scenes, ctx)


def test_a_detector_without_masks_reports_box_map_only(scenes):
    method = _method(scenes, None)
    metrics = method.evaluate()
    assert metrics["test/map_50"] == pytest.approx(1.0) and metrics["test/map"] == pytest.approx(1.0)
    assert not MASK_METRICS & set(metrics)
    assert "mask AP" not in method.report()


def test_true_masks_score_mask_map_one(scenes):
    method = _method(scenes, "true")
    metrics = method.evaluate()
    assert {k: metrics[k] for k in MASK_METRICS} == pytest.approx(dict.fromkeys(MASK_METRICS, 1.0))
    assert "| mean | 1.000 | 1.000 | 1.000 | 1.000 |" in method.report()


def test_mask_map_scores_the_masks_not_the_boxes(scenes):
    """Filled boxes as masks: the boxes are exact (box mAP 1), but a thin digit covers well under half its box."""
    metrics = _method(scenes, "box").evaluate()
    assert metrics["test/map"] == pytest.approx(1.0)
    # measured: mask mAP@0.5 0.49, mAP 0.15, mAP@0.75 0.10
    assert metrics["test/mask_map_50"] < 0.8 and metrics["test/mask_map"] < 0.4 and metrics["test/mask_map_75"] < 0.3

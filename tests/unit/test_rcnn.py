"""R-CNN and Fast R-CNN (models/detection/rcnn.py, fast_rcnn.py): one interface, detections as torchvision's dicts,
and a batch they can overfit."""

from __future__ import annotations

import pytest
import torch

from neuralab.models.detection.fast_rcnn import FastRCNN, FastRCNNConfig
from neuralab.models.detection.rcnn import RCNN, RCNNConfig
from tests.detection_support import overfit_one_batch

MODELS = [(RCNN, RCNNConfig(image_size=64, width=8, fc_dim=32, max_proposals=40, roi_batch_size=32)),
          (FastRCNN, FastRCNNConfig(image_size=64, width=8, fc_dim=32, max_proposals=40, roi_batch_size=32))]


def _batch():
    images = torch.zeros(2, 1, 64, 64)
    images[0, :, 8:32, 10:30] = 1.0
    images[1, :, 30:60, 4:24] = 1.0
    images[1, :, 5:25, 35:60] = 0.6
    targets = [{"boxes": torch.tensor([[10.0, 8.0, 30.0, 32.0]]), "labels": torch.tensor([3])},
               {"boxes": torch.tensor([[4.0, 30.0, 24.0, 60.0], [35.0, 5.0, 60.0, 25.0]]),
                "labels": torch.tensor([5, 7])}]
    return images, targets


@pytest.mark.parametrize(("cls", "cfg"), MODELS, ids=["rcnn", "fast-rcnn"])
def test_detections_and_losses_follow_torchvision_s_interface(cls, cfg):
    torch.manual_seed(0)
    model = cls(cfg)
    images, targets = _batch()
    losses = model.train()(images, targets, torch.Generator().manual_seed(0))
    assert set(losses) == {"loss_classifier", "loss_box_reg"} and all(torch.isfinite(v) for v in losses.values())
    model.eval()
    with torch.no_grad():
        found, padded = model.detect(images), model(images)
    assert len(found) == 2 and padded.shape == (2, cfg.detections_per_img, 6)
    for i, d in enumerate(found):
        n = len(d["scores"])
        assert set(d) == {"boxes", "labels", "scores"} and d["boxes"].shape == (n, 4)
        assert ((d["labels"] >= 1) & (d["labels"] < cfg.num_classes)).all() and (d["scores"].diff() <= 0).all()
        assert torch.equal(padded[i, :n, 4], d["scores"])


@pytest.mark.parametrize(("cls", "cfg"), MODELS, ids=["rcnn", "fast-rcnn"])
def test_losses_fall_when_overfitting_one_batch(cls, cfg):
    torch.manual_seed(0)
    totals = overfit_one_batch(cls(cfg).train(), *_batch())
    assert sum(totals[-3:]) / 3 < 0.5 * sum(totals[:3]) / 3, totals

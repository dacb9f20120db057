"""R-CNN and Fast R-CNN (models/detection/rcnn.py, fast_rcnn.py): one interface, detections as torchvision's dicts,
and a batch they can overfit."""

from __future__ import annotations

import pytest
import torch

from neuralab.models.detection.fast_rcnn import FastRCNN, FastRCNNConfig
from neuralab.models.detection.rcnn import RCNN, RCNNConfig
from tests.detection_support import overfit_one_batch, small_batch

MODELS = [(RCNN, RCNNConfig(image_size=64, width=8, fc_dim=32, max_proposals=40, roi_batch_size=32)),
          (FastRCNN, FastRCNNConfig(image_size=64, width=8, fc_dim=32, max_proposals=40, roi_batch_size=32))]



@pytest.mark.parametrize(("cls", "cfg"), MODELS, ids=["rcnn", "fast-rcnn"])
def test_detections_and_losses_follow_torchvision_s_interface(cls, cfg):
    torch.manual_seed(0)
    model = cls(cfg)
    images, targets = small_batch()
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
    totals = overfit_one_batch(cls(cfg).train(), *small_batch())
    assert sum(totals[-3:]) / 3 < 0.5 * sum(totals[:3]) / 3, totals

"""Faster R-CNN (models/detection/faster_rcnn.py): output formats, torchvision's matching and sampling on hand
cases, proposals cut from the RPN's graph, and a batch it can overfit."""

from __future__ import annotations

import dataclasses

import torch

from neuralab.detection.matching import batched_box_iou, match, sample
from neuralab.models.detection.faster_rcnn import FasterRCNN, FasterRCNNConfig
from tests.detection_support import overfit_one_batch, small_batch

SMALL = FasterRCNNConfig(image_size=64, width=8, fc_dim=32, rpn_pre_nms_top_n=100, rpn_post_nms_top_n=30,
                         roi_batch_size=32, rpn_batch_size=64)



def _model(cfg: FasterRCNNConfig = SMALL) -> FasterRCNN:
    torch.manual_seed(0)
    return FasterRCNN(cfg)


def test_detections_come_as_torchvision_dicts_and_as_a_padded_tensor():
    model = _model().eval()
    images, _ = small_batch()
    with torch.no_grad():
        found = model.detect(images)
        padded = model(images)
    assert len(found) == 2 and padded.shape == (2, SMALL.detections_per_img, 6)
    assert sum(len(d["scores"]) for d in found) > 0  # untrained, every class scores about 1/11 > score_thresh
    for i, d in enumerate(found):
        assert set(d) == {"boxes", "labels", "scores"}
        n = len(d["scores"])
        assert d["boxes"].shape == (n, 4) and d["labels"].dtype == torch.int64
        assert ((d["labels"] >= 1) & (d["labels"] < SMALL.num_classes)).all()  # never the background
        assert (d["scores"] > SMALL.score_thresh).all() and (d["scores"].diff() <= 0).all()  # best first
        assert (d["boxes"] >= 0).all() and (d["boxes"] <= 64).all()  # clipped to the image
        assert torch.equal(padded[i, :n, 4], d["scores"]) and (padded[i, n:] == 0).all()
        assert torch.equal(padded[i, :n, 5].long(), d["labels"])


def test_training_returns_torchvision_s_four_finite_losses():
    images, targets = small_batch()
    losses = _model().train()(images, targets, torch.Generator().manual_seed(0))
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in losses.values())
    # an untrained head guesses among 11 classes: cross-entropy near log 11
    assert abs(float(losses["loss_classifier"].detach()) - torch.log(torch.tensor(11.0))) < 0.5


def test_matching_follows_the_thresholds_and_keeps_each_box_s_best_anchor():
    iou = torch.tensor([[[0.80, 0.50, 0.20, 0.10, 0.65],   # box 0: anchor 0 is foreground on its own
                         [0.10, 0.60, 0.29, 0.00, 0.00],   # box 1: no anchor reaches 0.7; its best, anchor 1, counts
                         [0.90, 0.90, 0.90, 0.90, 0.90]]])  # padding: must match nothing
    valid = torch.tensor([[True, True, False]])
    matched, labels = match(iou, valid, 0.7, 0.3, low_quality=True)
    assert labels.tolist() == [[1, 1, 0, 0, -1]]  # 0.65 lies between the thresholds: ignored
    assert matched[0, :2].tolist() == [0, 1]
    _, labels = match(iou, valid, 0.7, 0.3, low_quality=False)
    assert labels.tolist() == [[1, -1, 0, 0, -1]]


def test_matching_real_boxes_against_anchors():
    anchors = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 12.0], [20.0, 20.0, 30.0, 30.0],
                            [2.0, 0.0, 12.0, 10.0]])
    gt = torch.tensor([[[0.0, 0.0, 10.0, 11.0]]])
    iou = batched_box_iou(gt, anchors[None])
    assert torch.allclose(iou[0, 0], torch.tensor([100 / 110, 110 / 120, 0.0, 80 / 130]))
    _, labels = match(iou, torch.tensor([[True]]), 0.7, 0.3, low_quality=True)
    assert labels.tolist() == [[1, 1, 0, -1]]


def test_sampling_takes_at_most_the_foreground_share_and_fills_with_background():
    labels = torch.full((2, 200), 0)
    labels[0, :3] = 1  # few foreground: all are taken, background fills the rest
    labels[1, :50] = 1  # many: a half of the batch at most
    labels[:, 190:] = -1  # ignored: never sampled
    fg, bg = sample(labels, 16, 0.5, torch.Generator().manual_seed(0))
    assert fg.sum(1).tolist() == [3, 8] and bg.sum(1).tolist() == [13, 8]
    assert (labels[fg] == 1).all() and (labels[bg] == 0).all()
    fg2, _ = sample(labels, 16, 0.5, torch.Generator().manual_seed(1))
    assert not torch.equal(fg[1], fg2[1])  # random among the candidates, seeded


def test_proposals_are_detached_so_the_box_head_does_not_train_the_rpn():
    model = _model().train()
    images, targets = small_batch()
    losses = model(images, targets, torch.Generator().manual_seed(0))
    (losses["loss_classifier"] + losses["loss_box_reg"]).backward()
    assert model.rpn_objectness.weight.grad is None and model.rpn_deltas.weight.grad is None
    assert model.cls_score.weight.grad.abs().sum() > 0 and model.backbone[0][0].weight.grad.abs().sum() > 0


def test_losses_fall_when_overfitting_one_batch():
    totals = overfit_one_batch(_model(dataclasses.replace(SMALL, width=12)).train(), *small_batch())
    assert sum(totals[-3:]) / 3 < 0.5 * sum(totals[:3]) / 3, totals

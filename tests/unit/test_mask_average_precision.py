"""Mask AP (`mean_average_precision(..., iou_type="segm")`): a hand case, and pycocotools' COCOeval ("segm") on
generated instance masks and predictions around them."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from neuralab.detection.average_precision import mean_average_precision

H, W = 40, 56


def _box(mask: np.ndarray) -> list[float]:
    rows, cols = np.nonzero(mask)
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def test_mask_iou_decides_where_box_iou_would_not():
    """Two L-shaped instances with the same box: the boxes cannot tell them apart, the masks can."""
    shapes = np.zeros((2, 10, 10), bool)
    shapes[0, :, :3], shapes[0, -3:, :] = True, True  # an L: left column band and bottom row band (51 pixels)
    shapes[1, :3, :], shapes[1, :, -3:] = True, True  # its mirror: top band and right band (51 pixels), 18 in common
    masks = torch.from_numpy(shapes).float()[:, None]  # as probabilities (n, 1, H, W)
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    targets = [{"boxes": box, "labels": torch.tensor([1]), "masks": torch.from_numpy(shapes[:1]).to(torch.uint8)}]
    wrong = [{"boxes": box, "labels": torch.tensor([1]), "scores": torch.tensor([0.9]), "masks": masks[1:] * 0.8}]
    assert mean_average_precision(wrong, targets).map == pytest.approx(1.0)  # boxes coincide
    assert mean_average_precision(wrong, targets, iou_type="segm").map_50 == 0.0  # IoU 18 / 84 < 0.5
    right = [{**wrong[0], "masks": masks[:1] * 0.6}]
    assert mean_average_precision(right, targets, iou_type="segm").map == pytest.approx(1.0)
    faint = [{**wrong[0], "masks": masks[:1] * 0.5}]  # nothing above 0.5
    assert mean_average_precision(faint, targets, iou_type="segm").map == 0.0
    with pytest.raises(ValueError, match="iou_type"):
        mean_average_precision(right, targets, iou_type="keypoints")


def _blob(rng: np.random.Generator) -> np.ndarray:
    """A random ellipse with a rectangular bite out of it, somewhere in the image."""
    cy, cx = rng.uniform(6, H - 6), rng.uniform(6, W - 6)
    ry, rx = rng.uniform(5, 14), rng.uniform(5, 14)
    y, x = np.mgrid[:H, :W]
    mask = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
    mask[int(cy): int(cy + ry * rng.uniform(0, 1)), int(cx): int(cx + rx * rng.uniform(0, 1))] = False
    mask[int(cy), int(cx)] = True  # never empty
    return mask


def _jitter(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mask shifted by a pixel or two and with some pixels along its edge flipped: predictions of every
    quality."""
    shifted = np.roll(mask, (int(rng.integers(-2, 3)), int(rng.integers(-2, 3))), axis=(0, 1))
    edge = shifted ^ np.roll(shifted, 1, axis=0) | shifted ^ np.roll(shifted, 1, axis=1)
    out = shifted ^ (edge & (rng.uniform(size=mask.shape) < rng.uniform(0, 0.5)))
    out[np.nonzero(mask)[0][0], np.nonzero(mask)[1][0]] = True  # never empty
    return out


def generated_masks(seed: int, n_images: int = 16) -> tuple[list[dict], list[dict]]:
    """Instances of three classes (some crowds, one image without any) and predicted masks around them: jittered
    hits, wrong labels, duplicates, background blobs, an image without predictions and one with 120 of one class.
    Predicted masks are probabilities, ground-truth masks uint8, as a Mask R-CNN and the scenes give them."""
    rng = np.random.default_rng(seed)
    predictions, targets = [], []
    for i in range(n_images):
        n = 0 if i == 3 else int(rng.integers(1, 6))
        gt = [_blob(rng) for _ in range(n)]
        labels = rng.integers(1, 4, n)
        crowd = (rng.uniform(size=n) < 0.15).astype(np.int64)
        masks, det_labels, scores = [], [], []
        for mask, label in zip(gt, labels, strict=True):
            for _ in range(int(rng.integers(0, 3))):
                masks.append(_jitter(mask, rng))
                det_labels.append(label if rng.uniform() < 0.85 else int(rng.integers(1, 4)))
                scores.append(rng.uniform(0.3, 1.0))  # hits mostly score above the background
        n_background = 120 if i == 5 else int(rng.integers(0, 4))
        for _ in range(n_background):
            masks.append(_blob(rng))
            det_labels.append(1 if i == 5 else int(rng.integers(1, 4)))
            scores.append(rng.uniform(0.0, 0.7))
        if i == 7:
            masks, det_labels, scores = [], [], []
        gt_masks = np.array(gt, dtype=np.uint8).reshape(n, H, W)
        levels = rng.uniform(0.51, 1.0, (len(masks), 1, 1))  # probabilities: a mask covers what lies above 0.5
        prob = (np.array(masks, dtype=np.float64).reshape(-1, H, W) * levels
                + (1 - np.array(masks, dtype=np.float64).reshape(-1, H, W)) * rng.uniform(0, 0.5, (len(masks), H, W)))
        targets.append({"boxes": torch.tensor([_box(m) for m in gt]).reshape(n, 4), "labels": torch.tensor(labels),
                        "iscrowd": torch.tensor(crowd), "masks": torch.from_numpy(gt_masks)})
        predictions.append({"boxes": torch.tensor([_box(m) for m in masks]).reshape(-1, 4),
                            "labels": torch.tensor(det_labels, dtype=torch.int64),
                            "scores": torch.tensor(scores, dtype=torch.float64),
                            "masks": torch.from_numpy(prob).float()[:, None]})
    return predictions, targets


def coco_segm_eval(predictions: list[dict], targets: list[dict]):
    """COCOeval ("segm") on the same images, masks as pycocotools' RLEs."""
    coco_module = pytest.importorskip("pycocotools.coco", reason="pycocotools (dev extra) is the oracle")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    mask_utils = pytest.importorskip("pycocotools.mask")

    def rle(mask: torch.Tensor) -> dict:
        return mask_utils.encode(np.asfortranarray(mask.numpy().astype(np.uint8)))

    annotations, results = [], []
    for i, (pred, target) in enumerate(zip(predictions, targets, strict=True)):
        for mask, label, crowd in zip(target["masks"], target["labels"], target["iscrowd"], strict=True):
            segmentation = rle(mask)
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(label),
                                "segmentation": segmentation, "area": float(mask_utils.area(segmentation)),
                                "bbox": list(mask_utils.toBbox(segmentation)), "iscrowd": int(crowd)})
        for mask, label, score in zip(pred["masks"], pred["labels"], pred["scores"], strict=True):
            results.append({"image_id": i + 1, "category_id": int(label), "segmentation": rle(mask[0] > 0.5),
                            "score": float(score)})
    ground_truth = coco_module.COCO()
    ground_truth.dataset = {"images": [{"id": i + 1, "height": H, "width": W} for i in range(len(targets))],
                            "annotations": annotations, "categories": [{"id": c} for c in (1, 2, 3)]}
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth.createIndex()
        evaluation = cocoeval.COCOeval(ground_truth, ground_truth.loadRes(results), "segm")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


@pytest.mark.parametrize("seed", [0, 1])
def test_mask_map_matches_pycocotools_on_generated_masks(seed):
    predictions, targets = generated_masks(seed)
    evaluation = coco_segm_eval(predictions, targets)
    ours = mean_average_precision(predictions, targets, iou_type="segm")
    assert 0.1 < evaluation.stats[0] < 0.9  # neither trivial nor hopeless
    assert ours.map == pytest.approx(evaluation.stats[0], abs=1e-9)
    assert ours.map_50 == pytest.approx(evaluation.stats[1], abs=1e-9)
    assert ours.map_75 == pytest.approx(evaluation.stats[2], abs=1e-9)
    precision = evaluation.eval["precision"][:, :, :, 0, 2]  # (T, R, classes) at area "all", 100 detections
    coco_per_class = {c: float(precision[:, :, k].mean()) for k, c in enumerate((1, 2, 3)) if precision[0, 0, k] > -1}
    assert ours.per_class == pytest.approx(coco_per_class, abs=1e-9)
    # the masks change the answer: box AP on the same predictions is another number
    assert mean_average_precision(predictions, targets).map != pytest.approx(ours.map, abs=1e-3)

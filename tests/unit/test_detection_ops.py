"""neuralab.detection's building blocks against hand computations and against plain-loop transcriptions of
torchvision's CPU kernels (torchvision does not import here); mAP also against pycocotools' COCOeval on generated
predictions where pycocotools is installed (dev extra)."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch

from neuralab.detection.anchors import AnchorGenerator, base_anchors, grid_anchors
from neuralab.detection.average_precision import mean_average_precision
from neuralab.detection.boxes import BBOX_XFORM_CLIP, BoxCoder, box_area, box_iou, clip_boxes, remove_small_boxes
from neuralab.detection.nms import batched_nms, nms
from neuralab.detection.roi import roi_align, roi_pool


def random_boxes(n: int, generator: torch.Generator, low: float = 0.0, high: float = 100.0) -> torch.Tensor:
    corner = torch.rand(n, 2, generator=generator, dtype=torch.float64) * (high - low) + low
    size = torch.rand(n, 2, generator=generator, dtype=torch.float64) * (high - low) / 3 + 1
    return torch.cat((corner, corner + size), dim=1)


# ----------------------------------------------------------------------------------------------------- boxes


def test_iou_of_two_boxes_by_hand():
    # [0, 0, 2, 2] and [1, 1, 3, 3]: each of area 4, they share the unit square [1, 2] x [1, 2];
    # IoU = 1 / (4 + 4 - 1) = 1/7. A disjoint box has IoU 0, a box with itself 1.
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 2.0, 2.0]])
    torch.testing.assert_close(box_iou(a, b), torch.tensor([[1 / 7, 0.0, 1.0]]))
    assert box_iou(a, b).shape == (1, 3) and box_iou(b, a).shape == (3, 1)
    torch.testing.assert_close(box_area(b), torch.tensor([4.0, 1.0, 4.0]))


def test_clip_and_remove_small_boxes():
    boxes = torch.tensor([[-5.0, -2.0, 30.0, 8.0], [10.0, 12.0, 11.0, 20.0], [3.0, 3.0, 6.0, 6.0]])
    # an image 10 high and 20 wide: x into [0, 20], y into [0, 10]
    torch.testing.assert_close(clip_boxes(boxes, (10, 20)),
                               torch.tensor([[0.0, 0.0, 20.0, 8.0], [10.0, 10.0, 11.0, 10.0], [3.0, 3.0, 6.0, 6.0]]))
    # widths 35, 1, 3 and heights 10, 8, 3: only the 1-wide box is under 2 in one side
    assert remove_small_boxes(boxes, 2.0).tolist() == [0, 2]
    assert remove_small_boxes(boxes, 3.0).tolist() == [0, 2]  # a side equal to min_size is kept
    assert remove_small_boxes(boxes, 3.5).tolist() == [0]


def test_box_coder_hand_delta_and_round_trip():
    coder = BoxCoder()  # weights (10, 10, 5, 5)
    # proposal [0, 0, 10, 10]: centre (5, 5), size 10 x 10; ground truth [2, 1, 12, 21]: centre (7, 11), 10 x 20
    # dx = 10 (7 - 5) / 10 = 2, dy = 10 (11 - 5) / 10 = 6, dw = 5 log(10 / 10) = 0, dh = 5 log(20 / 10) = 5 ln 2
    proposal = torch.tensor([[0.0, 0.0, 10.0, 10.0]], dtype=torch.float64)
    truth = torch.tensor([[2.0, 1.0, 12.0, 21.0]], dtype=torch.float64)
    deltas = coder.encode(truth, proposal)
    torch.testing.assert_close(deltas, torch.tensor([[2.0, 6.0, 0.0, 5 * math.log(2)]], dtype=torch.float64))
    torch.testing.assert_close(coder.decode(deltas, proposal), truth)

    generator = torch.Generator().manual_seed(0)
    proposals, truths = random_boxes(50, generator), random_boxes(50, generator)
    for weights in ((10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0)):
        coder = BoxCoder(weights)
        torch.testing.assert_close(coder.decode(coder.encode(truths, proposals), proposals), truths)
    # K boxes per reference (one per class): (N, 4 K) deltas decode to (N, 4 K) boxes, each slot on its own
    two = coder.decode(torch.cat((coder.encode(truths, proposals), torch.zeros(50, 4, dtype=torch.float64)), 1),
                       proposals)
    torch.testing.assert_close(two[:, :4], truths)
    torch.testing.assert_close(two[:, 4:], proposals)


def test_box_coder_clamps_the_log_scale():
    coder = BoxCoder()
    # dw / 5 = 100 is clamped to log(1000 / 16): the 10-wide box grows to 10 * 62.5 = 625 around its centre 5
    box = coder.decode(torch.tensor([[0.0, 0.0, 500.0, 0.0]]), torch.tensor([[0.0, 0.0, 10.0, 10.0]]))
    assert BBOX_XFORM_CLIP == pytest.approx(math.log(62.5))
    torch.testing.assert_close(box, torch.tensor([[5 - 312.5, 0.0, 5 + 312.5, 10.0]]))


# ------------------------------------------------------------------------------------------------------- NMS


def reference_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """torchvision's CPU kernel as a plain loop: by decreasing score, keep a box unless a kept one overlaps it
    by more than the threshold."""
    iou = box_iou(boxes, boxes).tolist()  # checked by hand above
    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda j: -float(scores[j])):
        if all(iou[i][j] <= threshold for j in kept):
            kept.append(i)
    return kept


def test_nms_on_a_hand_made_set():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0],  # A, 0.90
                          [1.0, 0.0, 11.0, 10.0],  # B, 0.80: IoU(A, B) = 90 / 110 = 0.818
                          [20.0, 20.0, 30.0, 30.0],  # C, 0.70: far from all
                          [0.0, 1.0, 10.0, 11.0]])  # D, 0.95: IoU(D, A) = 90 / 110 = 0.818, IoU(D, B) = 81 / 119 = 0.68
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    # threshold 0.5: D is kept and removes A and B; C is kept
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    # threshold 0.7: D removes A (0.818) but not B (0.68); A, gone, no longer removes B, which is kept
    assert nms(boxes, scores, 0.7).tolist() == [3, 1, 2]
    # an IoU equal to the threshold does not suppress: [0, 0, 4, 1] and [0, 0, 2, 1] have IoU 2 / 4 = 0.5
    assert nms(torch.tensor([[0.0, 0.0, 4.0, 1.0], [0.0, 0.0, 2.0, 1.0]]), torch.tensor([0.4, 0.6]), 0.5).tolist() == [
        1, 0]
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).tolist() == []


def test_nms_along_a_chain_of_boxes():
    # 300 boxes 10 wide, each 1 pixel right of the previous and less confident: box i overlaps box i + k with IoU
    # (10 - k) / (10 + k), above 0.3 for k <= 5. Greedy keeps 0, drops 1..5, keeps 6, ...: every sixth box; each
    # decision hangs on the one before, across the block boundary at 256 too
    x = torch.arange(300.0)
    boxes = torch.stack((x, torch.zeros(300), x + 10, torch.full((300,), 10.0)), dim=1)
    assert nms(boxes, 1 - x / 300, 0.3).tolist() == list(range(0, 300, 6))


def test_nms_matches_the_plain_loop_on_random_boxes():
    generator = torch.Generator().manual_seed(1)
    # 600 boxes: three of nms's blocks of 256, so kept boxes of one block suppress boxes of the next
    boxes, scores = random_boxes(600, generator, high=45.0), torch.rand(600, generator=generator, dtype=torch.float64)
    counts = []
    for threshold in (0.3, 0.5, 0.7):
        kept = nms(boxes, scores, threshold)
        assert kept.dtype == torch.int64
        assert kept.tolist() == reference_nms(boxes, scores, threshold)
        counts.append(len(kept))
    assert counts[0] < counts[1] < counts[2] < len(boxes)  # every threshold suppresses, each a different set


def test_batched_nms_suppresses_within_labels_only():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 10.0, 10.0], [1.0, 0.0, 11.0, 10.0]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    # the same box twice under labels 0 and 1 survives twice; box 2 (label 0) overlaps box 0 (IoU 0.818)
    assert batched_nms(boxes, scores, torch.tensor([0, 1, 0]), 0.5).tolist() == [0, 1]
    assert batched_nms(boxes, scores, torch.tensor([0, 0, 0]), 0.5).tolist() == [0]
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).tolist() == []
    # all coordinates negative, the largest -1: an offset of (max + 1) per label would be 0 and merge the labels;
    # the span (-1 - -5 + 1 = 5) moves label 1's box to [0, 0, 4, 4], clear of label 0's
    negative = torch.tensor([[-5.0, -5.0, -1.0, -1.0], [-5.0, -5.0, -1.0, -1.0]])
    assert batched_nms(negative, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), 0.5).tolist() == [0, 1]

    generator = torch.Generator().manual_seed(2)
    # coordinates on both sides of 0: the label offsets must exceed the span of the coordinates, not their maximum
    boxes = random_boxes(80, generator, low=-60.0, high=20.0)
    scores = torch.rand(80, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 4, (80,), generator=generator)
    expected = torch.cat([torch.where(labels == c)[0][nms(boxes[labels == c], scores[labels == c], 0.4)]
                          for c in range(4)])
    expected = expected[torch.sort(scores[expected], descending=True).indices]
    assert batched_nms(boxes, scores, labels, 0.4).tolist() == expected.tolist()


# ------------------------------------------------------------------------------------------------- RoI ops


def reference_bilinear(f: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """torchvision's bilinear_interpolate on a (C, H, W) map."""
    height, width = f.shape[-2:]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return torch.zeros(f.shape[0], dtype=f.dtype)
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_high = y_low = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_high = x_low = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    return (hy * hx * f[:, y_low, x_low] + hy * lx * f[:, y_low, x_high] + ly * hx * f[:, y_high, x_low]
            + ly * lx * f[:, y_high, x_high])


def reference_roi_align(features, rois, size, scale, sampling_ratio, aligned):
    """torchvision's roi_align_forward_kernel_impl, one region, bin and sampling point at a time."""
    out = torch.zeros(len(rois), features.shape[1], *size, dtype=features.dtype)
    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        start_w, start_h = x1 * scale - offset, y1 * scale - offset
        roi_w, roi_h = x2 * scale - offset - start_w, y2 * scale - offset - start_h
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / size[0], roi_w / size[1]
        grid_h = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_h / size[0])
        grid_w = sampling_ratio if sampling_ratio > 0 else math.ceil(roi_w / size[1])
        count = max(grid_h * grid_w, 1)
        for ph in range(size[0]):
            for pw in range(size[1]):
                total = torch.zeros(features.shape[1], dtype=features.dtype)
                for iy in range(grid_h):
                    y = start_h + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        x = start_w + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        total += reference_bilinear(features[int(b)], y, x)
                out[k, :, ph, pw] = total / count
    return out


def reference_roi_pool(features, rois, size, scale):
    """torchvision's roi_pool_forward_kernel_impl, one region and bin at a time."""
    height, width = features.shape[-2:]
    out = torch.zeros(len(rois), features.shape[1], *size, dtype=features.dtype)

    def c_round(v: float) -> int:
        return int(math.copysign(math.floor(abs(v) + 0.5), v))

    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        start_w, start_h, end_w, end_h = (c_round(v * scale) for v in (x1, y1, x2, y2))
        bin_h, bin_w = max(end_h - start_h + 1, 1) / size[0], max(end_w - start_w + 1, 1) / size[1]
        for ph in range(size[0]):
            for pw in range(size[1]):
                h0 = min(max(math.floor(ph * bin_h) + start_h, 0), height)
                h1 = min(max(math.ceil((ph + 1) * bin_h) + start_h, 0), height)
                w0 = min(max(math.floor(pw * bin_w) + start_w, 0), width)
                w1 = min(max(math.ceil((pw + 1) * bin_w) + start_w, 0), width)
                if h1 > h0 and w1 > w0:
                    out[k, :, ph, pw] = features[int(b), :, h0:h1, w0:w1].amax(dim=(1, 2))
    return out


def random_rois(n: int, batch: int, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    """Regions of every kind: inside, across the border, outside, smaller than a cell, and a few inverted."""
    corners = torch.rand(n, 4, generator=generator, dtype=torch.float64) * (high - low) + low
    corners[: n // 2, 2:] = corners[: n // 2, :2] + torch.rand(n // 2, 2, generator=generator, dtype=torch.float64) * 8
    corners[n // 2 : n // 2 + 3, 2:] = corners[n // 2 : n // 2 + 3, :2] + 0.3
    index = torch.randint(0, batch, (n, 1), generator=generator).double()
    return torch.cat((index, corners), dim=1)


SQUARES = (torch.arange(16.0) ** 2).reshape(1, 1, 4, 4)  # f[y, x] = (4 y + x)^2: 0 1 4 9 / 16 25 36 49 / 64 81 ...


def test_roi_align_bilinear_value_by_hand():
    # region [0.5, 0.5, 2.5, 2.5], one bin, one sample: at its centre (1.5, 1.5), a quarter of each of
    # f[1, 1] = 25, f[1, 2] = 36, f[2, 1] = 81, f[2, 2] = 100 -> 242 / 4 = 60.5
    rois = torch.tensor([[0.0, 0.5, 0.5, 2.5, 2.5]])
    assert roi_align(SQUARES, rois, 1, sampling_ratio=1).item() == pytest.approx(60.5)
    # region [0, 0, 3, 2]: centre x = 1.5, y = 1.0 -> halfway between f[1, 1] = 25 and f[1, 2] = 36 = 30.5
    assert roi_align(SQUARES, torch.tensor([[0.0, 0.0, 0.0, 3.0, 2.0]]), 1, sampling_ratio=1).item() == pytest.approx(
        30.5)
    # aligned: region [1, 1, 2, 3] shifts by half a cell to [0.5, 0.5, 1.5, 2.5], centre x = 1.0, y = 1.5 ->
    # halfway between f[1, 1] = 25 and f[2, 1] = 81 = 53
    rois = torch.tensor([[0.0, 1.0, 1.0, 2.0, 3.0]])
    assert roi_align(SQUARES, rois, 1, sampling_ratio=1, aligned=True).item() == pytest.approx(53.0)
    # 2 x 2 samples per bin of region [0, 0, 2, 2] (2 x 2 bins of one cell): bin (0, 0) samples (0.25, 0.25),
    # (0.25, 0.75), (0.75, 0.25), (0.75, 0.75); on f = 4 y + x (linear, so interpolation is exact) the mean is
    # 4 * 0.5 + 0.5 = 2.5, bin (1, 1): 4 * 1.5 + 1.5 = 7.5
    linear = torch.arange(16.0).reshape(1, 1, 4, 4)
    pooled = roi_align(linear, torch.tensor([[0.0, 0.0, 0.0, 2.0, 2.0]]), 2, sampling_ratio=2)
    torch.testing.assert_close(pooled[0, 0], torch.tensor([[2.5, 3.5], [6.5, 7.5]]))


def test_roi_pool_by_hand():
    linear = torch.arange(16.0).reshape(1, 1, 4, 4)  # f[y, x] = 4 y + x
    # region [0, 0, 3, 3] covers cells 0..3 (end included): bins of 2 cells, maxima f[1, 1], f[1, 3], f[3, 1], f[3, 3]
    pooled = roi_pool(linear, torch.tensor([[0.0, 0.0, 0.0, 3.0, 3.0]]), 2)
    torch.testing.assert_close(pooled[0, 0], torch.tensor([[5.0, 7.0], [13.0, 15.0]]))
    # scale 0.5: corners 0.5 and 2.5 round away from zero to 1 and 3 (not to even, 0 and 2): cells 1..3, max f[3, 3]
    assert roi_pool(linear, torch.tensor([[0.0, 1.0, 1.0, 5.0, 5.0]]), 1, spatial_scale=0.5).item() == 15.0
    # a region entirely off the map pools to 0
    assert roi_pool(linear, torch.tensor([[0.0, 10.0, 10.0, 12.0, 12.0]]), 2).abs().sum() == 0


@pytest.mark.parametrize(("sampling_ratio", "aligned"), [(-1, False), (2, False), (-1, True), (1, True)])
def test_roi_align_matches_torchvisions_kernel(sampling_ratio, aligned):
    generator = torch.Generator().manual_seed(3)
    features = torch.randn(2, 3, 7, 9, generator=generator, dtype=torch.float64)
    rois = random_rois(14, 2, generator, low=-6.0, high=22.0)  # image pixels at scale 0.5: the map spans 14 x 18
    expected = reference_roi_align(features, rois, (3, 2), 0.5, sampling_ratio, aligned)
    torch.testing.assert_close(roi_align(features, rois, (3, 2), 0.5, sampling_ratio, aligned), expected)


def test_roi_pool_matches_torchvisions_kernel():
    generator = torch.Generator().manual_seed(4)
    features = torch.randn(2, 3, 7, 9, generator=generator, dtype=torch.float64)
    rois = random_rois(14, 2, generator, low=-6.0, high=22.0)
    torch.testing.assert_close(roi_pool(features, rois, (3, 2), 0.5), reference_roi_pool(features, rois, (3, 2), 0.5))


def test_roi_ops_take_a_list_of_boxes_per_image():
    generator = torch.Generator().manual_seed(5)
    features = torch.randn(2, 3, 8, 8, generator=generator)
    per_image = [torch.tensor([[1.0, 1.0, 6.0, 5.0]]), torch.tensor([[0.0, 2.0, 4.0, 7.0], [3.0, 3.0, 7.5, 7.5]])]
    rows = torch.tensor([[0.0, 1.0, 1.0, 6.0, 5.0], [1.0, 0.0, 2.0, 4.0, 7.0], [1.0, 3.0, 3.0, 7.5, 7.5]])
    torch.testing.assert_close(roi_align(features, per_image, 2, sampling_ratio=2), roi_align(features, rows, 2,
                                                                                               sampling_ratio=2))
    torch.testing.assert_close(roi_pool(features, per_image, 2), roi_pool(features, rows, 2))
    assert roi_align(features, rows, (3, 4)).shape == (3, 3, 3, 4)


def test_roi_ops_gradients_reach_the_features():
    generator = torch.Generator().manual_seed(6)
    features = torch.randn(2, 2, 5, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    rois = torch.tensor([[0.0, 0.3, 0.7, 4.2, 3.9], [1.0, -0.8, 1.1, 5.6, 4.7], [1.0, 2.0, 2.0, 3.0, 3.0]],
                        dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, 2, sampling_ratio=2), (features,))
    assert torch.autograd.gradcheck(lambda f: roi_align(f, rois, (2, 3), 0.9, -1, True), (features,))
    assert torch.autograd.gradcheck(lambda f: roi_pool(f, rois, 2), (features,))


# --------------------------------------------------------------------------------------------------- anchors


def test_anchors_by_hand():
    # ratio r = h / w at size 32: w = 32 / sqrt(r), h = 32 sqrt(r), halves rounded:
    # r = 0.5: w / 2 = 16 sqrt(2) = 22.63 -> 23, h / 2 = 16 / sqrt(2) = 11.31 -> 11; r = 1: 16, 16; r = 2: 11, 23
    base = base_anchors((32,), (0.5, 1.0, 2.0))
    expected = torch.tensor([[-23.0, -11.0, 23.0, 11.0], [-16.0, -16.0, 16.0, 16.0], [-11.0, -23.0, 11.0, 23.0]])
    torch.testing.assert_close(base, expected)
    # two sizes: ratio-major, sizes inner (r = 0.5 at 64: 45.25 -> 45, 22.63 -> 23)
    torch.testing.assert_close(base_anchors((32, 64), (0.5, 1.0))[:3],
                               torch.tensor([[-23.0, -11.0, 23.0, 11.0], [-45.0, -23.0, 45.0, 23.0],
                                             [-16.0, -16.0, 16.0, 16.0]]))
    # a 2 x 3 grid (height 2, width 3) at stride 16: cells row-major, every base anchor at each cell
    anchors = grid_anchors(base, (2, 3), (16, 16))
    assert anchors.shape == (2 * 3 * 3, 4)
    torch.testing.assert_close(anchors[:3], expected)  # cell (0, 0) at pixel (0, 0)
    torch.testing.assert_close(anchors[3], torch.tensor([16 - 23.0, -11.0, 16 + 23.0, 11.0]))  # cell (0, 1)
    torch.testing.assert_close(anchors[3 * 3 + 1], torch.tensor([-16.0, 16 - 16.0, 16.0, 16 + 16.0]))  # cell (1, 0)


def test_anchor_generator_over_two_levels():
    generator = AnchorGenerator(sizes=((32,), (64,)), aspect_ratios=((0.5, 1.0, 2.0), (1.0,)))
    assert generator.num_anchors_per_location() == [3, 1]
    maps = [torch.zeros(2, 8, 4, 4), torch.zeros(2, 8, 2, 2)]
    anchors = generator((64, 64), maps)  # strides 64 // 4 = 16 and 64 // 2 = 32
    assert anchors.shape == (4 * 4 * 3 + 2 * 2, 4)
    torch.testing.assert_close(anchors[48:], torch.tensor([[-32.0, -32.0, 32.0, 32.0], [0.0, -32.0, 64.0, 32.0],
                                                           [-32.0, 0.0, 32.0, 64.0], [0.0, 0.0, 64.0, 64.0]]))


# ------------------------------------------------------------------------------------------------------- mAP

A, B, C = [0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [50.0, 50.0, 60.0, 60.0]


def image(boxes, labels, scores=None, iscrowd=None):
    out = {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), "labels": torch.tensor(labels)}
    if scores is not None:
        out["scores"] = torch.tensor(scores)
    if iscrowd is not None:
        out["iscrowd"] = torch.tensor(iscrowd)
    return out


def test_map_of_perfect_predictions_is_one():
    targets = [image([A, B], [1, 2]), image([C], [1])]
    predictions = [image([B, A], [2, 1], [0.3, 0.9]), image([C], [1], [0.5])]
    result = mean_average_precision(predictions, targets)
    # 1 up to COCO's epsilon in precision = tp / (tp + fp + eps)
    assert (result.map, result.map_50, result.map_75) == pytest.approx((1.0, 1.0, 1.0), abs=1e-15)
    assert result.per_class == pytest.approx({1: 1.0, 2: 1.0}, abs=1e-15)


def test_map_with_a_false_positive_ranked_first():
    # two ground truths; detections: a false positive (0.9), then both hits (0.8, 0.7)
    # cumulative (recall, precision): (0, 0), (1/2, 1/2), (1, 2/3); the envelope is 2/3 at every recall,
    # so each of the 101 recall levels reads 2/3: AP = 2/3 at every IoU threshold (the hits are exact)
    targets = [image([A, B], [1, 1])]
    predictions = [image([C, A, B], [1, 1, 1], [0.9, 0.8, 0.7])]
    result = mean_average_precision(predictions, targets)
    assert result.map_50 == pytest.approx(2 / 3) and result.map == pytest.approx(2 / 3)


def test_map_with_a_missed_ground_truth_and_an_image_without_predictions():
    # A is found (recall 1/2, precision 1); B, in an image with no predictions, is missed: recall never passes 1/2,
    # so the levels 0, 0.01, ..., 0.50 (51 of them) read 1 and the other 50 read 0: AP = 51 / 101
    targets = [image([A], [1]), image([B], [1])]
    predictions = [image([A], [1], [0.9]), image([], [], [])]
    result = mean_average_precision(predictions, targets)
    assert result.map_50 == pytest.approx(51 / 101) and result.map == pytest.approx(51 / 101)


def test_map_counts_a_duplicate_detection_as_a_false_positive():
    # A twice (0.9, 0.8) then B (0.7): the second A finds A already matched -> false positive.
    # (recall, precision): (1/2, 1), (1/2, 1/2), (1, 2/3); envelope 1 up to recall 1/2, then 2/3:
    # AP = (51 * 1 + 50 * 2/3) / 101 = 84.33 / 101 = 0.835
    targets = [image([A, B], [1, 1])]
    predictions = [image([A, A, B], [1, 1, 1], [0.9, 0.8, 0.7])]
    assert mean_average_precision(predictions, targets).map_50 == pytest.approx((51 + 100 / 3) / 101)


def test_map_over_iou_thresholds_and_classes():
    # class 1: a detection [0, 0, 10, 6.8] of A has IoU 68 / 100 = 0.68: a hit at 0.5, 0.55, 0.6, 0.65, a miss at
    # 0.7 ... 0.95 -> AP 1 at 4 of the 10 thresholds: 0.4; class 2: exact, 1.0; class 7: only predicted, ignored
    targets = [image([A, B], [1, 2])]
    predictions = [image([[0.0, 0.0, 10.0, 6.8], B, C], [1, 2, 7], [0.9, 0.8, 0.99])]
    result = mean_average_precision(predictions, targets)
    assert result.per_class == pytest.approx({1: 0.4, 2: 1.0})
    assert result.per_class_50 == pytest.approx({1: 1.0, 2: 1.0})
    assert (result.map, result.map_50, result.map_75) == pytest.approx((0.7, 1.0, 0.5))


def test_map_ignores_detections_of_crowd_regions():
    # the 0.95 detection lies inside a crowd region: neither a hit nor a false positive, so A's hit gives AP 1
    # (were it a false positive, AP would be 1/2); a class whose only box is a crowd has no AP
    targets = [image([A, [40.0, 40.0, 80.0, 80.0], B], [1, 1, 2], iscrowd=[0, 1, 1])]
    predictions = [image([C, A, B], [1, 1, 2], [0.95, 0.9, 0.5])]
    result = mean_average_precision(predictions, targets)
    assert result.per_class == pytest.approx({1: 1.0}) and result.map == pytest.approx(1.0)
    without_crowd = mean_average_precision(predictions, [image([A], [1])])
    assert without_crowd.map == pytest.approx(0.5)
    assert mean_average_precision([image([], [], [])], [image([], [])]).map == -1.0


def generated_detections(seed: int, n_images: int = 20) -> tuple[list[dict], list[dict]]:
    """Ground truths of three classes (some crowds, one empty image) and predictions around them: jittered hits of
    every quality, wrong labels, duplicates, background boxes, an image without predictions and one with 120
    detections of one class (past COCO's 100 per image)."""
    rng = np.random.default_rng(seed)
    predictions, targets = [], []
    for i in range(n_images):
        n = 0 if i == 3 else int(rng.integers(1, 7))
        corner = rng.uniform(0, 80, (n, 2))
        gt = np.concatenate((corner, corner + rng.uniform(4, 30, (n, 2))), 1)
        labels = rng.integers(1, 4, n)
        crowd = (rng.uniform(size=n) < 0.1).astype(np.int64)
        boxes, det_labels = [], []
        for box, label in zip(gt, labels, strict=True):
            for _ in range(int(rng.integers(0, 3))):
                size = np.tile(box[2:] - box[:2], 2)
                boxes.append(box + rng.normal(0, 0.06, 4) * size)
                det_labels.append(label if rng.uniform() < 0.85 else int(rng.integers(1, 5)))
        n_background = 120 if i == 5 else int(rng.integers(0, 4))
        for _ in range(n_background):
            corner = rng.uniform(0, 90, 2)
            boxes.append(np.concatenate((corner, corner + rng.uniform(3, 25, 2))))
            det_labels.append(1 if i == 5 else int(rng.integers(1, 5)))
        if i == 7:
            boxes, det_labels = [], []
        boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        targets.append({"boxes": torch.tensor(gt), "labels": torch.tensor(labels), "iscrowd": torch.tensor(crowd)})
        predictions.append({"boxes": torch.tensor(boxes), "labels": torch.tensor(det_labels, dtype=torch.int64),
                            "scores": torch.tensor(rng.uniform(size=len(boxes)))})
    return predictions, targets


def coco_eval(predictions: list[dict], targets: list[dict]):
    """COCOeval (bbox) on the same images: its summary and its precision array."""
    coco_module = pytest.importorskip("pycocotools.coco", reason="pycocotools (dev extra) is the oracle")
    cocoeval = pytest.importorskip("pycocotools.cocoeval")

    def xywh(box):
        x1, y1, x2, y2 = (float(v) for v in box)
        return [x1, y1, x2 - x1, y2 - y1]

    annotations, results = [], []
    for i, (pred, target) in enumerate(zip(predictions, targets, strict=True)):
        for box, label, crowd in zip(target["boxes"], target["labels"], target["iscrowd"], strict=True):
            bbox = xywh(box)
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": int(label),
                                "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": int(crowd)})
        for box, label, score in zip(pred["boxes"], pred["labels"], pred["scores"], strict=True):
            results.append({"image_id": i + 1, "category_id": int(label), "bbox": xywh(box), "score": float(score)})
    ground_truth = coco_module.COCO()
    ground_truth.dataset = {"images": [{"id": i + 1} for i in range(len(targets))], "annotations": annotations,
                            "categories": [{"id": c} for c in (1, 2, 3)]}
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth.createIndex()
        evaluation = cocoeval.COCOeval(ground_truth, ground_truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


@pytest.mark.parametrize("seed", [0, 1])
def test_map_matches_pycocotools_on_generated_detections(seed):
    predictions, targets = generated_detections(seed)
    evaluation = coco_eval(predictions, targets)
    ours = mean_average_precision(predictions, targets)
    assert 0.1 < evaluation.stats[0] < 0.9  # neither trivial nor hopeless
    assert ours.map == pytest.approx(evaluation.stats[0], abs=1e-12)
    assert ours.map_50 == pytest.approx(evaluation.stats[1], abs=1e-12)
    assert ours.map_75 == pytest.approx(evaluation.stats[2], abs=1e-12)
    precision = evaluation.eval["precision"][:, :, :, 0, 2]  # (T, R, classes) at area "all", 100 detections
    coco_per_class = {c: float(precision[:, :, k].mean()) for k, c in enumerate((1, 2, 3)) if precision[0, 0, k] > -1}
    assert ours.per_class == pytest.approx(coco_per_class, abs=1e-12)
    # the image with 120 detections of class 1 counts only its best 100, as COCO's stats[0]
    assert mean_average_precision(predictions, targets, max_detections=1000).map != pytest.approx(ours.map)

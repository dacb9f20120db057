"""`neuralab detect RUN_DIR image.png`: the JSON it prints, the masks as COCO RLE, boxes mapped back to the image's
own size, and one-line refusals of bad input that leave nothing half-written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import neuralab
from neuralab.cli import main
from neuralab.detect import mask_rle

pycocotools_mask = pytest.importorskip("pycocotools.mask")

TINY = {"run": {"steps": 2, "eval_every": 2, "checkpoint_every": 2, "threads": 1, "device": "cpu"},
        "data": {"train_limit": 16, "test_limit": 8, "n_test": 8}, "method": {"eval_limit": 8}}


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    """A 2-step faster-rcnn-mnist-scenes run: untrained, but a detector with every part in place."""
    out = tmp_path_factory.mktemp("detect") / "run"
    neuralab.train("faster-rcnn-mnist-scenes", TINY, out=out)
    return out


@pytest.mark.parametrize("shape", [(5, 7), (1, 1), (16, 3)])
def test_mask_rle_is_cocos_uncompressed_rle(shape):
    """pycocotools reads our runs (frPyObjects) back into the same mask, starting with a set pixel or not."""
    rng = np.random.default_rng(sum(shape))
    for mask in (rng.random(shape) > 0.5, np.ones(shape, bool), np.zeros(shape, bool)):
        rle = mask_rle(torch.from_numpy(mask))
        assert rle["size"] == list(shape) and sum(rle["counts"]) == mask.size
        decoded = pycocotools_mask.decode(pycocotools_mask.frPyObjects(rle, *shape))
        np.testing.assert_array_equal(decoded.astype(bool), mask)


def _detect(run_dir, image, *extra, capsys):
    code = main(["detect", str(run_dir), str(image), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_boxes_are_mapped_back_to_the_images_own_size(detector, tmp_path, capsys):
    """The same scene at the run's 128x128 and stretched to 256x192 (nearest): the boxes stretch with it."""
    scene = np.zeros((128, 128), np.uint8)
    scene[30:60, 40:64] = 255
    scene[80:110, 70:100] = 180
    small, large = tmp_path / "small.png", tmp_path / "large.png"
    Image.fromarray(scene).save(small)
    Image.fromarray(scene).resize((256, 192), Image.NEAREST).save(large)
    found = {}
    for name, path in (("small", small), ("large", large)):
        code, out, err = _detect(detector, path, "--threshold", "0", "--out", str(tmp_path / f"{name}.out.png"),
                                 capsys=capsys)
        assert code == 0, err
        found[name] = json.loads(out)["detections"]
    assert found["small"], "an untrained detector still returns its proposals' boxes at threshold 0"
    best_small = torch.tensor(found["small"][0]["box"])
    boxes_large = torch.tensor([r["box"] for r in found["large"]]) / torch.tensor([2.0, 1.5, 2.0, 1.5])
    # the stretched image is read back at 128x128 (antialiased), so its detections match the small one's closely
    assert (boxes_large - best_small).abs().max(dim=1).values.min() < 2.0


def test_the_default_picture_goes_under_the_run(detector, tmp_path, capsys):
    image = tmp_path / "blank.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(image)
    code, out, err = _detect(detector, image, capsys=capsys)
    assert code == 0, err
    assert json.loads(out)["picture"] == str(detector / "detections" / "blank.png")
    assert (detector / "detections" / "blank.png").is_file()


@pytest.mark.parametrize("case", ["missing", "not-an-image", "threshold", "out-suffix", "checkpoint"])
def test_bad_input_is_one_line_and_writes_nothing(detector, tmp_path, capsys, case):
    image = tmp_path / "scene.png"
    Image.fromarray(np.zeros((128, 128), np.uint8)).save(image)
    out = tmp_path / "found.png"
    args = {"missing": [tmp_path / "nope.png", "--out", out],
            "not-an-image": [tmp_path / "notes.png", "--out", out],
            "threshold": [image, "--threshold", "1.5", "--out", out],
            "out-suffix": [image, "--out", tmp_path / "found.jpg"],
            "checkpoint": [image, "--checkpoint", "7", "--out", out]}[case]
    (tmp_path / "notes.png").write_text("not a picture")
    code, printed, err = _detect(detector, *map(str, args), capsys=capsys)
    assert code == 2 and printed == "", err
    assert err.startswith("neuralab: error: ") and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not (tmp_path / "found.jpg").exists()


def test_a_mask_rcnn_run_prints_each_object_s_mask_at_the_image_s_size(tmp_path, capsys):
    """Every record of a segmenting run carries its mask as RLE that pycocotools decodes at the image's own size
    (256x192 here, the run's 128x128 stretched), lying around the object's box."""
    run_dir = tmp_path / "run"
    neuralab.train("mask-rcnn-mnist-scenes", TINY, out=run_dir)
    scene = np.zeros((128, 128), np.uint8)
    scene[30:60, 40:64] = 255
    image = tmp_path / "scene.png"
    Image.fromarray(scene).resize((256, 192), Image.NEAREST).save(image)
    code, out, err = _detect(run_dir, image, "--threshold", "0", "--out", str(tmp_path / "found.png"), capsys=capsys)
    assert code == 0, err
    records = json.loads(out)["detections"]
    assert records, "an untrained detector still returns its proposals' boxes at threshold 0"
    for record in records:
        mask = pycocotools_mask.decode(pycocotools_mask.frPyObjects(record["mask"], 192, 256)).astype(bool)
        assert mask.shape == (192, 256)
        x1, y1, x2, y2 = record["box"]
        rows, cols = np.nonzero(mask)
        if len(rows):  # a pasted mask reaches at most half a mask cell (1/28 of the box) past the box
            margin_x, margin_y = (x2 - x1) / 28 + 2.5, (y2 - y1) / 28 + 2.5
            assert x1 - margin_x <= cols.min() and cols.max() + 1 <= x2 + margin_x, record["box"]
            assert y1 - margin_y <= rows.min() and rows.max() + 1 <= y2 + margin_y, record["box"]

"""Detection data: generated MNIST-style scenes (seeding, tight boxes, occlusion, disjoint splits, resumable order),
the COCO-style JSON reader (polygon, RLE and compressed RLE masks; one clear error per kind of bad file) and the
drawing of detections."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neuralab.data.coco_json import decode_rle_string, read_coco
from neuralab.data.detection_data import DetectionDataConfig
from neuralab.data.detection_scenes import Placement, SceneConfig, compose, make_scenes
from neuralab.data.idx import write_idx
from neuralab.data.mnist import FILES
from neuralab.errors import DataError, UserError
from neuralab.registry import DATA
from tests.conftest import assert_png_drawn


def blobs(n: int, seed: int) -> np.ndarray:
    """(n, 28, 28) uint8 stand-ins for digits: a bright rectangle of random size and place each."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    for image in images:
        y, x = rng.integers(2, 10, 2)
        h, w = rng.integers(8, 17, 2)
        image[y:y + h, x:x + w] = rng.integers(120, 256)
    return images


@pytest.fixture
def source_root(tmp_path):
    """An IDX folder whose training objects are all of classes 0-4 and test objects of classes 5-9, so a scene's
    labels tell which split its objects came from."""
    train_y, test_y = np.arange(40, dtype=np.uint8) % 5, 5 + np.arange(20, dtype=np.uint8) % 5
    for name, array in zip(FILES, (blobs(40, 0), train_y, blobs(20, 1), test_y), strict=True):
        write_idx(tmp_path / name, array)
    return str(tmp_path)


def scenes(root: str, seed: int = 0, **fields):
    cfg = SceneConfig(root=root, n_train=48, n_test=16, batch_size=8, **fields)
    return DATA.get("mnist-scenes").build(cfg, seed)


def test_same_scene_seed_same_scenes_other_seed_differs(source_root):
    a, b, c = scenes(source_root), scenes(source_root, seed=5), scenes(source_root, scene_seed=1)
    for split in ("train", "test"):
        assert all(torch.equal(x, y) for x, y in zip(a.split(split), b.split(split), strict=True))
        assert not torch.equal(a.split(split).images, c.split(split).images)
    assert a.train.images.shape == (48, 1, 128, 128) and a.train.images.dtype == torch.uint8
    assert a.meta.num_classes == 11 and a.meta.class_names[0] == "__background__"


def test_boxes_are_tight_around_the_visible_masks_and_counts_and_labels_in_range(source_root):
    data = scenes(source_root, min_objects=2, max_objects=5)
    for split in (data.train, data.test):
        counts = split.counts
        assert counts.min() >= 2 and counts.max() <= 5
        for i in range(len(split.images)):
            for k in range(split.labels.shape[1]):
                mask = split.masks[i] == k + 1
                if k >= counts[i]:  # padding: no label, no box, no pixel
                    assert split.labels[i, k] == 0 and not split.boxes[i, k].any() and not mask.any()
                    continue
                ys, xs = mask.nonzero(as_tuple=True)
                tight = [xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1]
                assert split.boxes[i, k].tolist() == tight
                assert 1 <= split.labels[i, k] <= 10
                assert (split.images[i, 0][mask] >= 26).all()  # a mask covers only object pixels


def test_train_scenes_use_training_objects_and_test_scenes_test_objects(source_root):
    data = scenes(source_root)
    train_labels, test_labels = data.train.labels, data.test.labels
    assert set(train_labels[train_labels > 0].unique().tolist()) <= {1, 2, 3, 4, 5}
    assert set(test_labels[test_labels > 0].unique().tolist()) <= {6, 7, 8, 9, 10}


def test_make_scenes_reports_each_instance_s_source_object():
    objects = torch.from_numpy(blobs(30, 2))
    classes = torch.arange(30) % 10
    cfg = SceneConfig(min_objects=1, max_objects=4)
    split, sources = make_scenes(objects, classes, 40, cfg, torch.Generator().manual_seed(0))
    used = split.labels > 0
    assert torch.equal(used, sources >= 0)
    assert torch.equal(split.labels[used], classes[sources[used]] + 1)


def square(side: int, value: int, patch: int = 16) -> torch.Tensor:
    out = torch.zeros(patch, patch, dtype=torch.uint8)
    out[:side, :side] = value
    return out


def test_a_later_object_hides_an_earlier_one_and_a_mostly_hidden_one_is_dropped():
    # Scene 0: A (label 3, grey 100) at x 0..9, then B (label 7, grey 200) at x 5..14 over its right half.
    # Scene 1: C (label 1) 10x10 at (0, 0), then D (label 2) 10x10 at (0, 1): 10 of C's 100 pixels stay visible.
    patches = torch.stack([torch.stack([square(10, 100), square(10, 200)]),
                           torch.stack([square(10, 50), square(10, 90)])])
    top_left = torch.tensor([[[0, 0], [0, 5]], [[0, 0], [0, 1]]])
    labels = torch.tensor([[3, 7], [1, 2]])
    split, slots = compose(Placement(patches, top_left, labels), 20, min_visible=0.3)

    assert split.labels.tolist() == [[7, 3], [2, 0]]  # from the front; C dropped
    assert slots.tolist() == [[1, 0], [1, -1]]
    assert split.boxes[0].tolist() == [[5, 0, 15, 10], [0, 0, 5, 10]]  # A's box shrinks to what stays visible
    assert split.boxes[1].tolist() == [[1, 0, 11, 10], [0, 0, 0, 0]]
    image, ids = split.images[0, 0], split.masks[0]
    assert (image[:10, :5] == 100).all() and (image[:10, 5:15] == 200).all() and image[10:].sum() == 0
    assert (ids[:10, :5] == 2).all() and (ids[:10, 5:15] == 1).all() and (ids[10:] == 0).all()
    assert (split.images[1, 0, :10, 0] == 50).all()  # the dropped object's sliver stays in the image,
    assert (split.masks[1][:, 0] == 0).all()  # unlabelled


def test_faint_fringe_of_a_later_object_blends_as_the_brighter_pixel():
    later = square(4, 20)  # below the mask level: a fringe, not opaque
    patches = torch.stack([square(4, 150), later])[None]
    split, _ = compose(Placement(patches, torch.tensor([[[0, 0], [2, 2]]]), torch.tensor([[1, 2]])), 8,
                       mask_level=26)
    image = split.images[0, 0]
    assert (image[2:4, 2:4] == 150).all() and (image[4:6, 4:6] == 20).all()
    assert split.labels.tolist() == [[1, 0]]  # no mask pixel: the fringe is no instance


def test_batches_follow_torchvision_s_target_layout_and_resume_in_order(source_root):
    data = scenes(source_root)
    images, targets = data.next_batch()
    assert images.shape == (8, 1, 128, 128) and images.dtype == torch.float32 and images.max() <= 1
    for t in targets:
        n = len(t["labels"])
        assert t["boxes"].shape == (n, 4) and t["boxes"].dtype == torch.float32
        assert t["labels"].dtype == torch.int64 and t["masks"].shape == (n, 128, 128)
        assert t["masks"].dtype == torch.uint8 and t["masks"].sum((1, 2)).min() > 0
    for _ in range(data.steps_per_epoch):  # past an epoch's end
        data.next_batch()
    state = data.state_dict()
    expected = data.next_batch()
    resumed = scenes(source_root)
    resumed.load_state_dict(state)
    got = resumed.next_batch()
    assert torch.equal(got[0], expected[0])
    assert all(torch.equal(a[k], b[k]) for a, b in zip(got[1], expected[1], strict=True) for k in a)


def test_test_batches_cover_the_test_split_in_order(source_root):
    data = scenes(source_root)
    batches = list(data.batches("test", 5))
    assert [len(x) for x, _ in batches] == [5, 5, 5, 1]
    assert torch.equal(torch.cat([x for x, _ in batches]), data.test.images.float() / 255)
    assert sum(len(t["labels"]) for _, ts in batches for t in ts) == int(data.test.counts.sum())


@pytest.mark.parametrize(("fields", "message"), [
    ({"min_objects": 4, "max_objects": 3}, "min_objects 4 is above"),
    ({"min_size": 30, "max_size": 20}, "min_size 30 is above"),
    ({"canvas": 32}, "does not fit"),
    ({"canvas": 40, "min_size": 36, "max_size": 40, "min_objects": 6, "min_visible": 0.9}, "could not fit 6 objects"),
])
def test_impossible_scene_settings_are_refused(source_root, fields, message):
    with pytest.raises(UserError, match=message):
        scenes(source_root, **fields)


# COCO-style JSON ------------------------------------------------------------------------------------------------

def write_png(path, pixels: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(pixels).save(path)


def coco_doc() -> dict:
    """Two images: a.png (7 wide, 6 high) with a polygon and an uncompressed RLE instance, b.png (5x4) with a
    compressed RLE instance and a crowd region."""
    return {
        "images": [{"id": 10, "file_name": "a.png", "width": 7, "height": 6},
                   {"id": 11, "file_name": "b.png", "width": 5, "height": 4}],
        "categories": [{"id": 7, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 7, "bbox": [2, 1, 3, 2], "iscrowd": 0,
             "segmentation": [[2.0, 1.0, 5.0, 1.0, 5.0, 3.0, 2.0, 3.0]]},
            # Column-major runs: 13 background (columns 0-1 and the top of column 2), 2 object (rows 1-2 of
            # column 2), 4 background, 1 object (row 1 of column 3), 22 background.
            {"id": 2, "image_id": 10, "category_id": 3, "bbox": [2, 1, 2, 2],
             "segmentation": {"size": [6, 7], "counts": [13, 2, 4, 1, 22]}},
            # pycocotools encodes runs [5, 3, 1, 3, 8] of a 4x5 mask as "53107": from the third run on, differences.
            {"id": 3, "image_id": 11, "category_id": 7, "bbox": [1, 1, 2, 3],
             "segmentation": {"size": [4, 5], "counts": "53107"}},
            {"id": 4, "image_id": 11, "category_id": 3, "bbox": [0, 0, 5, 4], "iscrowd": 1,
             "segmentation": {"size": [4, 5], "counts": [0, 20]}},
        ],
    }


@pytest.fixture
def coco(tmp_path):
    write_png(tmp_path / "a.png", np.full((6, 7, 3), 60, dtype=np.uint8))
    write_png(tmp_path / "b.png", np.full((4, 5, 3), 200, dtype=np.uint8))
    path = tmp_path / "train.json"
    path.write_text(json.dumps(coco_doc()))
    return path


def test_compressed_rle_string_decodes_as_pycocotools_encodes():
    # pycocotools' encoding of a 6x7 mask with runs [13, 3, 3, 4, 2, 3, 3, 3, 8], including a negative difference.
    assert decode_rle_string("=331OO105") == [13, 3, 3, 4, 2, 3, 3, 3, 8]
    assert decode_rle_string("53107") == [5, 3, 1, 3, 8]


def test_coco_reader_gives_masks_boxes_and_labels(coco):
    found = read_coco(coco, channels=3)
    split = found.split
    assert found.class_names == ["dog", "cat"] and found.category_ids == [3, 7]  # by increasing category id
    assert split.images.shape == (2, 3, 6, 7)
    assert (split.images[0] == 60).all() and (split.images[1, :, :4, :5] == 200).all()
    assert split.images[1, :, 4:].sum() == 0 and split.images[1, :, :, 5:].sum() == 0  # padded bottom and right
    assert split.labels.tolist() == [[2, 1], [2, 0]]  # the crowd region is left out
    assert split.boxes[0].tolist() == [[2, 1, 5, 3], [2, 1, 4, 3]]
    polygon = torch.zeros(6, 7, dtype=torch.bool)
    polygon[1:3, 2:5] = True  # the pixels whose centres lie inside the 3x2 rectangle
    assert torch.equal(split.masks[0, 0], polygon)
    assert split.masks[0, 1].nonzero().tolist() == [[1, 2], [1, 3], [2, 2]]
    assert split.masks[1, 0].nonzero().tolist() == [[1, 1], [1, 2], [2, 1], [2, 2], [3, 1], [3, 2]]
    assert split.boxes[1, 0].tolist() == [1, 1, 3, 4]
    assert any("crowd" in note for note in found.notes) and any("padded" in note for note in found.notes)


def test_coco_source_splits_and_serves_batches(coco, tmp_path):
    data = DATA.get("coco-json").build(DetectionDataConfig(path=str(coco), batch_size=1), 0)
    assert len(data.train.images) == 1 and len(data.test.images) == 1
    assert data.meta.class_names == ["__background__", "dog", "cat"] and data.meta.input_shape == [3, 6, 7]
    images, targets = data.next_batch()
    assert images.shape == (1, 3, 6, 7) and targets[0]["masks"].dtype == torch.uint8
    via_scenes = DATA.get("mnist-scenes").build(SceneConfig(path=str(coco), test_path=str(coco), channels=1), 0)
    assert via_scenes.meta.input_shape == [1, 6, 7] and len(via_scenes.test.images) == 2


def bad(doc: dict, change) -> dict:
    change(doc)
    return doc


BAD_FILES = [
    ("not json", "{ images: [", "not valid JSON"),
    ("a list", "[]", "top level is not an object"),
    ("no annotations", bad(coco_doc(), lambda d: d.pop("annotations")), "no 'annotations' list"),
    ("no bbox", bad(coco_doc(), lambda d: d["annotations"][0].pop("bbox")), "annotations[0] has no 'bbox'"),
    ("unknown image", bad(coco_doc(), lambda d: d["annotations"][1].update(image_id=99)),
     "annotations[1] (id 2): image_id 99 is not the id of any image"),
    ("unknown category", bad(coco_doc(), lambda d: d["annotations"][0].update(category_id=5)),
     "category_id 5 is not the id of any category"),
    ("bbox outside", bad(coco_doc(), lambda d: d["annotations"][0].update(bbox=[4, 1, 5, 2])),
     "lies outside the 7x6 image"),
    ("bbox not 4 numbers", bad(coco_doc(), lambda d: d["annotations"][0].update(bbox=[1, 2, 3])),
     "is not [x, y, width, height]"),
    ("image file missing", bad(coco_doc(), lambda d: d["images"][1].update(file_name="gone.png")),
     "images[1] file 'gone.png' not found"),
    ("image size wrong", bad(coco_doc(), lambda d: (d["images"][1].update(width=6), d["annotations"][2].update(
        segmentation={"size": [4, 6], "counts": [5, 3, 1, 3, 12]}))), "b.png' is 5x4 pixels, the JSON says 6x4"),
    ("rle size", bad(coco_doc(), lambda d: d["annotations"][1]["segmentation"].update(size=[7, 6])),
     "RLE size [7, 6] is not the image's"),
    ("rle sum", bad(coco_doc(), lambda d: d["annotations"][1]["segmentation"].update(counts=[13, 2])),
     "bad RLE (runs sum to 15 pixels"),
    ("rle characters", bad(coco_doc(), lambda d: d["annotations"][2]["segmentation"].update(counts="5 ~")),
     "bad RLE"),
    ("short polygon", bad(coco_doc(), lambda d: d["annotations"][0].update(segmentation=[[1, 1, 2, 2]])),
     "at least 3 x, y pairs"),
    ("no annotations left", bad(coco_doc(), lambda d: d.update(annotations=d["annotations"][3:])),
     "no annotations besides crowd regions"),
    ("duplicate image id", bad(coco_doc(), lambda d: d["images"][1].update(id=10)), "repeats image id 10"),
]


@pytest.mark.parametrize(("case", "content", "message"), BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_coco_files_give_one_clear_line(coco, case, content, message):
    coco.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(DataError) as info:
        read_coco(coco)
    text = str(info.value)
    assert message in text and str(coco) in text and "\n" not in text


def test_missing_file_and_test_file_with_other_categories(coco, tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_coco(tmp_path / "nope.json")
    other = tmp_path / "val.json"
    other.write_text(json.dumps(bad(coco_doc(), lambda d: (d["categories"].append({"id": 9, "name": "cow"}),
                                                           d["annotations"][0].update(category_id=9)))))
    with pytest.raises(DataError, match=r"category_id 9 \(cow\) is not among the training file's categories"):
        DATA.get("coco-json").build(DetectionDataConfig(path=str(coco), test_path=str(other)), 0)


def test_draw_detections_writes_a_picture(source_root, tmp_path):
    from neuralab.viz.detection import draw_detections

    data = scenes(source_root)
    images, targets = data.next_batch()
    targets[0] = {**targets[0], "scores": torch.linspace(0.9, 0.5, len(targets[0]["labels"]))}
    path = draw_detections(images[:6], targets[:6], data.meta.class_names, tmp_path / "scenes.png", title="scenes")
    assert_png_drawn(path, min_size=(500, 300))

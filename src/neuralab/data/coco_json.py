"""The user's own detection data in COCO-style JSON (Lin et al., "Microsoft COCO: Common Objects in Context", 2014):
boxes, classes and instance masks read into the tensors of `neuralab.data.detection_data`.

The file is an object with three lists: "images" ({"id", "file_name", "width", "height"}), "annotations"
({"image_id", "category_id", "bbox": [x, y, w, h] in pixels, optional "segmentation", optional "iscrowd"}) and
"categories" ({"id", "name"}). A segmentation is a list of polygons ([x1, y1, x2, y2, ...] each; a pixel is in
the mask when its centre lies inside one), or run-length encoded ({"size": [h, w], "counts": ...}) with counts as
a list of integers or as COCO's compressed string; the runs alternate background and object pixels, column after
column.
An annotation without a segmentation gets its box as its mask. Crowd annotations (iscrowd 1) mark a region of many
objects, not one: they are left out, as torchvision's reference scripts train.

Category ids may be any integers: the labels are 1..K in the order of increasing id (0 is the background). Images
of different sizes are padded with black at the bottom and right to the largest width and height, which leaves the
boxes and masks where they are. A box may reach past the image by at most `BOX_SLACK` pixels (rounding in
annotation tools); it is clipped to it. Every problem with the file is one `DataError` line naming the file and the
entry.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from neuralab.data.bounded import check_claim, read_json, short
from neuralab.data.detection_data import DetectionData, DetectionDataConfig, DetectionSplit, detection_meta
from neuralab.data.user import decode_image
from neuralab.errors import DataError
from neuralab.registry import register_data

BOX_SLACK = 1.0  # pixels a box may reach past the image's edge


class CocoSet(NamedTuple):
    """A COCO-style JSON file read and checked."""

    split: DetectionSplit  # images and instances, masks (N, M, H, W) bool
    category_ids: list[int]  # the category id of label k + 1 at index k
    class_names: list[str]  # the name of label k + 1 at index k
    notes: list[str]  # what reading changed (crowd annotations left out, images padded)


def _entries(doc: dict[str, Any], key: str, fields: tuple[str, ...], path: Path) -> list[dict[str, Any]]:
    """doc[key] as a list of objects that each have `fields`."""
    items = doc.get(key)
    if not isinstance(items, list):
        raise DataError(f"{path}: no {key!r} list (a COCO-style file has 'images', 'annotations' and 'categories')")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataError(f"{path}: {key}[{i}] is not an object")
        absent = [f for f in fields if f not in item]
        if absent:
            raise DataError(f"{path}: {key}[{i}] has no {', '.join(repr(f) for f in absent)}")
    return items


def _integer(value: Any, what: str, path: Path, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (positive and value <= 0):
        raise DataError(f"{path}: {what} is {short(value)}, not a{' positive' if positive else 'n'} integer")
    return value


def decode_rle_string(counts: str) -> list[int]:
    """COCO's compressed RLE string -> its run lengths (pycocotools' `rleFrString`).

    Each run is a signed number in 5-bit groups, least significant first, each group stored in a character as
    48 + group (+ 32 when more groups follow); from the third run on, the number is a difference from the run two
    before. A run of more than 60 bits is refused: no image has that many pixels.
    """
    runs: list[int] = []
    pos = 0
    while pos < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(counts):
                raise ValueError("the string ends inside a run")
            c = ord(counts[pos]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {counts[pos]!r} is not part of the encoding")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos += 1
            shift += 5
            if shift > 60:
                raise ValueError("a run longer than any image")
            if not more and c & 0x10:  # the sign bit of the last group
                value -= 1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def rle_mask(counts: list[int], height: int, width: int) -> np.ndarray:
    """Run lengths (background first, column after column) -> (height, width) bool mask."""
    if any(c < 0 for c in counts) or sum(counts) != height * width:
        raise ValueError(f"runs sum to {sum(counts)} pixels, not {height}x{width} = {height * width}")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape(width, height).T


def polygon_mask(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Polygons [[x1, y1, x2, y2, ...], ...] filled (their union) -> (height, width) bool mask.

    A pixel belongs to a polygon when its centre (i + 0.5, j + 0.5) lies inside it (matplotlib's point-in-polygon
    test), so the 3x2 rectangle [2, 1, 5, 1, 5, 3, 2, 3] covers exactly its 6 pixels, as pycocotools rasterises it.
    Pillow's `ImageDraw.polygon` also fills the pixels the boundary touches: 12 pixels there, and on random
    polygons of about 50 pixels 14 pixels away from pycocotools' masks against about 1.5 with the centre test.
    """
    from matplotlib.path import Path as Polygon

    mask = np.zeros((height, width), dtype=bool)
    for polygon in polygons:
        xy = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        x0, y0 = (max(0, int(np.floor(v))) for v in xy.min(0))  # only the pixels under the polygon's box
        x1, y1 = min(width, int(np.ceil(xy[:, 0].max()))), min(height, int(np.ceil(xy[:, 1].max())))
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1]
        centres = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], 1)
        mask[y0:y1, x0:x1] |= Polygon(xy).contains_points(centres).reshape(y1 - y0, x1 - x0)
    return mask


def _mask(segmentation: Any, height: int, width: int, where: str) -> np.ndarray | None:
    """An annotation's mask, or None when it has no segmentation; `where` names it in errors."""
    if segmentation is None or segmentation == []:
        return None
    if isinstance(segmentation, list):
        for polygon in segmentation:
            if (not isinstance(polygon, list) or len(polygon) < 6 or len(polygon) % 2
                    or not all(_is_number(v) for v in polygon)):
                raise DataError(f"{where}: a polygon must be a list of at least 3 x, y pairs of numbers")
        return polygon_mask(segmentation, height, width)
    if isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
        if segmentation["size"] != [height, width]:
            raise DataError(f"{where}: RLE size {short(segmentation['size'])} is not the image's [height, width] "
                            f"[{height}, {width}]")
        counts = segmentation["counts"]
        try:
            if isinstance(counts, str):
                counts = decode_rle_string(counts)
            elif not isinstance(counts, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                         for c in counts):
                raise ValueError("counts must be a list of integers or a compressed string")
            return rle_mask(counts, height, width)
        except ValueError as exc:
            raise DataError(f"{where}: bad RLE ({exc})") from None
    raise DataError(f"{where}: segmentation is neither a list of polygons nor an RLE object with size and counts")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _box(bbox: Any, height: int, width: int, where: str) -> list[float]:
    """COCO [x, y, w, h] -> [x1, y1, x2, y2] clipped to the image, after checking it lies (nearly) inside."""
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(_is_number(v) for v in bbox):
        raise DataError(f"{where}: bbox {short(bbox)} is not [x, y, width, height] of 4 numbers")
    x, y, w, h = (float(v) for v in bbox)
    if w <= 0 or h <= 0:
        raise DataError(f"{where}: bbox {bbox} has no area (width and height must be positive)")
    if x < -BOX_SLACK or y < -BOX_SLACK or x + w > width + BOX_SLACK or y + h > height + BOX_SLACK:
        raise DataError(f"{where}: bbox {bbox} lies outside the {width}x{height} image")
    return [max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))]


def read_coco(path: str | Path, images: str | Path | None = None, channels: int = 3,
              categories: list[int] | None = None) -> CocoSet:
    """Read the COCO-style JSON `path` and its images (under `images`, default the JSON's folder) as `channels`
    (1: grey, 3: RGB). `categories` (ids) fixes the label order, so a test file's labels match its training file's;
    by default the file's own categories, by increasing id."""
    path = Path(path)
    folder = Path(images) if images else path.parent
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    doc = read_json(path)
    if not isinstance(doc, dict):
        raise DataError(f"{path}: the top level is not an object with 'images', 'annotations' and 'categories'")
    image_list = _entries(doc, "images", ("id", "file_name", "width", "height"), path)
    annotations = _entries(doc, "annotations", ("image_id", "category_id", "bbox"), path)
    category_list = _entries(doc, "categories", ("id", "name"), path)
    if not image_list:
        raise DataError(f"{path}: the 'images' list is empty")

    names = {}
    for i, c in enumerate(category_list):
        cid = _integer(c["id"], f"categories[{i}] id", path)
        if cid in names:
            raise DataError(f"{path}: categories[{i}] repeats category id {cid}")
        names[cid] = c["name"] if isinstance(c["name"], str) else short(c["name"])
    ids = sorted(names) if categories is None else categories
    label_of = {cid: k + 1 for k, cid in enumerate(ids)}

    index_of: dict[int, int] = {}
    for i, im in enumerate(image_list):
        iid = _integer(im["id"], f"images[{i}] id", path)
        if iid in index_of:
            raise DataError(f"{path}: images[{i}] repeats image id {iid}")
        index_of[iid] = i
        _integer(im["width"], f"images[{i}] width", path, positive=True)
        _integer(im["height"], f"images[{i}] height", path, positive=True)
        if not isinstance(im["file_name"], str) or not im["file_name"]:
            raise DataError(f"{path}: images[{i}] file_name is {short(im['file_name'])}, not a file name")
    pixels = [_image_file(path, folder, i, im, channels) for i, im in enumerate(image_list)]  # sizes now checked

    per_image: list[list[tuple[list[float], int, np.ndarray | None]]] = [[] for _ in image_list]
    crowd = boxed = 0
    for j, a in enumerate(annotations):
        where = f"{path}: annotations[{j}]" + (f" (id {short(a['id'])})" if "id" in a else "")
        iid = a["image_id"]
        if not isinstance(iid, int) or isinstance(iid, bool) or iid not in index_of:
            raise DataError(f"{where}: image_id {short(iid)} is not the id of any image")
        cid = a["category_id"]
        if not isinstance(cid, int) or isinstance(cid, bool) or cid not in names:
            raise DataError(f"{where}: category_id {short(cid)} is not the id of any category")
        if cid not in label_of:
            raise DataError(f"{where}: category_id {cid} ({names[cid][:60]}) is not among the training file's "
                            "categories")
        im = image_list[index_of[iid]]
        box = _box(a["bbox"], im["height"], im["width"], where)
        if a.get("iscrowd", 0):
            crowd += 1
            continue
        mask = _mask(a.get("segmentation"), im["height"], im["width"], where)
        boxed += mask is None
        per_image[index_of[iid]].append((box, label_of[cid], mask))

    if not any(per_image):
        raise DataError(f"{path}: no annotations{' besides crowd regions' if crowd else ''}: nothing to detect")
    height = max(im["height"] for im in image_list)
    width = max(im["width"] for im in image_list)
    slots = max(1, max(len(found) for found in per_image))
    n = len(image_list)
    check_claim(n * (channels + slots) * height * width, path, f"{n} images of {width}x{height} pixels with {slots} "
                "masks each")
    x = torch.zeros(n, channels, height, width, dtype=torch.uint8)
    boxes = torch.zeros(n, slots, 4)
    labels = torch.zeros(n, slots, dtype=torch.long)
    masks = torch.zeros(n, slots, height, width, dtype=torch.bool)
    for i, (im, array, found) in enumerate(zip(image_list, pixels, per_image, strict=True)):
        x[i, :, :im["height"], :im["width"]] = torch.from_numpy(array)
        for k, (box, label, mask) in enumerate(found):
            boxes[i, k], labels[i, k] = torch.tensor(box), label
            if mask is None:  # no segmentation: the box is the mask
                x1, y1, x2, y2 = box
                masks[i, k, math.floor(y1):math.ceil(y2), math.floor(x1):math.ceil(x2)] = True
            else:
                masks[i, k, :im["height"], :im["width"]] = torch.from_numpy(mask)

    notes = []
    if crowd:
        notes.append(f"{path.name}: left out {crowd} crowd annotations (iscrowd 1)")
    if boxed:
        notes.append(f"{path.name}: {boxed} annotations have no segmentation; their masks are their boxes")
    if len({(im["height"], im["width"]) for im in image_list}) > 1:
        notes.append(f"{path.name}: images of different sizes padded at the bottom and right to {width}x{height}")
    return CocoSet(DetectionSplit(x, boxes, labels, masks), ids, [names.get(c, str(c)) for c in ids], notes)


def _image_file(path: Path, folder: Path, i: int, im: dict[str, Any], channels: int) -> np.ndarray:
    """The pixels (channels, H, W) of entry `i` of the images list, checked to be the size the JSON says."""
    file = folder / im["file_name"]
    try:
        found = file.is_file()
    except OSError:  # a name too long for the file system
        found = False
    if not found:
        raise DataError(f"{path}: images[{i}] file {short(im['file_name'])} not found in {folder}")
    array = decode_image(file, channels)
    if array.shape[1:] != (im["height"], im["width"]):
        raise DataError(f"{path}: images[{i}] file {short(im['file_name'])} is {array.shape[2]}x{array.shape[1]} "
                        f"pixels, the JSON says {im['width']}x{im['height']}")
    return array


def _pad(split: DetectionSplit, height: int, width: int, slots: int) -> DetectionSplit:
    """`split` padded with black pixels and empty slots to (height, width) and `slots` instances."""
    images, boxes, labels, masks = split
    dh, dw, ds = height - images.shape[2], width - images.shape[3], slots - labels.shape[1]
    return DetectionSplit(torch.nn.functional.pad(images, (0, dw, 0, dh)),
                          torch.nn.functional.pad(boxes, (0, 0, 0, ds)),
                          torch.nn.functional.pad(labels, (0, ds)),
                          torch.nn.functional.pad(masks, (0, dw, 0, dh, 0, ds)))


def build_coco_json(cfg: DetectionDataConfig, seed: int) -> DetectionData:
    """The detection data of `cfg.path` (and `cfg.test_path`, else a seeded `test_fraction` of its images)."""
    if not cfg.path:
        raise DataError("coco-json needs --data.path FILE.json (a COCO-style annotation file)")
    train = read_coco(cfg.path, cfg.images, cfg.channels)
    notes = list(train.notes)
    if cfg.test_path:
        test = read_coco(cfg.test_path, cfg.test_images, cfg.channels, categories=train.category_ids)
        notes += test.notes
        height = max(train.split.images.shape[2], test.split.images.shape[2])
        width = max(train.split.images.shape[3], test.split.images.shape[3])
        slots = max(train.split.labels.shape[1], test.split.labels.shape[1])
        train_split, test_split = (_pad(s.split, height, width, slots) for s in (train, test))
    else:
        n = len(train.split.images)
        if n < 2:
            raise DataError(f"{cfg.path}: one image cannot be split into training and test images; add images or "
                            "give --data.test_path")
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
        n_test = min(n - 1, max(1, round(n * cfg.test_fraction)))
        test_split, train_split = train.split.index(order[:n_test]), train.split.index(order[n_test:])
    meta = detection_meta(train_split, train.class_names, str(cfg.path), notes)
    return DetectionData(train_split, test_split, meta, batch_size=cfg.batch_size, seed=seed)


@register_data("coco-json", config=DetectionDataConfig)
def build_coco_json_source(cfg: DetectionDataConfig, seed: int) -> DetectionData:
    """The user's COCO-style JSON (`--data.path`); every detection source also reads one through its `path`."""
    return build_coco_json(cfg, seed)

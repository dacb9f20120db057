"""Detection scenes: MNIST digits or Fashion-MNIST items placed on a larger black canvas, with boxes, classes and
instance masks (curriculum C8; a small stand-in for COCO that needs no download, as multi-digit MNIST canvases are
in Ba, Mnih, Kavukcuoglu, "Multiple object recognition with visual attention", 2015).

Each scene holds `min_objects`..`max_objects` objects. An object is one 28x28 image of the source set resized to a
random square side in `min_size`..`max_size` pixels (bilinear, `F.interpolate`) and placed at a random position
wholly inside the canvas. Objects may overlap; each is opaque where its mask is: its pixels at or above
`mask_threshold` on [0, 1]. Objects are drawn one after another, so a later object hides the earlier ones under its
mask; fainter fringes below the threshold blend in by taking the brighter pixel. An instance's mask is what stays
visible of it, its box is the tightest box around that visible mask, and an object of which less than `min_visible`
of its mask stays visible is dropped (the few pixels left of it stay in the image, unlabelled, as unannotated
clutter does in real photos). A scene that loses objects below `min_objects` this way is drawn again. A scene's
instances are listed from the front: the last drawn, wholly visible, first.

Boxes are (x1, y1, x2, y2) float pixels with pixel i covering [i, i + 1): a mask whose columns run from 3 to 7 has
x1 = 3, x2 = 8, as COCO's [x, y, w, h] converts (torchvision's `masks_to_boxes` would give x2 = 7). Labels are the
class + 1, 0 being the background, as torchvision's detection models expect.

Training scenes draw their objects only from the source set's training split and test scenes only from its test
split. The scenes depend on `scene_seed` alone, so runs with different seeds train and test on the same scenes (the
run's seed orders the batches). A split is generated in a few batched tensor operations per chunk of scenes: one
`F.interpolate` per object size and one loop over the object slots of a scene, no per-pixel or per-scene Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F

from neuralab.config import field
from neuralab.data import mnist
from neuralab.data.detection_data import DetectionData, DetectionDataConfig, DetectionSplit, detection_meta
from neuralab.errors import DataError
from neuralab.registry import register_data

DATASETS = {"mnist": "mnist", "fashion": "fashion-mnist"}  # config value -> name in `neuralab.data.mnist.SETS`
CHUNK = 512  # scenes composed at once: their canvases and window indices take tens of MB
DROPPED = 0xFF  # owner of the pixels of an object left out while composing (see `compose`)
RETRIES = 20  # rounds of redrawing the scenes left with fewer than `min_objects` visible objects (at the defaults
# with min_objects 6, 2% of scenes need a second draw)


@dataclass(frozen=True)
class SceneConfig(DetectionDataConfig):
    """Generated scenes; with `path` set, the user's COCO-style JSON instead."""

    dataset: str = field("mnist", "Objects: mnist (digits) or fashion (Fashion-MNIST items).", choices=tuple(DATASETS))
    canvas: int = field(128, "Side of the square canvas in pixels.", ge=8)
    min_objects: int = field(1, "Fewest objects in a scene.", ge=1)
    max_objects: int = field(6, "Most objects in a scene.", ge=1, le=254)
    min_size: int = field(20, "Smallest side of an object in pixels (each 28x28 source image is resized to a "
                              "random side between min_size and max_size).", ge=4)
    max_size: int = field(40, "Largest side of an object in pixels.", ge=4)
    min_visible: float = field(0.3, "An object of which less than this share of its mask stays visible behind later "
                                    "objects is dropped from the targets.", ge=0, le=1)
    mask_threshold: float = field(0.1, "An object's pixels at or above this (on [0, 1]) make its mask and hide what "
                                       "lies under them.", gt=0, le=1)
    n_train: int = field(5000, "Training scenes.", ge=1)
    n_test: int = field(1000, "Test scenes.", ge=1)
    train_limit: int = field(0, "Generate at most this many training scenes (0: n_train), for a quick check; "
                                "other scenes than the first of a full set.", ge=0)
    test_limit: int = field(0, "Generate at most this many test scenes (0: n_test), for a quick check.", ge=0)
    scene_seed: int = field(0, "Seed of the scenes; the run's own seed only orders the batches.")
    root: str | None = field(None, "Folder with the four IDX files of the source set (else env var, cache, "
                                   "packaged copy, download).")


class Placement(NamedTuple):
    """Where each object of each scene goes: what `compose` draws. Slots with label 0 are empty."""

    patches: torch.Tensor  # (N, M, P, P) uint8: each object resized, in the top-left corner, zeros elsewhere
    top_left: torch.Tensor  # (N, M, 2) int64 (y, x) of each patch on the canvas
    labels: torch.Tensor  # (N, M) int64 class + 1, 0: empty slot


def compose(placement: Placement, canvas: int, *, min_visible: float = 0.3, mask_level: int = 26
            ) -> tuple[DetectionSplit, torch.Tensor]:
    """Draw placed objects onto blank canvases, slot after slot, each hiding the earlier ones under its mask.

    An object's mask is its patch pixels >= `mask_level` (0..255); below it, a pixel blends in as the brighter of
    it and what lies under it. Returns the scenes (images (N, 1, canvas, canvas) uint8, tight boxes of the visible
    masks, labels, an instance map) with the kept objects in the first slots from the front (the last drawn, always
    wholly visible, first), and (N, M) the slot of `placement` each output slot came from (-1: padding). Objects
    with no visible pixel, or less than `min_visible` of their mask visible, are dropped.

    The slots are walked from the front to the back: what an object shows is its mask less the pixels already
    claimed by objects drawn after it, so every instance is known whole when it is reached, and each step touches
    only the (N, P, P) windows under the patches, never whole canvases. The instance map marks the pixels of an
    object left out `DROPPED` while composing, as it still hides what lies under it, and 0 at the end.
    """
    patches, top_left, labels = placement
    n, m, p, _ = patches.shape
    device = patches.device
    side = canvas + p  # a margin of one patch at the bottom and right: every window fits whole
    image = torch.zeros(n * side * side, dtype=torch.uint8, device=device)  # flat, indexed by window positions
    ids = torch.zeros_like(image)  # output slot + 1 of the object seen at each pixel (or DROPPED)
    masks = (patches >= mask_level) & (labels > 0)[..., None, None]  # (N, M, P, P)
    window = (torch.arange(p, device=device)[:, None] * side + torch.arange(p, device=device))[None]  # (1, P, P)
    scene = torch.arange(n, device=device)
    boxes = torch.zeros(n, m + 1, 4, device=device)  # slot m takes the dropped objects, then is cut off
    new_labels = torch.zeros(n, m + 1, dtype=torch.long, device=device)
    slots = torch.full((n, m + 1), -1, dtype=torch.long, device=device)
    kept = torch.zeros(n, dtype=torch.long, device=device)  # instances kept so far, from the front
    for slot in reversed(range(m)):
        y, x = top_left[:, slot, 0], top_left[:, slot, 1]
        at = (scene * side * side + y * side + x)[:, None, None] + window  # (N, P, P) flat canvas positions
        patch, mask, under, owner = patches[:, slot], masks[:, slot], image[at], ids[at]
        hidden = owner > 0
        visible = mask & ~hidden
        shown, area = visible.count_nonzero((1, 2)), mask.count_nonzero((1, 2))
        keep = (shown > 0) & (shown >= min_visible * area)
        out = torch.where(keep, kept, m)  # (N,) output slot
        claim = torch.where(keep, out + 1, DROPPED).to(torch.uint8)[:, None, None]
        image[at] = torch.where(hidden, under, torch.maximum(under, patch))
        ids[at] = torch.where(visible, claim, owner)
        rows, cols = visible.any(2).to(torch.uint8), visible.any(1).to(torch.uint8)  # (N, P)
        box = torch.stack([x + cols.argmax(1), y + rows.argmax(1),  # first column / row of the visible mask,
                           x + p - cols.flip(1).argmax(1), y + p - rows.flip(1).argmax(1)], 1)  # one past the last
        boxes[scene, out] = box.float()
        new_labels[scene, out] = labels[:, slot]
        slots[scene, out] = slot
        kept += keep
    image = image.view(n, 1, side, side)[..., :canvas, :canvas].contiguous()
    ids = ids.view(n, side, side)[:, :canvas, :canvas]
    ids = ids.masked_fill(ids == DROPPED, 0)
    padding = torch.arange(m, device=device) >= kept[:, None]
    boxes, new_labels, slots = boxes[:, :m], new_labels[:, :m], slots[:, :m]
    return (DetectionSplit(image, boxes.masked_fill(padding[..., None], 0), new_labels.masked_fill(padding, 0), ids),
            slots.masked_fill(padding, -1))


def place(objects: torch.Tensor, classes: torch.Tensor, n: int, cfg: SceneConfig, generator: torch.Generator
          ) -> tuple[Placement, torch.Tensor]:
    """Draw `n` scenes' objects from the pool `objects` (P, 28, 28) uint8 with labels `classes` (P,): how many, which,
    their sizes and positions. Returns the placement and (n, M) the pool index of each slot's object (-1: empty)."""
    m, side = cfg.max_objects, cfg.max_size
    count = torch.randint(cfg.min_objects, m + 1, (n, 1), generator=generator)
    used = torch.arange(m) < count  # (n, M)
    source = torch.randint(0, len(objects), (n, m), generator=generator)
    size = torch.randint(cfg.min_size, cfg.max_size + 1, (n, m), generator=generator)
    corner = (torch.rand(n, m, 2, generator=generator) * (cfg.canvas - size + 1)[..., None]).long()
    patches = torch.zeros(n, m, side, side, dtype=torch.uint8)
    for s in size[used].unique().tolist():  # one resize per object side
        at = used & (size == s)
        resized = F.interpolate(objects[source[at]][:, None].float(), size=(s, s), mode="bilinear",
                                align_corners=False)
        patches[..., :s, :s][at] = resized[:, 0].round().clamp(0, 255).to(torch.uint8)
    labels = torch.where(used, classes[source] + 1, 0)
    return Placement(patches, corner, labels), torch.where(used, source, -1)


def make_scenes(objects: torch.Tensor, classes: torch.Tensor, n: int, cfg: SceneConfig, generator: torch.Generator
                ) -> tuple[DetectionSplit, torch.Tensor]:
    """`n` scenes of objects from the pool `objects` (P, 28, 28) uint8 with classes (P,), drawn with `generator`.

    Returns the scenes (instance-map masks) and (n, M) the pool index of each instance (-1: padding). Scenes left
    with fewer than `min_objects` instances by occlusion are drawn again, a few rounds at most.
    """
    level = max(1, round(cfg.mask_threshold * 255))
    parts, sources = [], []
    for start in range(0, n, CHUNK):
        placement, source = place(objects, classes, min(CHUNK, n - start), cfg, generator)
        scenes, slots = compose(placement, cfg.canvas, min_visible=cfg.min_visible, mask_level=level)
        for attempt in range(RETRIES + 1):
            redo = (scenes.counts < cfg.min_objects).nonzero().squeeze(1)
            if len(redo) == 0:
                break
            if attempt == RETRIES:
                raise DataError(f"could not fit {cfg.min_objects} objects with {cfg.min_visible:g} of each visible on "
                                f"a {cfg.canvas}x{cfg.canvas} canvas; lower --data.min_objects, --data.min_visible "
                                "or --data.max_size, or raise --data.canvas")
            placement, again = place(objects, classes, len(redo), cfg, generator)
            redone, redone_slots = compose(placement, cfg.canvas, min_visible=cfg.min_visible, mask_level=level)
            scenes = DetectionSplit(*(old.index_copy(0, redo, new) for old, new in zip(scenes, redone, strict=True)))
            slots, source = slots.index_copy(0, redo, redone_slots), source.index_copy(0, redo, again)
        parts.append(scenes)
        sources.append(torch.where(slots >= 0, source.gather(1, slots.clamp_min(0)), -1))
    return DetectionSplit(*(torch.cat(t) for t in zip(*parts, strict=True))), torch.cat(sources)


def _check(cfg: SceneConfig) -> None:
    if cfg.min_objects > cfg.max_objects:
        raise DataError(f"--data.min_objects {cfg.min_objects} is above --data.max_objects {cfg.max_objects}")
    if cfg.min_size > cfg.max_size:
        raise DataError(f"--data.min_size {cfg.min_size} is above --data.max_size {cfg.max_size}")
    if cfg.max_size > cfg.canvas:
        raise DataError(f"--data.max_size {cfg.max_size} does not fit on a --data.canvas of {cfg.canvas}")


@register_data("mnist-scenes", config=SceneConfig)
def build_mnist_scenes(cfg: SceneConfig, seed: int) -> DetectionData:
    """Scenes of `dataset` objects, or the user's COCO-style JSON when `path` is set."""
    if cfg.path:
        from neuralab.data.coco_json import build_coco_json

        return build_coco_json(cfg, seed)
    _check(cfg)
    name = DATASETS[cfg.dataset]
    (x_tr, y_tr), (x_te, y_te) = mnist.load(name, cfg.root)
    g_train = torch.Generator().manual_seed(cfg.scene_seed * 1_000_003 + 1)
    g_test = torch.Generator().manual_seed(cfg.scene_seed * 1_000_003 + 2)
    n_train = min(cfg.n_train, cfg.train_limit or cfg.n_train)
    n_test = min(cfg.n_test, cfg.test_limit or cfg.n_test)
    train, _ = make_scenes(x_tr, y_tr, n_train, cfg, g_train)
    test, _ = make_scenes(x_te, y_te, n_test, cfg, g_test)
    meta = detection_meta(train, list(mnist.SETS[name].class_names), f"{name}-scenes")
    return DetectionData(train, test, meta, batch_size=cfg.batch_size, seed=seed)

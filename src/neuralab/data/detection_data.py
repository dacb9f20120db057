"""In-memory detection data: images and their object instances as padded tensors on one device, served in
shuffled mini-batches the way torchvision's detection models take them.

A split keeps every image and every instance in a few tensors, so a batch is indexing, not per-sample Python:
images (N, C, H, W) uint8, boxes (N, M, 4) float (x1, y1, x2, y2) in pixels, labels (N, M) int64 and masks, where M
is the most instances any image has. An image's instances fill its first slots; the rest are padding with label 0,
which is also the background class (labels of objects start at 1, as torchvision expects). Masks come in one of
two layouts: (N, M, H, W) bool, one mask per slot, which may overlap (COCO annotations do), or an instance map
(N, H, W) uint8 whose pixel holds the slot + 1 of the instance it belongs to (0: none), for instances that cannot
overlap (generated scenes, where later objects hide earlier ones): the same information in 1/M of the memory.

A batch is (images (B, C, H, W) float on [0, 1], targets): one dict per image with "boxes" (n, 4) float32,
"labels" (n,) int64 and "masks" (n, H, W) uint8. Each epoch's order is a permutation seeded by (seed, epoch), so the
stream's whole state is two integers and a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from neuralab.config import absolute_path, field
from neuralab.data.tensors import DataMeta
from neuralab.errors import DataError

Target = dict[str, torch.Tensor]
BACKGROUND = "__background__"  # class 0's name, as in torchvision's category lists


class DetectionSplit(NamedTuple):
    """One split's images and instances as padded tensors (see the module docstring for the layout)."""

    images: torch.Tensor  # (N, C, H, W) uint8
    boxes: torch.Tensor  # (N, M, 4) float32 (x1, y1, x2, y2) in pixels, zeros in padding slots
    labels: torch.Tensor  # (N, M) int64, class + 1; 0 in padding slots
    masks: torch.Tensor  # (N, M, H, W) bool, or an instance map (N, H, W) uint8 of slot + 1

    @property
    def counts(self) -> torch.Tensor:
        """(N,) instances per image."""
        return (self.labels > 0).sum(1)

    def to(self, device: torch.device | str) -> DetectionSplit:
        return DetectionSplit(*(t.to(device) for t in self))

    def index(self, idx: torch.Tensor) -> DetectionSplit:
        """The images `idx` (a 1-D index tensor) with their instances."""
        return DetectionSplit(*(t[idx] for t in self))

    def slot_masks(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, M, H, W) bool masks of the images `idx`, whichever layout the split keeps."""
        if self.masks.dim() == 4:
            return self.masks[idx]
        slots = torch.arange(1, self.labels.shape[1] + 1, device=self.masks.device, dtype=self.masks.dtype)
        return self.masks[idx][:, None] == slots[:, None, None]

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[Target]]:
        """(images (B, C, H, W) float on [0, 1], one target dict per image) for the images `idx`."""
        masks = self.slot_masks(idx).to(torch.uint8)
        boxes, labels, counts = self.boxes[idx], self.labels[idx], self.counts[idx].tolist()
        targets = [{"boxes": boxes[i, :n], "labels": labels[i, :n], "masks": masks[i, :n]}
                   for i, n in enumerate(counts)]
        return self.images[idx].float() / 255, targets


@dataclass(frozen=True)
class DetectionDataConfig:
    """Fields shared by every detection data source: batching, and the user's own data in COCO-style JSON."""

    batch_size: int = field(16, "Images per training step.", ge=1)
    path: str | None = field(None, "Your own data instead: a COCO-style JSON file (images, annotations with bbox "
                                   "and polygon or RLE segmentation, categories); images of different sizes are "
                                   "padded at the bottom and right to the largest.")
    images: str | None = field(None, "Folder that the `file_name`s of `path` are relative to (default: the JSON "
                                     "file's folder).")
    test_path: str | None = field(None, "A second COCO-style JSON for the test split, with the same categories "
                                        "(default: hold out `test_fraction` of the images of `path`).")
    test_images: str | None = field(None, "Folder that the `file_name`s of `test_path` are relative to (default: "
                                          "its folder).")
    test_fraction: float = field(0.2, "Share of the images of `path` held out as the test split when there is no "
                                      "`test_path`.", gt=0, le=0.9)
    channels: int = field(3, "Channels of images from `path`: 1 (grey) or 3 (RGB).", choices=(1, 3))

    def __post_init__(self) -> None:
        # Kept absolute in the run's config.json, so `eval` finds the data from any folder.
        for name in ("path", "images", "test_path", "test_images"):
            value = getattr(self, name)
            if value:
                object.__setattr__(self, name, absolute_path(value))


class DetectionData:
    """Train and test splits of images with instances on one device, served in shuffled mini-batches."""

    def __init__(self, train: DetectionSplit, test: DetectionSplit, meta: DataMeta, *, batch_size: int,
                 seed: int) -> None:
        for name, split in (("train", train), ("test", test)):
            if len(split.images) == 0:
                raise DataError(f"{meta.source or 'data'}: {name} split is empty")
        self.train, self.test, self.meta = train, test, meta
        self.batch_size = min(batch_size, len(train.images))
        self.seed = seed
        self.epoch = 0
        self.pos = 0
        self._order: torch.Tensor | None = None

    @property
    def device(self) -> torch.device:
        return self.train.images.device

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.train.images) // self.batch_size)

    def to(self, device: torch.device | str) -> DetectionData:
        self.train, self.test = self.train.to(device), self.test.to(device)
        self._order = None
        return self

    def _epoch_order(self) -> torch.Tensor:
        if self._order is None:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            self._order = torch.randperm(len(self.train.images), generator=g).to(self.device)
        return self._order

    def next_batch(self) -> tuple[torch.Tensor, list[Target]]:
        """The next training batch (images, targets); a new shuffled epoch starts when this one is used up."""
        order = self._epoch_order()
        idx = order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        if self.pos >= len(order):
            self.epoch += 1
            self.pos = 0
            self._order = None
        return self.train.batch(idx)

    def split(self, name: str) -> DetectionSplit | None:
        """The padded tensors of split `name` ("train" or "test"); None for a split this data has not."""
        return getattr(self, name) if name in ("train", "test") else None

    def batches(self, name: str = "test", batch_size: int = 0) -> Iterator[tuple[torch.Tensor, list[Target]]]:
        """Split `name` in order as (images, targets) batches of `batch_size` (0: the training batch size), for
        evaluation."""
        split = self.split(name)
        if split is None:
            raise ValueError(f"no {name!r} split")
        size = batch_size or self.batch_size
        for start in range(0, len(split.images), size):
            yield split.batch(torch.arange(start, min(start + size, len(split.images)), device=self.device))

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = None


def detection_meta(split: DetectionSplit, class_names: list[str], source: str, notes: list[str] | None = None
                   ) -> DataMeta:
    """The DataMeta of a detection set: input shape of its images, classes with the background as class 0 (so
    `num_classes` counts it, as torchvision's detection models do), pixels scaled by 1/255 and nothing more (the
    detection models normalise inside)."""
    names = [BACKGROUND, *class_names]
    return DataMeta(kind="images", input_shape=list(split.images.shape[1:]), num_classes=len(names),
                    class_names=names, pixel_scale=255.0, source=source, notes=notes or [])

"""Natural-image patches cut from scikit-learn's two bundled photographs (china.jpg and flower.jpg, 427x640 RGB),
the data of linear sparse coding, ICA and PCA of natural images (Olshausen and Field, "Emergence of simple-cell
receptive field properties by learning a sparse code for natural images", 1996; curriculum G1, notes 002 1.9).

Each photo is turned to grey (ITU-R 601 luma, as Pillow's "L" mode: 0.299 R + 0.587 G + 0.114 B, then / 255) and
split by columns: training patches come from the left `1 - test_fraction` of both photos, test patches from the
right part, so no test patch shares a pixel with a training patch. Positions are drawn uniformly from a generator
seeded by `sample_seed`, half the patches from each photo, and the two photos' patches are shuffled together (so
`train_limit` keeps both). With `remove_dc` each patch's own mean (its DC
component, the local brightness) is subtracted, as Olshausen and Field's whitening did; what is left is contrast.
A patch's label is the photo it was cut from (0 china, 1 flower). Whitening, where a method wants it, is the
method's (FastICA, sparse coding): PCA needs the unwhitened spectrum.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import util
from pathlib import Path

import numpy as np
import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import DataError, UserError
from neuralab.registry import register_data

PHOTOS = ("china", "flower")  # sklearn.datasets.load_sample_images() in its order
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, Pillow's RGB -> L


@dataclass(frozen=True)
class ImagePatchesConfig:
    patch_size: int = field(8, "Side p of the square patches (p x p pixels).", ge=2, le=64)
    n_train: int = field(20000, "Training patches cut from the left part of the photos.", ge=2)
    n_test: int = field(4000, "Test patches cut from the right part.", ge=2)
    test_fraction: float = field(0.2, "Share of each photo's columns (the right-hand side) that test patches come "
                                      "from.", gt=0, le=0.9)
    remove_dc: bool = field(True, "Subtract each patch's mean pixel (its DC component).")
    sample_seed: int = field(0, "Seed of the patch positions; the run's own seed only orders the batches.")
    batch_size: int = field(1000, "Patches per training step.", ge=1)
    train_limit: int = field(0, "Use only the first this many training patches (0: all).", ge=0)
    test_limit: int = field(0, "Evaluate on only the first this many test patches (0: all).", ge=0)


def grey_photos() -> list[torch.Tensor]:
    """The two photos as grey images (H, W) with values in [0, 1].

    Read with Pillow from the files `sklearn.datasets.load_sample_images()` reads (the same pixels, a test checks),
    without importing scikit-learn's data sets, which alone takes seconds.
    """
    from PIL import Image

    spec = util.find_spec("sklearn")  # finds the installed package without importing it
    if spec is None or spec.origin is None:
        raise DataError("image-patches cuts scikit-learn's sample photos: pip install scikit-learn")
    folder, luma = Path(spec.origin).parent / "datasets" / "images", torch.tensor(LUMA, dtype=torch.float64)
    photos = []
    for name in PHOTOS:
        with Image.open(folder / f"{name}.jpg") as image:
            rgb = torch.tensor(np.asarray(image), dtype=torch.float64)  # (H, W, 3) uint8 values
        photos.append((rgb @ luma / 255).float())
    return photos


def cut(photo: torch.Tensor, n: int, p: int, columns: tuple[int, int], g: torch.Generator) -> torch.Tensor:
    """`n` patches (n, p, p) of `photo` at uniform positions whose columns lie within [columns[0], columns[1])."""
    height = photo.shape[0]
    rows = torch.randint(0, height - p + 1, (n,), generator=g)
    cols = torch.randint(columns[0], columns[1] - p + 1, (n,), generator=g)
    offsets = torch.arange(p)
    # (n, p, 1) row indices and (n, 1, p) column indices pick every patch in one gather
    return photo[(rows[:, None] + offsets)[:, :, None], (cols[:, None] + offsets)[:, None, :]]


def patches(cfg: ImagePatchesConfig) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """(train, test): patches (N, 1, p, p) and int64 labels (the photo each came from), seeded by `sample_seed`."""
    g = torch.Generator().manual_seed(cfg.sample_seed)
    p, splits = cfg.patch_size, {"train": [], "test": []}
    for label, photo in enumerate(grey_photos()):
        width = photo.shape[1]
        boundary = round(width * (1 - cfg.test_fraction))
        for split, n, columns in (("train", cfg.n_train, (0, boundary)), ("test", cfg.n_test, (boundary, width))):
            count = n // len(PHOTOS) + (label < n % len(PHOTOS))  # n split as evenly as it goes
            if columns[1] - columns[0] < p:
                raise UserError(f"--data.patch_size {p}: the {split} part of {PHOTOS[label]}.jpg is only "
                                f"{columns[1] - columns[0]} pixels wide; choose smaller patches or another "
                                "--data.test_fraction")
            splits[split].append((cut(photo, count, p, columns, g), torch.full((count,), label)))
    out = []
    for split in ("train", "test"):
        order = torch.randperm(sum(len(y) for _, y in splits[split]), generator=g)  # the photos interleaved
        x = torch.cat([x for x, _ in splits[split]])[order, None]  # (N, 1, p, p)
        if cfg.remove_dc:
            x = x - x.mean(dim=(2, 3), keepdim=True)
        out.append((x, torch.cat([y for _, y in splits[split]])[order]))
    return out[0], out[1]


@register_data("image-patches", config=ImagePatchesConfig)
def build_image_patches(cfg: ImagePatchesConfig, seed: int) -> SupervisedData:
    (x_tr, y_tr), (x_te, y_te) = patches(cfg)
    if cfg.train_limit:
        x_tr, y_tr = x_tr[:cfg.train_limit], y_tr[:cfg.train_limit]
    if cfg.test_limit:
        x_te, y_te = x_te[:cfg.test_limit], y_te[:cfg.test_limit]
    notes = [f"{len(x_tr)} training and {len(x_te)} test patches of {cfg.patch_size}x{cfg.patch_size} pixels"
             + (", each patch's mean removed" if cfg.remove_dc else "")]
    meta = DataMeta(kind="images", input_shape=list(x_tr.shape[1:]), num_classes=len(PHOTOS),
                    class_names=list(PHOTOS), pixel_scale=255.0, source="image-patches", notes=notes)
    return SupervisedData((x_tr, y_tr), (x_te, y_te), meta, batch_size=cfg.batch_size, seed=seed)

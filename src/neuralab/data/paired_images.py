"""Image-to-image translation tasks built offline from MNIST and Fashion-MNIST (curriculum G4: Pix2Pix, CycleGAN).

Two sources, each a `SupervisedData` whose x are input images and whose y are images (N, 1, 28, 28) of the other
domain, pixels in [0, 1]:

- `fashion-edges` (paired, Isola et al. 2017's "edges -> shoes" on a small scale): x is the edge map of a
  Fashion-MNIST item, its Sobel gradient magnitude thresholded to {0, 1}; y is the item itself. Test pairs come from
  the Fashion-MNIST test set.
- `mnist-unpaired` (unpaired, as CycleGAN's horse <-> zebra): domain A is MNIST digits, domain B the thickened
  (a 3x3 morphological dilation, `max_pool2d`) or inverted versions of *other* digits. The training set is cut into
  two disjoint halves by a fixed permutation: x holds half 1's digits as they are, y holds half 2's digits
  transformed, so row i of x and row i of y are different digits and no pair is ever seen. The test split pairs each
  MNIST test digit with its own transformed version, for measurement only (a CycleGAN never trains on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from neuralab.config import field
from neuralab.data import mnist
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.registry import register_data

SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])  # d/dx; its transpose is d/dy
DOMAIN_B = ("thicken", "invert")


@dataclass(frozen=True)
class PairedImagesConfig:
    """Fields shared by the translation sources."""

    batch_size: int = field(64, "Pairs per training step.", ge=1)
    train_limit: int = field(0, "Use only this many training pairs (0: all).", ge=0)
    test_limit: int = field(0, "Evaluate on only the first this many test pairs (0: all).", ge=0)
    root: str | None = field(None, "Folder with the four IDX files (else env var, cache, packaged copy, download).")


@dataclass(frozen=True)
class FashionEdgesConfig(PairedImagesConfig):
    threshold: float = field(1.0, "An edge pixel has a Sobel gradient magnitude above this (pixels in [0, 1]; the "
                                  "largest possible magnitude is 4 sqrt 2 = 5.66).", gt=0)


@dataclass(frozen=True)
class UnpairedMnistConfig(PairedImagesConfig):
    domain_b: str = field("thicken", "Domain B: thicken (3x3 dilation of each digit) or invert (1 - pixels).",
                          choices=DOMAIN_B)
    split_seed: int = field(0, "Seed of the permutation that cuts the training set into the two disjoint halves: "
                               "fixed, so runs with different seeds see the same domains.")


def sobel_magnitude(images: torch.Tensor) -> torch.Tensor:
    """sqrt(gx^2 + gy^2) of images (N, 1, H, W) with 3x3 Sobel kernels, zero beyond the border (as
    `scipy.ndimage.sobel(mode="constant")`)."""
    kernels = torch.stack([SOBEL_X, SOBEL_X.T])[:, None].to(images)  # (2, 1, 3, 3): gx, gy
    gradients = F.conv2d(images, kernels, padding=1)  # cross-correlation, as scipy's correlate
    return gradients.pow(2).sum(1, keepdim=True).sqrt()


def edge_maps(images: torch.Tensor, threshold: float) -> torch.Tensor:
    """Binary edge maps (N, 1, H, W) in {0, 1}: where the Sobel gradient magnitude exceeds `threshold`."""
    return (sobel_magnitude(images) > threshold).to(images.dtype)


def thicken(images: torch.Tensor) -> torch.Tensor:
    """Grey-level morphological dilation with a 3x3 square: each pixel becomes the largest of its neighbourhood."""
    return F.max_pool2d(images, kernel_size=3, stride=1, padding=1)


def transform_b(images: torch.Tensor, how: str) -> torch.Tensor:
    """Domain B of `mnist-unpaired`: the thickened or the inverted images."""
    return thicken(images) if how == "thicken" else 1.0 - images


def disjoint_halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of two disjoint halves of range(n), cut by a permutation seeded by `seed`."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:n // 2], order[n // 2:]


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return x[:, None].float() / 255  # uint8 (N, 28, 28) -> (N, 1, 28, 28) in [0, 1]


def _data(cfg: PairedImagesConfig, seed: int, train: tuple[torch.Tensor, torch.Tensor],
          test: tuple[torch.Tensor, torch.Tensor], source: str) -> SupervisedData:
    (x_tr, y_tr), (x_te, y_te) = train, test
    if cfg.train_limit:
        x_tr, y_tr = x_tr[:cfg.train_limit], y_tr[:cfg.train_limit]
    if cfg.test_limit:
        x_te, y_te = x_te[:cfg.test_limit], y_te[:cfg.test_limit]
    meta = DataMeta(kind="images", input_shape=list(x_tr.shape[1:]), num_classes=0, class_names=[], source=source,
                    target_shape=list(y_tr.shape[1:]))
    return SupervisedData((x_tr, y_tr), (x_te, y_te), meta, batch_size=cfg.batch_size, seed=seed)


@register_data("fashion-edges", config=FashionEdgesConfig)
def build_fashion_edges(cfg: FashionEdgesConfig, seed: int) -> SupervisedData:
    (x_tr, _), (x_te, _) = mnist.load("fashion-mnist", cfg.root)
    items_tr, items_te = _pixels(x_tr), _pixels(x_te)
    return _data(cfg, seed, (edge_maps(items_tr, cfg.threshold), items_tr),
                 (edge_maps(items_te, cfg.threshold), items_te), "fashion-edges")


@register_data("mnist-unpaired", config=UnpairedMnistConfig)
def build_mnist_unpaired(cfg: UnpairedMnistConfig, seed: int) -> SupervisedData:
    (x_tr, _), (x_te, _) = mnist.load("mnist", cfg.root)
    digits, digits_te = _pixels(x_tr), _pixels(x_te)
    half_a, half_b = disjoint_halves(len(digits), cfg.split_seed)
    return _data(cfg, seed, (digits[half_a], transform_b(digits[half_b], cfg.domain_b)),
                 (digits_te, transform_b(digits_te, cfg.domain_b)), f"mnist-{cfg.domain_b}-unpaired")

"""Binary +-1 images for a Hopfield network to store (curriculum E4, notes 002 section 4.4): digits, letters or
random patterns, each an S x S image whose pixels are the network's units.

Hebbian storage only works for patterns that are nearly uncorrelated (pairwise overlap (1/N) xi^a . xi^b near 0).
Raw binarised digits are not: most of their pixels are background shared by every digit, so their overlaps are
0.6-0.9 and a few of them already merge into one attractor. So the sources here make the patterns as distinct as
images allow, and the recipes store only a handful of them:

- digits: each MNIST class's mean training image, cut to its central 20 x 20 pixels (the 28 x 28 frame's border is
  background for every digit), minus the mean of the ten class means (what every digit shares), area-averaged to
  S x S and thresholded at its own median, so half the pixels are +1: where this digit has more ink than the
  average digit. Without the subtraction the overlaps are 0.1-0.8 and no four digits are all stable; with it
  (mean |overlap| 0.17) seven of the ten are recalled (0123689), all ten are not.
- letters: capital letters drawn with Pillow's built-in font (`ImageFont.load_default`, the bundled Aileron face,
  or the bitmap font where Pillow lacks FreeType), strokes thickened with a 9-pixel maximum filter at 64-pixel
  size (thin strokes leave the glyphs mostly background, that is correlated), cropped, centred in a square,
  area-averaged to S x S and thresholded at half intensity: ink +1, paper -1. Their overlaps are 0.0-0.9 (E and F:
  0.88); the default five, IMCWX, are the first five a greedy search for the least overlap picks, and a sixth
  already makes some of them unstable.
- random: independent uniform +-1 pixels, the patterns of the capacity theory (overlaps of order 1/sqrt(N)).

A pattern's label is its class (digit, letter or index); the test split holds the same patterns, which is what
recall is asked to restore.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
import torch.nn.functional as F

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.registry import register_data

KINDS = ("digits", "letters", "random")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
GLYPH_SIZE = 64  # pixels of the rendered letter before it is shrunk to S x S
THICKEN = 9  # size of the maximum filter that makes the strokes bold
CROP = slice(4, 24)  # the central 20 x 20 pixels of a 28 x 28 MNIST image


@dataclass(frozen=True)
class BinaryPatternsConfig:
    kind: str = field("digits", "Which patterns: digits (MNIST class prototypes), letters (Pillow's font) or "
                                "random (uniform +-1).", choices=KINDS)
    size: int = field(16, "Side S of the square images: N = S * S units.", ge=4, le=64)
    digits: str = field("0123689", "Digit classes stored, for kind digits (0123456789 shows the overload).",
                        nonempty=True)
    letters: str = field("IMCWX", "Capital letters stored, for kind letters (HOPFIELD shows correlated ones fail).",
                         nonempty=True)
    count: int = field(10, "Number of patterns, for kind random.", ge=1)
    pattern_seed: int = field(0, "Seed of the random patterns; the run's own seed only orders the storage.")
    batch_size: int = field(1, "Patterns stored per step (the weights do not depend on it: storage is a sum).",
                            ge=1)


def _binarise(images: torch.Tensor, threshold: torch.Tensor | float) -> torch.Tensor:
    return torch.where(images > threshold, 1.0, -1.0)


def digit_prototypes(classes: list[int], size: int) -> torch.Tensor:
    """(K, 1, S, S) in {-1, +1}: the listed MNIST classes' mean images, cropped, less the mean of all ten, shrunk and
    median-thresholded."""
    from neuralab.data import mnist

    (x, y), _ = mnist.load(mnist.SETS["mnist"])
    means = torch.stack([x[y == c].float().mean(0) / 255 for c in range(10)])[:, None, CROP, CROP]  # (10, 1, 20, 20)
    distinct = (means - means.mean(0, keepdim=True))[classes]  # the same pattern whichever digits are stored
    small = F.interpolate(distinct, size=size, mode="area")
    return _binarise(small, small.flatten(1).median(1).values[:, None, None, None])


@cache
def _glyph(letter: str, size: int) -> tuple[float, ...]:
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    font = ImageFont.load_default(size=GLYPH_SIZE)
    canvas = Image.new("L", (2 * GLYPH_SIZE, 2 * GLYPH_SIZE), 0)
    ImageDraw.Draw(canvas).text((GLYPH_SIZE // 3, GLYPH_SIZE // 6), letter, fill=255, font=font)
    ink = np.asarray(canvas.filter(ImageFilter.MaxFilter(THICKEN)))
    rows, cols = np.nonzero(ink)
    ink = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = ink.shape
    side = max(height, width)
    square = np.zeros((side, side), dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = ink
    small = Image.fromarray(square).resize((size, size), Image.Resampling.BOX)
    return tuple((np.asarray(small, dtype=np.float64) / 255).ravel().tolist())


def letter_images(letters: str, size: int) -> torch.Tensor:
    """(K, 1, S, S) in {-1, +1}: the letters drawn bold, ink +1."""
    glyphs = torch.tensor([_glyph(c, size) for c in letters], dtype=torch.float32).view(len(letters), 1, size, size)
    return _binarise(glyphs, 0.5)


def random_patterns(count: int, n: int, seed: int) -> torch.Tensor:
    """(count, n) independent uniform +-1 entries from a generator seeded by `seed`."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (count, n), generator=g).float() * 2 - 1


def patterns(cfg: BinaryPatternsConfig) -> tuple[torch.Tensor, list[str]]:
    """The configured patterns (K, 1, S, S) in {-1, +1} and their names."""
    if cfg.kind == "digits":
        if not cfg.digits.isdigit() or len(set(cfg.digits)) != len(cfg.digits):
            raise UserError(f"--data.digits {cfg.digits}: give distinct digits 0-9, e.g. 0167")
        return digit_prototypes([int(c) for c in cfg.digits], cfg.size), list(cfg.digits)
    if cfg.kind == "letters":
        letters = cfg.letters.upper()
        if any(c not in ALPHABET for c in letters) or len(set(letters)) != len(letters):
            raise UserError(f"--data.letters {cfg.letters}: give distinct capital letters A-Z, e.g. HOPE")
        return letter_images(letters, cfg.size), list(letters)
    images = random_patterns(cfg.count, cfg.size * cfg.size, cfg.pattern_seed).view(cfg.count, 1, cfg.size, cfg.size)
    return images, [f"pattern {k}" for k in range(cfg.count)]


@register_data("binary-patterns", config=BinaryPatternsConfig)
def build_binary_patterns(cfg: BinaryPatternsConfig, seed: int) -> SupervisedData:
    x, names = patterns(cfg)
    y = torch.arange(len(x))
    flat = x.flatten(1)
    overlaps = flat @ flat.T / flat.shape[1]
    largest = float((overlaps - 2 * torch.eye(len(x))).max()) if len(x) > 1 else 0.0
    notes = [f"{len(x)} {cfg.kind} patterns of {cfg.size}x{cfg.size} = {flat.shape[1]} units in {{-1, +1}}, "
             f"largest pairwise overlap {largest:.2f}"]
    # pixels are +-1 already: a saved image (0..255) maps back to them through mean 0.5, std 0.5
    meta = DataMeta(kind="images", input_shape=list(x.shape[1:]), num_classes=len(x), class_names=names,
                    mean=0.5, std=0.5, pixel_scale=255.0, source="binary-patterns", notes=notes)
    return SupervisedData((x, y), (x, y), meta, batch_size=cfg.batch_size, seed=seed)

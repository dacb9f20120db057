"""Faithfulness of the attribution maps (issue 8, item 6): on a task whose class depends only on one known
patch, saliency, occlusion and Grad-CAM maps of a trained CNN should put most (>= 60%) of their mass inside it.

The task. Each 28x28 image is white noise of standard deviation 0.2 with one bar of brightness +1 (6x2 pixels)
somewhere inside an 8x8 patch (rows 4-11, columns 16-23: 8% of the image, the chance level of the mass):
horizontal for class 0, vertical for class 1. Nothing outside the patch carries the label. A bar's orientation
is a pattern a convolution has to read, not a brightness shift (the first version of this test shifted the
patch by +-0.3 in unit noise, which a LeNet-5 separated by averaging pixels, and its saliency and Grad-CAM
spread over the noise: 0.51 and 0.25). The noise is strong enough that any weight reading a position outside the
patch adds variance to the logits, so training has a reason to silence it; each batch is freshly drawn, so
nothing can be memorised.

The network. conv 3x3 (16 channels) - ReLU - max-pool 4 - conv 1x1 (16) - ReLU - linear over the 7x7 map.
- The last convolution keeps a 7x7 map, which Grad-CAM assumes (LeNet-5's last, C5, is 1x1, so Grad-CAM had
  to use C3, whose channels the position-specific C5 mixes).
- The receptive field of a 7x7 cell is small (6 pixels), so a bar lights only the cells over it, not a ring
  of neighbours; a deeper stack (two 3x3 convolutions and two pools) spread Grad-CAM over ~18 pixels.
- The convolutions have no bias: a ReLU unit over the faint background then responds in proportion to the
  noise instead of to a constant bias, so the background stays dark in Grad-CAM and occlusion.
- The classifier reads each position separately and SGD with weight decay (0.03) shrinks the weights on
  positions outside the patch, which carry only noise: that is what makes saliency (a gradient, so blind to
  how faint the background is) quiet there. In trials AdamW's normalised steps left them larger (saliency
  0.45 against 0.56 for SGD in a deeper variant of this net).

Measured here (mean over 8 test images; chance 0.082): saliency 0.71, occlusion 0.82, Grad-CAM 0.42.
Grad-CAM stays below 0.6: its map is 7x7 and bilinear upsampling of the 2x2 cells over the patch alone puts
23% of the mass outside; bars at the patch's edge also light the neighbouring cells. It is a strict xfail
for the 60% test, and every method must beat twice the chance level in the other test.

Why, measured on the 7x7 map before upsampling (seed 0): the cells over the bar hold 0.04-0.11 each, every
background cell 0.00-0.02, and the 45 background cells together hold about half the mass. Grad-CAM weights a
channel by its mean gradient over all positions, so any channel the bar excites also lights the background
wherever noise excites it; only the linear layer's weights, not the features, ignore positions outside the patch.
Variants tried (2026-12-01, seeds 0-3, min-max of Grad-CAM's in-patch mass): a 14x14 last map (max-pool 2)
0.25-0.30; biases in the convolutions 0.31-0.60; global average pooling instead of the linear layer 0.14-0.58
(and 0.47-0.92 accuracy in 300 steps); average pooling 0.04-0.29 (mostly untrained); noise 0.1 0.43-0.51 and
0.05 0.52-0.57; a 12x12 patch on 3x3 cells 0.45-0.58 (noise 0.2) and 0.57 at least (noise 0.1, chance 0.18); the
first ReLU's 28x28 maps 0.19. Saliency, at this configuration, ranges 0.49-0.80 over those seeds.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.interpret.gradcam import gradcam
from neuralab.interpret.occlusion import occlusion
from neuralab.interpret.saliency import saliency

SIZE, TOP, LEFT, SIDE = 28, 4, 16, 8
BAR, THICK, NOISE = 6, 2, 0.2
STEPS, BATCH, EXAMPLES = 300, 64, 8
MIN_MASS = 0.6
CHANCE = SIDE * SIDE / (SIZE * SIZE)  # the mass a map spread evenly over the image puts inside the patch
GRADCAM_LAYER = "4"  # the ReLU after the last convolution
KNOWN_SHORT = {
    "gradcam": "measured 0.42 in-patch mass: the 7x7 map upsampled bilinearly leaks 23% of even a perfect 2x2-cell "
               "map outside the 8x8 patch, and bars at the patch's edge light neighbouring cells",
}


def _patch_task(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n images and labels: noise, plus a horizontal (0) or vertical (1) bar at a random place in the patch."""
    y = torch.randint(0, 2, (n,), generator=g)
    along = torch.randint(0, SIDE - BAR + 1, (n,), generator=g)  # where the bar starts along its length
    across = torch.randint(0, SIDE - THICK + 1, (n,), generator=g)  # and across it
    x = NOISE * torch.randn(n, 1, SIZE, SIZE, generator=g)
    horizontal = y == 0
    row0 = TOP + torch.where(horizontal, across, along)
    col0 = LEFT + torch.where(horizontal, along, across)
    rows, cols = torch.arange(SIZE)[None, :], torch.arange(SIZE)[None, :]
    in_rows = (rows >= row0[:, None]) & (rows < (row0 + torch.where(horizontal, THICK, BAR))[:, None])
    in_cols = (cols >= col0[:, None]) & (cols < (col0 + torch.where(horizontal, BAR, THICK))[:, None])
    x[:, 0] += (in_rows[:, :, None] & in_cols[:, None, :]).float()
    return x, y


def _network() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(4),
                         nn.Conv2d(16, 16, 1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 7 * 7, 2))


@pytest.fixture(scope="module")
def trained() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = _network()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.03)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS)
    for _ in range(STEPS):
        x, y = _patch_task(BATCH, g)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    x, y = _patch_task(256, g)
    model.eval()
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() > 0.95  # it learned the task at all
    return model, x[:EXAMPLES], y[:EXAMPLES]


def _in_patch_mass(maps: torch.Tensor) -> float:
    """Mean over images of the share of each map's (non-negative) mass that lies inside the patch."""
    maps = maps.clamp(min=0)
    inside = maps[:, TOP:TOP + SIDE, LEFT:LEFT + SIDE].flatten(1).sum(1)
    return float((inside / maps.flatten(1).sum(1).clamp(min=1e-12)).mean())


def _maps(method: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    maps = {"saliency": lambda: saliency(model, x, y), "occlusion": lambda: occlusion(model, x, y),
            "gradcam": lambda: gradcam(model, x, y, GRADCAM_LAYER)}[method]()
    assert maps.shape == (EXAMPLES, SIZE, SIZE)
    return maps


@pytest.mark.parametrize("method", [pytest.param(m, marks=pytest.mark.xfail(reason=KNOWN_SHORT[m], strict=True))
                                    if m in KNOWN_SHORT else m for m in ("saliency", "occlusion", "gradcam")])
def test_most_of_the_map_lies_inside_the_patch_that_decides_the_class(method, trained):
    mass = _in_patch_mass(_maps(method, *trained))
    print(f"{method}: in-patch mass {mass:.3f} (chance {CHANCE:.3f})")
    assert mass >= MIN_MASS


@pytest.mark.parametrize("method", ["saliency", "occlusion", "gradcam"])
def test_every_map_concentrates_on_the_patch_well_above_chance(method, trained):
    mass = _in_patch_mass(_maps(method, *trained))
    print(f"{method}: in-patch mass {mass:.3f} (chance {CHANCE:.3f})")
    assert mass >= 2 * CHANCE

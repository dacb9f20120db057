"""Faithfulness of the attribution maps (issue 8, item 6): on a task whose class depends only on one known
patch, saliency, occlusion and Grad-CAM maps of a trained CNN should put most (>= 60%) of their mass inside it.

The tasks. Each 28x28 image is white noise with one bar of brightness +1 (6x2 pixels) somewhere inside a known
square patch: horizontal for class 0, vertical for class 1. Nothing outside the patch carries the label. A bar's
orientation is a pattern a convolution has to read, not a brightness shift (the first version of this test
shifted the patch by +-0.3 in unit noise, which a LeNet-5 separated by averaging pixels, and its saliency and
Grad-CAM spread over the noise: 0.51 and 0.25). The noise gives training a reason to silence every weight that
reads a position outside the patch (it only adds variance to the logits); each batch is freshly drawn, so
nothing can be memorised. Two settings:
- `clean`: a 12x12 patch (rows 4-15, columns 12-23, 18% of the image: the chance level of the mass), exactly 3x3
  cells of the last 7x7 map, noise of standard deviation 0.05. The >= 60% test runs here.
- `cluttered`: an 8x8 patch (rows 4-11, columns 16-23, chance 8%), 2x2 cells, noise 0.2. Every map must still
  beat twice the chance level, but Grad-CAM does not reach 60% (0.42 measured), for the reason below.

Grad-CAM and clutter. Grad-CAM weights each channel of a layer by its mean gradient over all positions, so a
channel that the bar excites also lights every background cell where noise excites it; only the linear layer's
weights, not the features, ignore positions outside the patch. On the cluttered task's 7x7 map (seed 0) the cells
over the bar hold 0.04-0.11 each and every background cell 0.00-0.02, but the 45 background cells together hold
about half of the mass; bilinear upsampling then spreads the 2x2 patch cells over their neighbours (23% of even a
perfect map's mass leaves an 8x8 patch). Variants of the cluttered task tried (seeds 0-3, Grad-CAM's in-patch
mass): a 14x14 last map (max-pool 2) 0.25-0.30; biases in the convolutions 0.31-0.60; global average pooling in
place of the linear layer 0.14-0.58; noise 0.1 0.43-0.51, noise 0.05 0.52-0.57; a 12x12 patch at noise 0.2
0.45-0.58. The clean task at seeds 0-3 gave saliency 0.78-0.85, occlusion 0.93-0.98, Grad-CAM 0.67-0.77.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.interpret.gradcam import gradcam
from neuralab.interpret.occlusion import occlusion
from neuralab.interpret.saliency import saliency

SIZE, BAR, THICK = 28, 6, 2
STEPS, BATCH, EXAMPLES = 300, 64, 8
MIN_MASS = 0.6
GRADCAM_LAYER = "4"  # the ReLU after the last convolution
METHODS = ("saliency", "occlusion", "gradcam")


@dataclass(frozen=True)
class Task:
    """Where the deciding patch lies (its top-left pixel and side) and how strong the noise around the bar is."""

    top: int
    left: int
    side: int
    noise: float

    @property
    def chance(self) -> float:
        """The share of the mass a map spread evenly over the image puts inside the patch."""
        return self.side * self.side / (SIZE * SIZE)


TASKS = {"clean": Task(top=4, left=12, side=12, noise=0.05), "cluttered": Task(top=4, left=16, side=8, noise=0.2)}


def _patch_task(task: Task, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n images and labels: noise, plus a horizontal (0) or vertical (1) bar at a random place in the patch."""
    y = torch.randint(0, 2, (n,), generator=g)
    along = torch.randint(0, task.side - BAR + 1, (n,), generator=g)  # where the bar starts along its length
    across = torch.randint(0, task.side - THICK + 1, (n,), generator=g)  # and across it
    x = task.noise * torch.randn(n, 1, SIZE, SIZE, generator=g)
    horizontal = y == 0
    row0 = task.top + torch.where(horizontal, across, along)
    col0 = task.left + torch.where(horizontal, along, across)
    rows, cols = torch.arange(SIZE)[None, :], torch.arange(SIZE)[None, :]
    in_rows = (rows >= row0[:, None]) & (rows < (row0 + torch.where(horizontal, THICK, BAR))[:, None])
    in_cols = (cols >= col0[:, None]) & (cols < (col0 + torch.where(horizontal, BAR, THICK))[:, None])
    x[:, 0] += (in_rows[:, :, None] & in_cols[:, None, :]).float()
    return x, y


def _network() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.ReLU(), nn.MaxPool2d(4),
                         nn.Conv2d(16, 16, 1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 7 * 7, 2))


@cache
def _trained(name: str) -> tuple[Task, nn.Module, torch.Tensor, torch.Tensor]:
    """The network trained on task `name` (seed 0), and EXAMPLES test images with their labels."""
    task = TASKS[name]
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = _network()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=0.03)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS)
    for _ in range(STEPS):
        x, y = _patch_task(task, BATCH, g)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    x, y = _patch_task(task, 256, g)
    model.eval()
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() > 0.95  # it learned the task at all
    return task, model, x[:EXAMPLES], y[:EXAMPLES]


def _in_patch_mass(task: Task, maps: torch.Tensor) -> float:
    """Mean over images of the share of each map's (non-negative) mass that lies inside the patch."""
    maps = maps.clamp(min=0)
    inside = maps[:, task.top:task.top + task.side, task.left:task.left + task.side].flatten(1).sum(1)
    return float((inside / maps.flatten(1).sum(1).clamp(min=1e-12)).mean())


def _mass(method: str, task: Task, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    maps = {"saliency": lambda: saliency(model, x, y), "occlusion": lambda: occlusion(model, x, y),
            "gradcam": lambda: gradcam(model, x, y, GRADCAM_LAYER)}[method]()
    assert maps.shape == (EXAMPLES, SIZE, SIZE)
    mass = _in_patch_mass(task, maps)
    print(f"{method}: in-patch mass {mass:.3f} (chance {task.chance:.3f})")
    return mass


@pytest.mark.parametrize("method", METHODS)
def test_most_of_the_map_lies_inside_the_patch_that_decides_the_class(method):
    assert _mass(method, *_trained("clean")) >= MIN_MASS


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("method", METHODS)
def test_every_map_concentrates_on_the_patch_well_above_chance(method, task):
    assert _mass(method, *_trained(task)) >= 2 * TASKS[task].chance

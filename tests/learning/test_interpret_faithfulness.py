"""Faithfulness of the attribution maps (issue 8, item 6): on a task whose class depends only on one known
patch, the maps of a trained LeNet-5 should put most (>= 60%) of their mass inside that patch.

Images are unit Gaussian noise; an 8x8 patch (8% of the 28x28 image) is shifted by +0.3 for class 1 and
-0.3 for class 0. Nothing else carries the label, and the noise makes every weight on a pixel outside the
patch cost accuracy, so training pushes the network to look only at the patch. Each batch is freshly drawn,
so the network cannot memorise noise.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from neuralab.api import create_model
from neuralab.interpret.gradcam import gradcam
from neuralab.interpret.occlusion import occlusion
from neuralab.interpret.saliency import saliency

TOP, LEFT, SIDE, SHIFT = 4, 16, 8, 0.3
STEPS, BATCH, EXAMPLES = 400, 64, 8
MIN_MASS = 0.6
# Measured in-patch mass here (mean over the 8 test images; chance is 8%): occlusion 0.78, saliency 0.51,
# Grad-CAM at C3 0.25 -- the last two below the 60%, see the xfail reasons.
KNOWN_SHORT = {
    "saliency": "measured 0.51 in-patch mass: the trained net keeps part of its random-init sensitivity to noise "
                "pixels outside the patch",
    "gradcam": "measured 0.25: LeNet-5's C5 is position-specific, so Grad-CAM's spatially averaged gradient weights "
               "mix channels whose responses to the background noise then dominate the 90% of the map outside",
}


def _patch_task(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 1, 28, 28, generator=g)
    x[:, :, TOP:TOP + SIDE, LEFT:LEFT + SIDE] += SHIFT * (2 * y - 1).float()[:, None, None, None]
    return x, y


@pytest.fixture(scope="module")
def trained() -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = create_model("lenet5", num_classes=2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    for _ in range(STEPS):
        x, y = _patch_task(BATCH, g)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, y = _patch_task(256, g)
    model.eval()
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() > 0.95  # it learned the task at all
    return model, x[:EXAMPLES], y[:EXAMPLES]


def _in_patch_mass(maps: torch.Tensor) -> float:
    """Mean over images of the share of each map's (non-negative) mass that lies inside the patch."""
    maps = maps.clamp(min=0)
    inside = maps[:, TOP:TOP + SIDE, LEFT:LEFT + SIDE].flatten(1).sum(1)
    return float((inside / maps.flatten(1).sum(1)).mean())


@pytest.mark.parametrize("method", [pytest.param(m, marks=pytest.mark.xfail(reason=KNOWN_SHORT[m], strict=True))
                                    if m in KNOWN_SHORT else m for m in ("saliency", "occlusion", "gradcam")])
def test_most_of_the_map_lies_inside_the_patch_that_decides_the_class(method, trained):
    model, x, y = trained
    maps = {"saliency": lambda: saliency(model, x, y), "occlusion": lambda: occlusion(model, x, y),
            "gradcam": lambda: gradcam(model, x, y, "features.3")}[method]()
    assert maps.shape == (EXAMPLES, 28, 28)
    assert _in_patch_mass(maps) >= MIN_MASS

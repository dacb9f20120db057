"""neuralab.interpret against Captum (the maintained PyTorch attribution library) on a small random CNN:
saliency, occlusion and Grad-CAM must give the same maps. Skipped where Captum is not installed (dev extra)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuralab.interpret.gradcam import gradcam
from neuralab.interpret.occlusion import occlusion
from neuralab.interpret.saliency import saliency

attr = pytest.importorskip("captum.attr", reason="captum (dev extra) is the oracle")


@pytest.fixture
def model_and_inputs() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 4), nn.Dropout(0.5))
    return model, torch.randn(3, 3, 12, 12), torch.tensor([0, 2, 3])


def test_saliency_matches_captum(model_and_inputs):
    model, x, y = model_and_inputs
    model.eval()  # captum differentiates the model as given; ours switches to evaluation mode itself
    expected = attr.Saliency(model).attribute(x, target=y, abs=True).amax(1)
    torch.testing.assert_close(saliency(model, x, y), expected)


def test_occlusion_matches_captum(model_and_inputs):
    model, x, y = model_and_inputs
    model.eval()
    # 12 - 4 is a multiple of the stride, so both slide the square over the same positions
    expected = attr.Occlusion(lambda inp: model(inp).softmax(-1)).attribute(
        x, target=y, sliding_window_shapes=(3, 4, 4), strides=(3, 2, 2), baselines=0.0)
    torch.testing.assert_close(occlusion(model, x, y, side=4, stride=2, batch_size=7), expected[:, 0])
    assert torch.equal(expected[:, 0], expected[:, 2])  # a grey square hides every channel alike


def test_gradcam_matches_captum(model_and_inputs):
    model, x, y = model_and_inputs
    model.eval()
    low = attr.LayerGradCam(model, model[3]).attribute(x, target=y, relu_attributions=True)
    expected = attr.LayerAttribution.interpolate(low, (12, 12), "bilinear")[:, 0]
    torch.testing.assert_close(gradcam(model, x, y, "3"), expected.detach())

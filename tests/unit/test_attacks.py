"""FGSM and PGD against oracles: the analytic input gradient of a linear model, the eps-ball and the pixel
range, and the data layer's normalisation (epsilon is in pixels on [0, 1], not in normalised units)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import neuralab
from neuralab.api import load
from neuralab.data.tensors import DataMeta
from neuralab.errors import UserError
from neuralab.methods.attacks import PixelSpace, fgsm, fixed_subset, pgd

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _meta(mean: float = MNIST_MEAN, std: float = MNIST_STD, pixel_scale: float = 255.0,
          kind: str = "images") -> DataMeta:
    return DataMeta(kind=kind, input_shape=[1, 4, 4], num_classes=3, class_names=["a", "b", "c"], mean=mean,
                    std=std, pixel_scale=pixel_scale)


def _linear(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 3))


def _analytic_pixel_gradient_sign(model: nn.Module, space: PixelSpace, p: torch.Tensor,
                                  y: torch.Tensor) -> torch.Tensor:
    """sign(dL/dp) of cross-entropy through z = a p + b and logits W z + c: a W^T (softmax(logits) - onehot)."""
    linear = model[1]
    with torch.no_grad():
        logits = linear(space.to_model(p).flatten(1))
        grad = space.scale * (logits.softmax(-1) - F.one_hot(y, 3).float()) @ linear.weight  # (B, 16)
    return grad.sign().view_as(p)


@pytest.mark.parametrize("meta", [_meta(), _meta(0.0, 1.0, 255.0), _meta(0.0, 1.0, 1.0)],
                         ids=["standardised", "scaled", "raw-0-255"])
def test_fgsm_moves_each_pixel_by_exactly_eps_times_the_sign_of_the_analytic_gradient(meta):
    space, model = PixelSpace.from_meta(meta), _linear()
    with torch.no_grad():  # the same logits in every normalisation (raw 0..255 inputs would saturate the softmax)
        model[1].weight /= space.scale
    g = torch.Generator().manual_seed(1)
    p = 0.2 + 0.6 * torch.rand(64, 1, 4, 4, generator=g)  # inside [eps, 1 - eps]: nothing is clipped
    y = torch.randint(0, 3, (64,), generator=g)
    x = space.to_model(p)
    adv = fgsm(model, x, y, space, eps=0.1)
    expected = _analytic_pixel_gradient_sign(model, space, p, y)
    assert (expected != 0).all()
    delta = space.to_pixels(adv) - space.to_pixels(x)
    torch.testing.assert_close(delta, 0.1 * expected, atol=1e-6, rtol=0)
    # In the model's own units the step is eps * 255 / (pixel_scale * std): 0.1 / 0.3081 after standardising,
    # 25.5 grey levels on raw pixels.
    torch.testing.assert_close(adv - x, 0.1 * 255 / (meta.pixel_scale * meta.std) * expected, atol=1e-4, rtol=1e-5)


def test_fgsm_keeps_pixels_in_range_where_the_gradient_points_out_of_it():
    space, model = PixelSpace.from_meta(_meta()), _linear()
    g = torch.Generator().manual_seed(2)
    p = torch.randint(0, 2, (64, 1, 4, 4), generator=g).float()  # black and white pixels only
    y = torch.randint(0, 3, (64,), generator=g)
    out = space.to_pixels(fgsm(model, space.to_model(p), y, space, eps=0.3))
    sign = _analytic_pixel_gradient_sign(model, space, p, y)
    assert out.min() >= 0 and out.max() <= 1
    pushed_out = ((p == 0) & (sign < 0)) | ((p == 1) & (sign > 0))
    assert pushed_out.any() and (out[pushed_out] == p[pushed_out]).all()
    torch.testing.assert_close(out[~pushed_out], (p + 0.3 * sign)[~pushed_out], atol=1e-6, rtol=0)


def test_pgd_stays_in_the_eps_ball_and_the_pixel_range_and_uses_it():
    space = PixelSpace.from_meta(_meta())
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3))
    g = torch.Generator().manual_seed(3)
    p = torch.rand(128, 1, 4, 4, generator=g)
    p[:, :, 0] = 0.0  # a black row and a white column, where the ball leaves the pixel range
    p[:, :, :, 0] = 1.0
    y = torch.randint(0, 3, (128,), generator=g)
    out = space.to_pixels(pgd(model, space.to_model(p), y, space, eps=0.1, steps=7,
                              generator=torch.Generator().manual_seed(4)))
    delta = out - p
    assert out.min() >= 0 and out.max() <= 1
    assert delta.abs().max() <= 0.1 + 1e-6
    assert (delta.abs() > 0.1 - 1e-6).float().mean() > 0.5  # most pixels end on the ball's surface


def test_attacks_leave_the_parameters_gradients_and_the_models_mode_alone():
    space, model = PixelSpace.from_meta(_meta()), _linear()
    model.train()
    x, y = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
    with torch.no_grad():  # an evaluation loop's context: the attack still needs its input gradients
        pgd(model, x, y, space, eps=0.1, steps=2)
    assert model.training and all(p.grad is None for p in model.parameters())
    assert fgsm(model, x, y, space, eps=0.0) is x  # no budget, no change


def test_attacks_refuse_feature_vectors_in_one_line():
    with pytest.raises(UserError, match="pixels"):
        PixelSpace.from_meta(_meta(kind="features"))


def test_fixed_subset_is_the_same_random_subset_every_time():
    x, y = torch.arange(100.0)[:, None], torch.arange(100)
    a, b = fixed_subset(x, y, 10), fixed_subset(x, y, 10)
    assert torch.equal(a[0], b[0]) and torch.equal(a[0][:, 0].long(), a[1])
    assert not torch.equal(a[1], torch.arange(10))  # not simply the first ten
    assert fixed_subset(x, y, 0)[1] is y and fixed_subset(x, y, 500)[1] is y


@pytest.fixture(scope="module")
def trained_digits(tmp_path_factory):
    """An MLP trained 150 steps on the 8x8 digits (about 95% test accuracy), loaded with its data."""
    out = tmp_path_factory.mktemp("digits") / "run"
    neuralab.train("mlp-digits", {"run": {"steps": 150, "device": "cpu", "threads": 1}}, out=out)
    return load(out)


def test_pgd_finds_a_higher_loss_than_fgsm_on_a_trained_net(trained_digits):
    model, method = trained_digits.model.eval(), trained_digits.run.method
    space = PixelSpace.from_meta(trained_digits.meta)
    x, y = trained_digits.run.data.split("test")
    with torch.no_grad():
        clean = float(method.loss_fn(model(x), y))
        one = float(method.loss_fn(model(fgsm(model, x, y, space, 0.1)), y))
        many = float(method.loss_fn(model(pgd(model, x, y, space, 0.1, steps=10,
                                              generator=torch.Generator().manual_seed(0))), y))
    assert clean < one < many

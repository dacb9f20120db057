"""Unit checks of the image-to-image translation parts: the U-Net's shapes and skip connections, the PatchGAN's patch
map and receptive field, the edge maps and thickening as documented (against scipy.ndimage), the disjoint CycleGAN
domains, the image pool and the sharpness statistic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from neuralab.data.paired_images import disjoint_halves, edge_maps, sobel_magnitude, thicken
from neuralab.methods.cyclegan import ImagePool
from neuralab.methods.image_translation import gradient_energy
from neuralab.models.gans.normal_init import normal_init_
from neuralab.models.gans.patchgan import PatchGAN, receptive_field
from neuralab.models.gans.unet import UNet, UNetConfig


@pytest.mark.parametrize("side,depth", [(28, 3), (28, 2), (32, 3), (31, 2)])
def test_unet_keeps_the_image_size_for_any_side_and_depth(side, depth):
    net = UNet(UNetConfig(in_channels=2, out_channels=3, image_size=side, depth=depth, width=4))
    out = net(torch.rand(5, 2, side, side))
    assert out.shape == (5, 3, side, side)
    assert out.min() >= 0 and out.max() <= 1  # sigmoid pixels


def _with_bottleneck_zeroed(net: UNet, x: torch.Tensor) -> torch.Tensor:
    """The U-Net's output when its innermost encoder features are replaced by zeros."""
    hook = net.encoders[-1].register_forward_hook(lambda module, args, out: torch.zeros_like(out))
    try:
        return net(x)
    finally:
        hook.remove()


@pytest.mark.parametrize("skips", [True, False])
def test_skip_connections_carry_the_input_past_a_silenced_bottleneck(skips):
    """With the bottleneck silenced, only the skips can carry the input to the output: the U-Net's output still
    follows its input, the encoder-decoder's (skips off) does not."""
    torch.manual_seed(0)
    net = normal_init_(UNet(UNetConfig(image_size=16, depth=3, width=8, norm="none", skips=skips)), 0.3).eval()
    a, b = torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        change = (_with_bottleneck_zeroed(net, a) - _with_bottleneck_zeroed(net, b)).abs().max().item()
        unsilenced = (net(a) - net(b)).abs().max().item()
    assert unsilenced > 1e-4  # the network does depend on its input
    if skips:
        assert change > 1e-4
    else:
        assert change == 0.0


@pytest.mark.parametrize("layers,side,cells", [(1, 28, 12), (2, 64, 14), (3, 256, 30)])
def test_patchgan_scores_a_map_of_patches(layers, side, cells):
    """One logit per patch (the paper's 30x30 map for 256x256 images at 3 layers), and each logit depends on a
    square of the input about as wide as the receptive field (70 pixels at 3 layers, the paper's), never wider."""
    net = PatchGAN(2, width=4, layers=layers, norm="none")
    x = torch.rand(1, 2, side, side, requires_grad=True)
    scores = net(x)
    assert scores.shape == (1, 1, cells, cells)
    scores[0, 0, cells // 2, cells // 2].backward()
    rows, cols = torch.nonzero(x.grad.abs().sum((0, 1)), as_tuple=True)
    assert rows.max() - rows.min() + 1 <= receptive_field(layers)
    assert cols.max() - cols.min() + 1 <= receptive_field(layers)
    assert rows.max() - rows.min() + 1 >= receptive_field(layers) - 3  # the border padding trims at most a few
    if layers == 3:
        assert receptive_field(layers) == 70


def test_sobel_edges_match_scipy_and_the_threshold():
    rng = np.random.default_rng(0)
    images = rng.random((3, 12, 12)).astype(np.float32)
    expected = np.stack([np.hypot(ndimage.sobel(im, axis=1, mode="constant"),
                                  ndimage.sobel(im, axis=0, mode="constant")) for im in images])
    magnitude = sobel_magnitude(torch.from_numpy(images)[:, None])[:, 0].numpy()
    np.testing.assert_allclose(magnitude, expected, rtol=1e-5, atol=1e-5)
    edges = edge_maps(torch.from_numpy(images)[:, None], 1.0)[:, 0].numpy()
    assert set(np.unique(edges)) <= {0.0, 1.0}
    np.testing.assert_array_equal(edges, (expected > 1.0).astype(np.float32))


def test_thickening_is_a_3x3_grey_dilation():
    rng = np.random.default_rng(1)
    images = rng.random((2, 10, 10)).astype(np.float32)
    expected = np.stack([ndimage.grey_dilation(im, size=(3, 3), mode="constant", cval=0.0) for im in images])
    np.testing.assert_array_equal(thicken(torch.from_numpy(images)[:, None])[:, 0].numpy(), expected)


def test_the_two_cyclegan_domains_are_disjoint_halves():
    a, b = disjoint_halves(1001, seed=0)
    assert len(a) == 500 and len(b) == 501
    assert set(a.tolist()).isdisjoint(b.tolist()) and set(a.tolist()) | set(b.tolist()) == set(range(1001))
    again, _ = disjoint_halves(1001, seed=0)
    assert torch.equal(a, again)  # fixed by the split seed, not the run's


def test_unpaired_mnist_never_shows_a_digit_in_both_domains():
    """Every training digit of domain B (inverted, so the digit is recoverable) differs from every digit of A."""
    from neuralab.data.paired_images import UnpairedMnistConfig, build_mnist_unpaired

    data = build_mnist_unpaired(UnpairedMnistConfig(domain_b="invert"), seed=0)
    a = {bytes(row) for row in data.x_train.mul(255).round().to(torch.uint8).flatten(1).numpy()}
    b = {bytes(row) for row in (1 - data.y_train).mul(255).round().to(torch.uint8).flatten(1).numpy()}
    assert len(data.x_train) == len(data.y_train) == 30_000
    assert not a & b
    assert torch.allclose(data.y_test, 1 - data.x_test)  # the test pairs, for measurement only, are true pairs


def test_image_pool_fills_then_swaps_about_half_and_keeps_every_image():
    torch.manual_seed(0)
    pool = ImagePool(4)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling: the newest images go through
    later = torch.arange(100.0, 300.0).view(200, 1, 1, 1)
    out = pool.query(later)
    swapped = (out != later).sum().item()
    assert 70 < swapped < 130  # p = 1/2 per image
    seen = set(first.flatten().tolist()) | set(later.flatten().tolist())
    assert set(out.flatten().tolist()) <= seen and len(pool.images) == 4


def test_sharpness_statistic_is_lower_for_a_blurred_image():
    torch.manual_seed(0)
    sharp = (torch.rand(4, 1, 28, 28) > 0.5).float()
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1)
    assert (gradient_energy(blurred) < 0.5 * gradient_energy(sharp)).all()
    assert torch.allclose(gradient_energy(sharp), sobel_magnitude(sharp).pow(2).mean((1, 2, 3)))

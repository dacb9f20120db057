"""Autoencoder parts against their definitions: tied weights, masking and Gaussian noise, the sparsity penalties
(KL against torch.distributions), Hoyer sparseness, conv shapes, the held-out class of the data config."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Bernoulli, kl_divergence

from neuralab.data.sources import DigitsConfig, build_digits
from neuralab.errors import DataError
from neuralab.methods.autoencoding import corrupt, hoyer_sparseness, kl_sparsity, sparsity_penalty
from neuralab.models.autoencoders.conv_autoencoder import ConvAutoencoder, ConvAutoencoderConfig
from neuralab.models.autoencoders.mlp_autoencoder import MLPAutoencoder, MLPAutoencoderConfig


def test_tied_decoder_weights_are_the_encoders_transposed_storage_and_stay_tied_through_training():
    torch.manual_seed(0)
    model = MLPAutoencoder(MLPAutoencoderConfig(in_features=20, hidden=(12,), code=4, tied=True))
    untied = MLPAutoencoder(MLPAutoencoderConfig(in_features=20, hidden=(12,), code=4))
    for i in range(model.depth):
        w = model.decoder_weight(i)
        assert w.data_ptr() == model.encoder[i].weight.data_ptr()  # the same storage, not a copy
        assert torch.equal(w, model.encoder[i].weight.t())
    weights = 20 * 12 + 12 * 4
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in model.parameters()) == weights
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x = torch.rand(8, 20)
    before = model.encoder[0].weight.detach().clone()
    torch.nn.functional.mse_loss(model(x), x).backward()
    opt.step()
    assert not torch.equal(model.encoder[0].weight, before)
    assert torch.equal(model.decoder_weight(0), model.encoder[0].weight.t())


def test_tied_weight_gradient_sums_the_encoder_and_decoder_uses():
    torch.manual_seed(0)
    model = MLPAutoencoder(MLPAutoencoderConfig(in_features=6, hidden=(), code=3, tied=True, linear=True))
    x = torch.randn(5, 6)
    w = model.encoder[0].weight.detach().clone().requires_grad_(True)
    b1, b2 = model.encoder[0].bias.detach(), model.decoder_bias[0].detach()
    expected = torch.autograd.grad(((x @ w.T + b1) @ w + b2 - x).pow(2).sum(), w)[0]
    (model(x) - x).pow(2).sum().backward()
    torch.testing.assert_close(model.encoder[0].weight.grad, expected)


def test_linear_option_makes_the_network_affine():
    torch.manual_seed(0)
    model = MLPAutoencoder(MLPAutoencoderConfig(in_features=10, hidden=(7,), code=3, linear=True))
    a, b = torch.randn(1, 10), torch.randn(1, 10)
    zero = model(torch.zeros(1, 10))
    with torch.no_grad():  # f(a + b) - f(0) = (f(a) - f(0)) + (f(b) - f(0)) for an affine map
        torch.testing.assert_close(model(a + b) - zero, (model(a) - zero) + (model(b) - zero))


def test_reconstruction_keeps_the_input_shape_and_logits_invert_the_sigmoid():
    torch.manual_seed(0)
    model = MLPAutoencoder(MLPAutoencoderConfig(in_features=784, hidden=(32,), code=2))
    x = torch.rand(4, 1, 28, 28)
    out, code = model(x, return_code=True)
    assert out.shape == x.shape and code.shape == (4, 2)
    assert ((out > 0) & (out < 1)).all()
    torch.testing.assert_close(torch.sigmoid(model(x, logits=True)), out)


@pytest.mark.parametrize("side", [28, 31, 8, 5])
def test_conv_autoencoder_reconstructs_every_image_size_at_its_own_size(side):
    model = ConvAutoencoder(ConvAutoencoderConfig(in_channels=3, image_size=side, channels=(4, 6), code=5))
    x = torch.rand(2, 3, side, side)
    out, code = model(x, return_code=True)
    assert out.shape == x.shape and code.shape == (2, 5)


def test_masking_noise_zeroes_exactly_the_requested_share_of_each_example():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(50, 1, 10, 10) + 0.5  # no zeros before corruption
    noisy = corrupt(x, "masking", 0.3, g)
    zeros = (noisy == 0).flatten(1).sum(1)
    assert (zeros == 30).all()
    kept = noisy != 0
    assert torch.equal(noisy[kept], x[kept])
    # the masked positions differ from example to example (chosen at random, not a fixed pattern)
    assert not torch.equal(noisy[0] == 0, noisy[1] == 0)


def test_gaussian_noise_has_the_requested_standard_deviation_and_none_is_the_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(200, 784)
    diff = corrupt(x, "gaussian", 0.4, g) - x
    assert abs(float(diff.std()) - 0.4) < 0.01 and abs(float(diff.mean())) < 0.01
    assert corrupt(x, "none", 0.4, g) is x


def test_kl_sparsity_penalty_matches_bernoulli_kl_divergences():
    torch.manual_seed(0)
    code = torch.sigmoid(torch.randn(64, 10) - 1)
    rho = 0.05
    expected = kl_divergence(Bernoulli(probs=torch.tensor(rho)), Bernoulli(probs=code.mean(0))).sum()
    torch.testing.assert_close(kl_sparsity(code, rho), expected)
    # by hand for one unit: rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q))
    q = 0.2
    one = kl_sparsity(torch.full((4, 1), q), rho)
    assert float(one) == pytest.approx(rho * math.log(rho / q) + (1 - rho) * math.log((1 - rho) / (1 - q)))
    assert float(kl_sparsity(torch.full((4, 3), rho), rho)) == pytest.approx(0, abs=1e-7)  # at the target


def test_l1_penalty_is_the_batch_mean_of_each_codes_l1_norm():
    code = torch.tensor([[1.0, -2.0, 0.0], [0.5, 0.5, 0.0]])
    assert float(sparsity_penalty(code, "l1", 0.05)) == pytest.approx((3 + 1) / 2)
    assert sparsity_penalty(code, "none", 0.05) is None


def test_hoyer_sparseness_is_one_for_one_active_unit_and_zero_for_all_equal_and_ignores_scale():
    codes = torch.tensor([[0.0, 0.0, 3.0, 0.0], [1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 30.0, 0.0]])
    torch.testing.assert_close(hoyer_sparseness(codes), torch.tensor([1.0, 0.0, 1.0]))


def test_exclude_class_leaves_the_class_out_of_training_only():
    data = build_digits(DigitsConfig(exclude_class=3, test_fraction=0.3), seed=0)
    assert 3 not in data.y_train.tolist()
    assert (data.y_test == 3).any()
    assert len(data.meta.class_names) == 10
    with pytest.raises(DataError, match="exclude_class 10"):
        build_digits(DigitsConfig(exclude_class=10), seed=0)

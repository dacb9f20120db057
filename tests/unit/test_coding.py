"""Codes, sparseness, information and receptive fields against scipy and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralab.methods.neural_coding import kurtosis_from_moments, moments
from neuralab.models.neuro.receptive_fields import (
    ReceptiveFields,
    ReceptiveFieldsConfig,
    difference_of_gaussians,
    gabor,
    grating,
    grid,
)
from neuralab.neuro.codes import CODES, FOUR_SHAPES, describe, excess_kurtosis, make_code, new_combination
from neuralab.neuro.information import binary_entropy, entropy, self_information
from neuralab.neuro.tuning import orientation_distance


@pytest.mark.parametrize("draw", [np.random.default_rng(0).normal, np.random.default_rng(1).laplace,
                                  np.random.default_rng(2).exponential])
def test_excess_kurtosis_is_scipys_fisher_biased_kurtosis(draw):
    x = draw(size=(7, 300))
    assert float(excess_kurtosis(torch.from_numpy(x))) == pytest.approx(
        scipy.stats.kurtosis(x, axis=None, fisher=True, bias=True), rel=1e-10)
    assert excess_kurtosis(torch.from_numpy(x), dim=1).numpy() == pytest.approx(
        scipy.stats.kurtosis(x, axis=1, fisher=True, bias=True), rel=1e-10)


def test_kurtosis_from_running_moments_equals_the_kurtosis_of_all_values():
    g = torch.Generator().manual_seed(0)
    chunks = [torch.distributions.Laplace(0.3, 1.0).sample((2, 50)) + 0.1 * torch.randn(2, 50, generator=g)
              for _ in range(3)]
    sums = sum(moments(c) for c in chunks)
    whole = torch.cat(chunks, 1)
    assert torch.allclose(kurtosis_from_moments(sums), excess_kurtosis(whole, dim=1), rtol=1e-9)


def test_entropy_is_scipys_in_bits_and_nats():
    p = torch.tensor([[0.5, 0.25, 0.125, 0.125, 0.0], [3.0, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    for base in (2.0, math.e):
        assert entropy(p, base).numpy() == pytest.approx(scipy.stats.entropy(p.numpy(), base=base, axis=1))
    assert float(entropy(p[0])) == pytest.approx(1.75)  # 1/2 * 1 + 1/4 * 2 + 2 * 1/8 * 3 bits
    assert float(self_information(0.125)) == pytest.approx(3.0)
    assert float(self_information(1 / math.e, base=math.e)) == pytest.approx(1.0)
    assert float(binary_entropy(torch.tensor(0.5))) == pytest.approx(1.0)


@settings(max_examples=50, deadline=None)
# weights of 0 or at least 1e-6: a product of a subnormal weight and a probability underflows to 0 (w=[5e-324, 1])
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1.0)), min_size=2, max_size=12).filter(lambda w: sum(w) > 1e-3),
       st.lists(st.floats(0.01, 1.0), min_size=2, max_size=6))
def test_uniform_has_the_most_entropy_and_independent_information_adds(w, v):
    p, q = torch.tensor(w, dtype=torch.float64), torch.tensor(v, dtype=torch.float64)
    assert float(entropy(p)) <= math.log2(len(w)) + 1e-9
    assert float(entropy(torch.ones(len(w)))) == pytest.approx(math.log2(len(w)))
    p, q = p / p.sum(), q / q.sum()
    joint = p[:, None] * q[None, :]  # independent events
    assert float(entropy(joint.flatten())) == pytest.approx(float(entropy(p) + entropy(q)), abs=1e-9)
    assert float(self_information(p[0] * q[0])) == pytest.approx(
        float(self_information(p[0]) + self_information(q[0])), abs=1e-9)


def test_localist_codes_are_all_sqrt2_apart_and_cannot_represent_a_new_combination():
    m = describe("localist")
    assert m["units"] == len(FOUR_SHAPES) and m["active"] == 1
    assert torch.allclose(torch.pdist(make_code("localist").matrix(FOUR_SHAPES)),
                          torch.full((6,), math.sqrt(2), dtype=torch.float64))  # not 1 (erratum 12)
    assert not new_combination("localist")


def test_distributed_codes_put_shapes_sharing_a_feature_closer_and_compose_new_combinations():
    for name in ("distributed", "sparse"):
        m = describe(name)
        assert m["distance_shared"] < m["distance_disjoint"]
        assert new_combination(name)
    assert describe("distributed")["units"] == 2 and describe("distributed")["unit_entropy"] == pytest.approx(2.0)


@pytest.mark.parametrize("name", CODES)
def test_the_kurtosis_of_a_binary_code_follows_its_share_of_active_values(name):
    x = make_code(name).matrix(FOUR_SHAPES)
    p = float(x.mean())
    assert describe(name)["kurtosis"] == pytest.approx((1 - 6 * p * (1 - p)) / (p * (1 - p)))
    assert describe("sparse")["kurtosis"] > describe("localist")["kurtosis"] > describe("distributed")["kurtosis"]


def test_difference_of_gaussians_is_a_balanced_centre_surround_field():
    dog = difference_of_gaussians(15, 1.0, 2.0)
    assert float(dog.sum()) == pytest.approx(0.0, abs=1e-12)
    x, y = grid(15)
    radius = (x**2 + y**2).sqrt()
    assert dog[7, 7] > 0 and (dog[(radius > 3) & (radius < 5)] < 0).all()
    model = ReceptiveFields(ReceptiveFieldsConfig(size=15))
    assert torch.equal(model.filters[1], -model.filters[0])  # off-centre = -on-centre
    flat = model(torch.full((1, 1, 30, 30), 0.7))
    assert flat[:, :].abs().max() < 1e-5  # uniform light: no response from any filter
    # a bright disc on the centre: the on-centre response grows with the disc up to the centre's size, then the
    # surround suppresses it
    discs = torch.stack([(radius <= r).double() for r in (0.5, 1.5, 2.5, 4.0, 7.0)])
    responses = (discs * dog).sum((1, 2))
    assert responses.argmax() in (1, 2) and responses[-1] < responses[:3].max() / 2


def test_the_bank_correlates_like_scipy():
    cfg = ReceptiveFieldsConfig(size=7, orientations=3)
    model = ReceptiveFields(cfg).double()
    image = torch.rand(1, 1, 20, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = model(image)[0]
    for k, kernel in enumerate(model.filters[:, 0]):
        expected = scipy.signal.correlate2d(image[0, 0].numpy(), kernel.numpy(), mode="valid")
        assert out[k, 3:-3, 3:-3].numpy() == pytest.approx(expected, abs=1e-12)


def test_each_gabor_filter_prefers_gratings_of_its_own_orientation():
    cfg = ReceptiveFieldsConfig()
    thetas = torch.arange(36, dtype=torch.float64) * 5.0
    for theta in (0.0, 45.0, 112.5):
        kernel = gabor(cfg.size, theta, cfg.wavelength, cfg.sigma, cfg.aspect, cfg.phase)
        assert float(kernel.mean()) == pytest.approx(0.0, abs=1e-12)
        amplitude = torch.tensor([max(float((grating(cfg.size, float(t), cfg.wavelength, p) * kernel).sum())
                                     for p in range(0, 360, 45)) for t in thetas])
        assert float(orientation_distance(thetas[amplitude.argmax()], theta)) <= 2.5
        orthogonal = int(orientation_distance(thetas, theta + 90.0).argmin())
        assert amplitude[orthogonal] < 0.15 * amplitude.max()

"""CD-k and persistent CD raise the exact log-likelihood of a tiny RBM; the k schedule; Gaussian-Bernoulli sampling
reproduces the exact moments of p(v); the pseudo-likelihood is the exact one in expectation."""


import pytest
import torch

from neuralab.contracts import RunContext
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.methods.contrastive_divergence import (
    ContrastiveDivergence,
    ContrastiveDivergenceConfig,
    chain_steps,
)
from neuralab.methods.linear_codes import spread
from neuralab.models.energy.rbm import RBM, RBMConfig, binary_states

PROTOTYPES = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1.0]])


def _method(steps: int, **cfg) -> ContrastiveDivergence:
    """The CD method on a tiny RBM (6 visible, 8 hidden) and 512 noisy copies of four 6-bit prototypes."""
    g = torch.Generator().manual_seed(0)
    x = PROTOTYPES[torch.randint(0, 4, (512,), generator=g)]
    x = (x + torch.bernoulli(torch.full_like(x, 0.05), generator=g)) % 2  # 5% of the bits flipped
    data = SupervisedData((x, torch.zeros(512, dtype=torch.long)), (x[:128], torch.zeros(128, dtype=torch.long)),
                          DataMeta("features", [6], 0, []), batch_size=32, seed=0)
    torch.manual_seed(0)
    model = RBM(RBMConfig(6, 8, init_std=0.1))
    ctx = RunContext(total_steps=steps, device=torch.device("cpu"), seed=0, run_dir=None)
    return ContrastiveDivergence(ContrastiveDivergenceConfig(**cfg), model, data, ctx)


@pytest.mark.parametrize("cfg", [dict(k=1), dict(k=1, persistent=True), dict(k_schedule=(1, 3))])
def test_cd_and_pcd_raise_the_exact_log_likelihood_of_a_tiny_rbm(cfg):
    steps = 400
    method = _method(steps, lr=0.05, momentum=0.5, **cfg)
    before = method.log_likelihood(samples=1)
    for _ in range(steps):
        method.step(method.data.next_batch())
    after = method.log_likelihood(samples=1)
    # 6 bits: a uniform model scores 6 ln 2 = 4.16 nats; the data (4 patterns, 5% noise) need about 2.7
    assert before["test/nll"] > 4.0
    assert after["test/nll"] < 3.35, (before, after)  # measured 3.14-3.20
    # test/nll is F(v) + log Z with log Z by enumeration: the same as summing p(v) over every state
    vs = binary_states(6).float()
    log_p = -method.model.free_energy(vs).detach().double() - after["test/log_z"]
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-5)


def test_the_k_schedule_raises_k_in_equal_stages():
    method = _method(8, k_schedule=(1, 3, 10, 25))
    ks = []
    for _ in range(8):
        ks.append(method.step(method.data.next_batch())["train/k"])
    assert ks == [1, 1, 3, 3, 10, 10, 25, 25]
    assert _method(8, k=4).current_k() == 4


def test_gaussian_bernoulli_gibbs_chains_reach_the_exact_moments_of_p_v():
    """p(v) = sum_h p(h) N(v; b + W h, I) with p(h) from enumeration: its mean and covariance against 4000 chains."""
    torch.manual_seed(0)
    rbm = RBM(RBMConfig(3, 4, "gaussian", init_std=0.5)).double()
    with torch.no_grad():
        rbm.visible_bias.copy_(torch.tensor([0.5, -1.0, 0.0]))
        rbm.hidden_bias.normal_()
    hs = binary_states(4)
    means = rbm.visible_bias + hs @ rbm.weight.T  # (16, 3)
    log_ph = hs @ rbm.hidden_bias + 0.5 * (means.pow(2).sum(1) - rbm.visible_bias.pow(2).sum())
    ph = torch.softmax(log_ph, 0).detach()
    mean = ph @ means
    cov = torch.eye(3, dtype=torch.float64) + (means - mean).T @ (ph[:, None] * (means - mean))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        v = rbm.gibbs(torch.zeros(4000, 3, dtype=torch.float64), 50, g)
    torch.testing.assert_close(v.mean(0), mean.detach(), atol=0.06, rtol=0)
    torch.testing.assert_close(torch.cov(v.T), cov.detach(), atol=0.1, rtol=0)
    # one conditional step: v | h ~ N(b + W h, I)
    h = torch.ones(20000, 4, dtype=torch.float64)
    with torch.no_grad():
        draws = rbm.sample_visible(h, g)
    torch.testing.assert_close(draws.mean(0), means[-1].detach(), atol=0.03, rtol=0)
    torch.testing.assert_close(draws.var(0), torch.ones(3, dtype=torch.float64), atol=0.05, rtol=0)


def test_chain_steps_are_ascending_from_zero_to_the_last():
    assert chain_steps(10, 1000) == [0, 2, 5, 10, 22, 46, 100, 215, 464, 1000]
    assert chain_steps(4, 3) == [0, 1, 2, 3]
    assert chain_steps(1, 50) == [50]


def test_filters_in_pixels_are_what_a_hidden_unit_adds_to_the_mean_patch():
    # Smooth 4x4 images (neighbouring pixels correlated), ZCA-whitened and scaled: a filter that is one pixel in the
    # whitened space is a spread-out blob in pixels, and evaluate reports the spread of both.
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.randn(600, 1, 7, 7, generator=g), 4, stride=1)  # (600, 1, 4, 4)
    data = SupervisedData((x[:500], torch.zeros(500, dtype=torch.long)), (x[500:], torch.zeros(100, dtype=torch.long)),
                          DataMeta("images", [1, 4, 4], 0, []), batch_size=50, seed=0)
    model = RBM(RBMConfig(16, 3, "gaussian"))
    ctx = RunContext(total_steps=1, device=torch.device("cpu"), seed=0, run_dir=None)
    method = ContrastiveDivergence(ContrastiveDivergenceConfig(whiten="zca", whiten_scale=2.0), model, data, ctx)
    with torch.no_grad():
        model.weight.zero_()
        model.weight[5, 0] = 1.0  # unit 0: one whitened pixel (row 1, column 1)
        model.weight[:, 1] = torch.randn(16, generator=g)
        model.weight[:, 2] = torch.randn(16, generator=g)
    h = torch.eye(3)
    added = method._pixels(model.visible_mean(h)) - method._pixels(model.visible_mean(torch.zeros(1, 3)))
    torch.testing.assert_close(method._pixel_bases(), added)
    metrics = method.evaluate()
    assert metrics["basis/spread_whitened"] == pytest.approx(spread(model.weight.T, (1, 4, 4)))
    assert metrics["basis/spread"] == pytest.approx(spread(added, (1, 4, 4)))
    assert spread(model.weight.T[:1], (1, 4, 4)) == 0.0
    assert spread(added[:1], (1, 4, 4)) > 0.15  # measured 0.23: the dewhitened pixel spreads over its neighbours

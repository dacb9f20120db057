"""The ELBO's terms against torch.distributions and closed forms, and the importance-sampled likelihood against exact
marginals: a linear-Gaussian VAE (marginal N(b, W W^T + s^2 I)) and a 1-D latent integrated numerically."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D

from neuralab.contracts import RunContext
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.methods.elbo import (
    ELBO,
    ELBOConfig,
    bernoulli_log_prob,
    diagonal_normal_log_prob,
    gaussian_kl,
    gaussian_log_prob,
    importance_log_likelihood,
    kl_weight,
    standard_normal_log_prob,
)
from neuralab.models.autoencoders.vae import VAE, VAEConfig


@pytest.fixture(autouse=True)
def float64():
    """Every test computes in float64, so the oracles compare to ~1e-9."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    expected = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    assert torch.all(gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3)) == 0)  # the posterior is the prior


def test_log_densities_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    logits, x = torch.randn(4, 9, generator=g), torch.randint(0, 2, (4, 9), generator=g).double()
    torch.testing.assert_close(bernoulli_log_prob(logits, x), D.Bernoulli(logits=logits).log_prob(x).sum(-1))
    mean, std, y = torch.randn(4, 9, generator=g), torch.rand(4, 9, generator=g) + 0.1, torch.randn(4, 9, generator=g)
    torch.testing.assert_close(gaussian_log_prob(y, mean, std), D.Normal(mean, std).log_prob(y).sum(-1))
    logvar = torch.randn(4, 9, generator=g)
    torch.testing.assert_close(diagonal_normal_log_prob(y, mean, logvar),
                               D.Normal(mean, (0.5 * logvar).exp()).log_prob(y).sum(-1))
    torch.testing.assert_close(standard_normal_log_prob(y), D.Normal(0.0, 1.0).log_prob(y).sum(-1))


def test_kl_weight_rises_linearly_over_the_warmup_then_stays_at_beta():
    assert [kl_weight(s, 100, 0.2, 4.0) for s in (0, 5, 10, 20, 60)] == [0.0, 1.0, 2.0, 4.0, 4.0]
    assert kl_weight(0, 100, 0.0, 1.0) == 1.0  # no warm-up: the full weight from the first step


def _linear_gaussian(posterior_exact: bool, seed: int = 0) -> tuple[VAE, torch.Tensor, torch.Tensor, float]:
    """A VAE with linear encoder and decoder, p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I); W has orthogonal columns,
    so the exact posterior N((I + W^T W / s^2)^-1 W^T (x - b) / s^2, (I + W^T W / s^2)^-1) is diagonal and the
    encoder can give it exactly (or, shifted, not exactly). Returns the model, W, b and s."""
    g = torch.Generator().manual_seed(seed)
    features, latent, s = 6, 2, 0.5
    q, _ = torch.linalg.qr(torch.randn(features, latent, generator=g))
    w, b = q * torch.tensor([2.0, 0.7]), torch.randn(features, generator=g)
    model = VAE(VAEConfig(in_features=features, hidden=(), latent=latent, likelihood="gaussian", gaussian_std=s))
    precision = 1 + (w * w).sum(0) / s**2  # diagonal of I + W^T W / s^2
    gain = w.T / s**2 / precision[:, None]  # mu = gain (x - b)
    with torch.no_grad():
        enc, dec = model.encoder[0], model.decoder[0]
        enc.weight.zero_(), enc.bias.zero_()
        enc.weight[:latent] = gain
        enc.bias[:latent] = -gain @ b + (0 if posterior_exact else 0.8)
        enc.bias[latent:] = -precision.log() + (0 if posterior_exact else 1.0)
        dec.weight.copy_(w), dec.bias.copy_(b)
    return model.eval(), w, b, s


def _exact_log_marginal(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, s: float) -> torch.Tensor:
    cov = w @ w.T + s**2 * torch.eye(len(b))
    return D.MultivariateNormal(b, covariance_matrix=cov).log_prob(x)


def test_importance_sampling_is_exact_when_q_is_the_true_posterior():
    model, w, b, s = _linear_gaussian(posterior_exact=True)
    x = torch.randn(5, len(b), generator=torch.Generator().manual_seed(2)) + b
    estimate = importance_log_likelihood(model, x, None, 3, torch.Generator().manual_seed(0))
    # every weight p(x, z) / q(z|x) equals p(x) exactly, so even 3 samples give the exact marginal
    torch.testing.assert_close(estimate, _exact_log_marginal(x, w, b, s), rtol=0, atol=1e-9)


def test_the_k_sample_bound_tightens_towards_the_exact_marginal_and_chunks_do_not_change_it(monkeypatch):
    model, w, b, s = _linear_gaussian(posterior_exact=False)
    x = torch.randn(40, len(b), generator=torch.Generator().manual_seed(3)) + b
    exact = float(_exact_log_marginal(x, w, b, s).mean())
    bounds = [float(importance_log_likelihood(model, x, None, k, torch.Generator().manual_seed(k)).mean())
              for k in (1, 10, 100, 5000)]
    assert bounds == sorted(bounds) and bounds[0] < exact - 0.5, (bounds, exact)  # a loose q: k = 1 is far below
    assert bounds[-1] == pytest.approx(exact, abs=0.02)
    import neuralab.methods.elbo as elbo

    monkeypatch.setattr(elbo, "SAMPLE_BLOCK", 16)  # 50 samples in chunks of 16, 16, 16 and 2, one example at a time
    exact_q, w, b, s = _linear_gaussian(posterior_exact=True)  # every weight is p(x): any mis-combined chunk shows
    chunked = importance_log_likelihood(exact_q, x[:4], None, 50, torch.Generator().manual_seed(7))
    torch.testing.assert_close(chunked, _exact_log_marginal(x[:4], w, b, s), rtol=0, atol=1e-9)


def test_importance_sampling_matches_numerical_integration_for_a_bernoulli_decoder_with_one_latent():
    torch.manual_seed(0)
    model = VAE(VAEConfig(in_features=5, hidden=(), latent=1)).eval()
    with torch.no_grad():  # q(z|x) = N(0.1 x_1, 0.8): a proposal near the prior, whatever the posterior
        model.encoder[0].weight.zero_(), model.encoder[0].bias.copy_(torch.tensor([0.0, math.log(0.8)]))
        model.encoder[0].weight[0, 0] = 0.1
        model.decoder[0].weight.copy_(torch.tensor([[1.5], [-1.0], [0.5], [1.2], [-0.8]]))
        model.decoder[0].bias.copy_(torch.tensor([0.3, -0.2, 0.1, -1.0, 0.5]))
    x = torch.tensor([[1.0, 0, 1, 1, 0], [0, 1, 0, 0, 1], [1, 1, 1, 0, 0]])
    z = torch.linspace(-12, 12, 48001)[:, None]
    with torch.no_grad():
        joint = bernoulli_log_prob(model.decode(z)[None], x[:, None]) + standard_normal_log_prob(z)[None]  # (3, grid)
    exact = torch.logsumexp(joint, 1) + math.log(float(z[1] - z[0]))  # the Riemann sum of p(x|z) p(z)
    estimate = importance_log_likelihood(model, x, None, 5000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(estimate, exact, rtol=0, atol=0.03)


def _method(model: VAE, x: torch.Tensor, **cfg) -> ELBO:
    meta = DataMeta(kind="features", input_shape=[x.shape[1]], num_classes=0, class_names=[])
    data = SupervisedData((x, torch.zeros(len(x), 1)), (x, torch.zeros(len(x), 1)), meta, batch_size=len(x), seed=0)
    ctx = RunContext(total_steps=10, device=torch.device("cpu"), seed=0, run_dir=None)
    return ELBO(ELBOConfig(**{"binarize": False, **cfg}), model, data, ctx)


def test_the_elbo_terms_match_their_closed_forms_for_a_linear_gaussian_vae():
    """Distortion E_q[-log p(x|z)] = D/2 log(2 pi s^2) + (|x - W m - b|^2 + sum_j v_j |W_j|^2) / (2 s^2), and the
    rate is the closed-form KL; the method's one-sample terms average to them."""
    model, w, b, s = _linear_gaussian(posterior_exact=False)
    x = (torch.randn(1, len(b), generator=torch.Generator().manual_seed(4)) + b).repeat(8000, 1)
    method = _method(model, x)
    mu, logvar = model.encode(x[:1])
    expected_rec = (len(b) / 2 * math.log(2 * math.pi * s**2)
                    + ((x[0] - w @ mu[0] - b).pow(2).sum() + (logvar[0].exp() * (w * w).sum(0)).sum()) / (2 * s**2))
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        rec, kl = method._terms(x, torch.zeros(len(x), dtype=torch.long), model)
    assert float(rec.mean()) == pytest.approx(float(expected_rec), rel=0.02)
    torch.testing.assert_close(kl, gaussian_kl(mu, logvar).expand(len(x)))


def test_binarising_inputs_outside_0_1_is_refused_in_one_line():
    model = VAE(VAEConfig(in_features=4, hidden=(8,), latent=2))
    _method(model, torch.rand(10, 4), binarize=True)  # pixels in [0, 1]: accepted
    with pytest.raises(UserError, match="--data.normalize scale"):
        _method(model, torch.rand(10, 4) * 3, binarize=True)

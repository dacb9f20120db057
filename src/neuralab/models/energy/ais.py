"""Annealed importance sampling of an RBM's partition function (Neal, "Annealed importance sampling", 2001;
Salakhutdinov and Murray, "On the quantitative analysis of deep belief networks", 2008) (curriculum E6).

The run starts from a base-rate RBM A whose partition function is known: no weights, no hidden biases and visible
biases b_A (Salakhutdinov and Murray take them from the data's pixel marginals, so A already draws the right
average digit; for Gaussian units b_A is the data's mean). Between A and the target RBM B lie the distributions

    p_beta(v, h) proportional to exp(-(1 - beta) E_A(v) - beta E_B(v, h)),    0 = beta_0 < ... < beta_K = 1,

whose marginal over h is known up to Z_beta: log p*_beta(v) = -(1 - beta) E_A(v) - beta visible_B(v)
+ sum_j softplus(beta (c + v W)_j), with E_A(v) = -b_A.v (Bernoulli) or ||v - b_A||^2 / 2 (Gaussian) and visible_B
the target's visible term. Z_0 = Z_A 2^H (A leaves the hidden units uniform). Each of M runs draws v_0 from A, then
for k = 1..K adds log p*_k(v_{k-1}) - log p*_{k-1}(v_{k-1}) to its log weight and moves v by one Gibbs sweep that
leaves p_k invariant: h ~ sigmoid(beta_k (c + v W)), v ~ p(v | h) with pre-activation (1 - beta_k) b_A
+ beta_k (b + W h). The mean weight is an unbiased estimate of Z_B / Z_0, so

    log Z_B ~ log Z_0 + log mean_m exp(log w_m),

with Salakhutdinov and Murray's bounds log(Z_hat +- 3 sigma_hat), sigma_hat the standard error of the mean weight.
In expectation log Z_hat lies below log Z (Jensen), so log-likelihoods computed from it are optimistic.
`tests/unit/test_rbm_ais.py` checks the estimate against exact enumeration (`RBM.log_partition`).
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from neuralab.models.energy.rbm import RBM

# Salakhutdinov and Murray's schedule: 500 betas in [0, 0.5), 4000 in [0.5, 0.9), 10000 in [0.9, 1].
SM_SCHEDULE = ((0.0, 0.5, 500), (0.5, 0.9, 4000), (0.9, 1.0, 10000))
SM_BETAS = sum(n for _, _, n in SM_SCHEDULE)  # 14,500


class AISEstimate(NamedTuple):
    """log Z with S&M's bounds log(Z_hat -+ 3 sigma_hat) (the lower one -inf where Z_hat - 3 sigma_hat <= 0), and
    the log Z of the base-rate model the runs started from."""

    log_z: float
    low: float
    high: float
    log_z_base: float


def betas(n: int = SM_BETAS) -> torch.Tensor:
    """n + 1 inverse temperatures from 0 to 1 (float64), spaced as Salakhutdinov and Murray's 14,500: each of their
    three stretches keeps its share of the n steps, so the annealing is slowest near beta = 1."""
    if n < 1:
        raise ValueError(f"AIS needs at least one intermediate step, got {n}")
    counts = [max(1, round(n * k / SM_BETAS)) for _, _, k in SM_SCHEDULE]
    counts[-1] = max(1, n - sum(counts[:-1]))
    parts = [torch.linspace(lo, hi, k + 1, dtype=torch.float64)[:-1]
             for (lo, hi, _), k in zip(SM_SCHEDULE, counts, strict=True)]
    return torch.cat([*parts, torch.ones(1, dtype=torch.float64)])


def base_rate_bias(v: torch.Tensor, gaussian: bool = False, smoothing: float = 0.05) -> torch.Tensor:
    """Visible biases (V,) of the base-rate model for data v (N, V): the log-odds of each unit's mean, the mean
    pulled towards 1/2 by `smoothing` pseudo-counts' worth so that a pixel never on stays finite; the mean itself
    for Gaussian units."""
    mean = v.double().mean(0)
    if gaussian:
        return mean
    p = (mean * len(v) + smoothing) / (len(v) + 2 * smoothing)
    return torch.log(p) - torch.log1p(-p)


@torch.no_grad()
def ais_log_partition(rbm: RBM, runs: int, steps: int = SM_BETAS, generator: torch.Generator | None = None,
                      base_bias: torch.Tensor | None = None) -> AISEstimate:
    """log Z of `rbm` by AIS with `runs` parallel runs (vectorised) through `betas(steps)`, from the base-rate model
    with visible biases `base_bias` (V,) (default zeros: uniform Bernoulli units, N(0, I) Gaussian ones). The
    matrix products run in the model's dtype, the log weights accumulate in float64."""
    if runs < 1:
        raise ValueError(f"AIS needs at least one run, got {runs}")
    W, b, c = rbm.weight, rbm.visible_bias, rbm.hidden_bias
    n_visible, n_hidden = W.shape
    dtype, device = W.dtype, W.device
    b_a = torch.zeros(n_visible, dtype=dtype, device=device) if base_bias is None else base_bias.to(device, dtype)
    if rbm.gaussian:
        log_z_base = 0.5 * n_visible * math.log(2 * math.pi)
        v = b_a + torch.randn((runs, n_visible), generator=generator, dtype=dtype, device=device)
    else:
        log_z_base = float(F.softplus(b_a.double()).sum())
        v = torch.bernoulli(torch.sigmoid(b_a).expand(runs, n_visible), generator=generator)
    log_z_base += n_hidden * math.log(2)
    schedule = betas(steps).tolist()
    log_w = torch.zeros(runs, dtype=torch.float64, device=device)
    for previous, beta in itertools.pairwise(schedule):
        x = v @ W + c  # (M, H), shared by both log p* terms and the hidden draw
        x64 = x.double()
        if rbm.gaussian:  # -E_A(v) + visible_B(v), the part of log p* that moves linearly in beta
            visible = 0.5 * ((v - b_a).pow(2).sum(1) - (v - b).pow(2).sum(1)).double()
        else:
            visible = (v @ (b - b_a)).double()
        log_w += (beta - previous) * visible + (F.softplus(beta * x64) - F.softplus(previous * x64)).sum(1)
        h = torch.bernoulli(torch.sigmoid(beta * x), generator=generator)
        pre = (1 - beta) * b_a + beta * (b + h @ W.T)  # (M, V)
        if rbm.gaussian:
            v = pre + torch.randn(pre.shape, generator=generator, dtype=dtype, device=device)
        else:
            v = torch.bernoulli(torch.sigmoid(pre), generator=generator)
    return _estimate(log_w, log_z_base)


def _estimate(log_w: torch.Tensor, log_z_base: float) -> AISEstimate:
    """Z_hat = Z_0 mean(w) and log(Z_hat -+ 3 sigma_hat), computed with the weights scaled by their largest."""
    top = float(log_w.max())
    w = (log_w - top).exp()
    mean = float(w.mean())
    sigma = float(w.std(correction=0)) / math.sqrt(len(w))
    shift = log_z_base + top
    low = shift + math.log(mean - 3 * sigma) if mean > 3 * sigma else -math.inf
    return AISEstimate(shift + math.log(mean), low, shift + math.log(mean + 3 * sigma), log_z_base)

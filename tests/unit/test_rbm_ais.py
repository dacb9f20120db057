"""AIS estimates of an RBM's log Z against the exact sum by enumeration (`RBM.log_partition`)."""

import math

import pytest
import torch

from neuralab.models.energy.ais import SM_BETAS, ais_log_partition, base_rate_bias, betas
from neuralab.models.energy.rbm import RBM, RBMConfig


def _machine(visible: str, v: int, h: int, std: float) -> RBM:
    torch.manual_seed(0)
    rbm = RBM(RBMConfig(v, h, visible, init_std=std))
    with torch.no_grad():
        rbm.visible_bias.normal_()
        rbm.hidden_bias.normal_()
    return rbm


@pytest.mark.parametrize("visible,v,h,std", [("bernoulli", 20, 12, 1.0), ("bernoulli", 784, 15, 0.1),
                                             ("gaussian", 16, 10, 0.3)])
def test_ais_log_z_is_within_one_percent_of_the_exact_sum_and_its_bounds_hold_it(visible, v, h, std):
    rbm = _machine(visible, v, h, std)
    exact = rbm.log_partition()
    est = ais_log_partition(rbm, runs=64, steps=1000, generator=torch.Generator().manual_seed(1))
    assert abs(est.log_z - exact) <= 0.01 * abs(exact)
    assert abs(est.log_z - exact) < 0.3  # far tighter than 1% here: 0.3 nats of log Z in the hundreds
    assert est.low <= exact <= est.high


def test_the_base_rate_model_needs_no_annealing():
    """An RBM without weights or hidden biases whose visible biases are the base rate's is the base model: every run
    has the same weight, so AIS returns its log Z exactly, with no spread."""
    data = torch.bernoulli(torch.full((50, 9), 0.3), generator=torch.Generator().manual_seed(0))
    rbm = RBM(RBMConfig(9, 4, init_std=1.0))
    with torch.no_grad():
        rbm.weight.zero_()
        rbm.visible_bias.copy_(base_rate_bias(data))
    est = ais_log_partition(rbm, runs=8, steps=20, base_bias=base_rate_bias(data))
    assert est.log_z == pytest.approx(rbm.log_partition(), abs=1e-5)
    assert est.high - est.low == pytest.approx(0.0, abs=1e-9)


def test_the_schedule_keeps_salakhutdinov_and_murrays_shares():
    full = betas()
    assert len(full) == SM_BETAS + 1 and full[0] == 0 and full[-1] == 1
    assert bool((full.diff() > 0).all())
    assert int((full < 0.5).sum()) == 500 and int((full >= 0.9).sum()) == 10001
    short = betas(145)
    assert len(short) == 146 and int((short < 0.5).sum()) == 5 and int((short >= 0.9).sum()) == 101


def test_base_rate_biases_are_the_smoothed_log_odds_of_the_pixel_means():
    v = torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    b = base_rate_bias(v, smoothing=0.0 + 1e-9)
    assert b[2] == pytest.approx(0.0, abs=1e-6) and b[0] > 15 and b[1] < -15
    assert math.isfinite(float(base_rate_bias(v)[1]))

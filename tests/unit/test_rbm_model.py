"""The RBM's energy, free energy and exact partition function against brute-force sums and integrals."""

import pytest
import torch

from neuralab.models.energy.rbm import RBM, RBMConfig, binary_states


def _machine(visible: str, v: int, h: int, seed: int = 0) -> RBM:
    torch.manual_seed(seed)
    rbm = RBM(RBMConfig(v, h, visible, init_std=0.7)).double()
    with torch.no_grad():
        rbm.visible_bias.normal_()
        rbm.hidden_bias.normal_()
    return rbm


@pytest.mark.parametrize("v,h", [(5, 3), (3, 6)])
@torch.no_grad()
def test_bernoulli_log_z_and_free_energy_match_the_sum_over_every_joint_state(v, h):
    rbm = _machine("bernoulli", v, h)
    vs, hs = binary_states(v), binary_states(h)
    pairs_v, pairs_h = vs.repeat_interleave(len(hs), 0), hs.repeat(len(vs), 1)
    brute = torch.logsumexp(-rbm.energy(pairs_v, pairs_h), 0)
    assert rbm.log_partition() == pytest.approx(float(brute), abs=1e-10)
    # F(v) = -log sum_h exp(-E(v, h)), for every v
    per_v = -torch.logsumexp(-rbm.energy(pairs_v, pairs_h).view(len(vs), len(hs)), 1)
    torch.testing.assert_close(rbm.free_energy(vs), per_v)


@torch.no_grad()
def test_gaussian_log_z_matches_a_numerical_integral_of_exp_minus_free_energy():
    rbm = _machine("gaussian", 1, 3, seed=1)
    grid = torch.linspace(-30, 30, 200_001, dtype=torch.float64).unsqueeze(1)
    numeric = torch.logsumexp(-rbm.free_energy(grid), 0) + torch.log(grid[1] - grid[0])
    assert rbm.log_partition() == pytest.approx(float(numeric), abs=1e-8)


@torch.no_grad()
def test_conditionals_are_the_ratios_of_the_joint():
    rbm = _machine("bernoulli", 4, 3)
    vs, hs = binary_states(4), binary_states(3)
    joint = torch.exp(-torch.stack([rbm.energy(vs, h.expand(len(vs), 3)) for h in hs], 1))  # (16, 8)
    p_h1 = (joint * hs[:, 0]).sum(1) / joint.sum(1)  # P(h_0 = 1 | v) for every v
    torch.testing.assert_close(rbm.hidden_probs(vs)[:, 0], p_h1)
    p_v1 = (joint * vs[:, :1]).sum(0) / joint.sum(0)  # P(v_0 = 1 | h) for every h
    torch.testing.assert_close(rbm.visible_mean(hs)[:, 0], p_v1)


def test_log_partition_refuses_a_layer_too_large_to_enumerate():
    from neuralab.errors import UserError

    with pytest.raises(UserError, match="AIS"):
        RBM(RBMConfig(784, 500)).log_partition()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_bernoulli_draws_are_torch_bernoulli_s_from_the_same_generator_state(dtype):
    from neuralab.models.energy.rbm import bernoulli

    p = torch.rand(20, 784, dtype=dtype)
    ours = bernoulli(p, torch.Generator().manual_seed(1))
    torch.testing.assert_close(ours, torch.bernoulli(p, generator=torch.Generator().manual_seed(1)), rtol=0, atol=0)
    assert 0.45 < float(ours.mean()) < 0.55

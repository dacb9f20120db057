"""The RBM's pseudo-likelihood against scikit-learn's `BernoulliRBM.score_samples` (same weights, same flipped bits)
and against the definition, log P(v_i | v_-i) from the joint's exact unnormalised probabilities."""

import numpy as np
import pytest
import torch
from sklearn.neural_network import BernoulliRBM

from neuralab.errors import UserError
from neuralab.models.energy.pseudo_likelihood import pseudo_likelihood
from neuralab.models.energy.rbm import RBM, RBMConfig, binary_states


def _machine(v: int, h: int, seed: int = 0) -> RBM:
    torch.manual_seed(seed)
    rbm = RBM(RBMConfig(v, h, init_std=0.7)).double()
    with torch.no_grad():
        rbm.visible_bias.normal_()
        rbm.hidden_bias.normal_()
    return rbm


def _sklearn_twin(rbm: RBM, random_state: int) -> BernoulliRBM:
    """A fitted BernoulliRBM holding the RBM's weights: components_ is W^T (H, V)."""
    peer = BernoulliRBM(n_components=rbm.cfg.hidden, random_state=random_state)
    peer.components_ = rbm.weight.detach().T.numpy().copy()
    peer.intercept_hidden_ = rbm.hidden_bias.detach().numpy().copy()
    peer.intercept_visible_ = rbm.visible_bias.detach().numpy().copy()
    peer.n_features_in_ = rbm.cfg.in_features
    return peer


@pytest.mark.parametrize("grey", [False, True])
def test_matches_sklearn_score_samples_one_for_one_with_its_flipped_bits(grey):
    rbm = _machine(30, 12)
    g = torch.Generator().manual_seed(1)
    v = torch.rand(400, 30, generator=g, dtype=torch.float64)
    v = v if grey else (v < 0.4).double()
    flip = torch.from_numpy(np.random.RandomState(7).randint(0, 30, 400))  # the indices score_samples draws
    ours = pseudo_likelihood(rbm, v, flip=flip)
    theirs = _sklearn_twin(rbm, random_state=7).score_samples(v.numpy())
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-10, atol=1e-10)


def test_each_flipped_bit_gives_v_times_the_exact_conditional_log_probability():
    rbm = _machine(6, 4, seed=2)
    vs, hs = binary_states(6), binary_states(4)
    # unnormalised P(v) = sum_h exp(-E(v, h)), from the energy itself, not the free energy
    weight = torch.stack([torch.exp(-rbm.energy(vs, h.expand(len(vs), 4))) for h in hs], 1).sum(1)  # (64,)
    for i in range(6):
        partner = torch.arange(64) ^ (1 << i)  # binary_states puts unit i in bit i of the row index
        exact = torch.log(weight / (weight + weight[partner]))  # log P(v_i | v_-i)
        torch.testing.assert_close(pseudo_likelihood(rbm, vs, flip=torch.full((64,), i)), 6 * exact)


def test_random_flips_are_seeded_and_average_to_the_full_pseudo_likelihood():
    rbm = _machine(10, 5, seed=3)
    v = (torch.rand(8, 10, generator=torch.Generator().manual_seed(0)) < 0.5).double()
    full = sum(pseudo_likelihood(rbm, v, flip=torch.full((8,), i)) for i in range(10)) / 10  # (8,)
    draws = v.repeat(4000, 1)
    a = pseudo_likelihood(rbm, draws, torch.Generator().manual_seed(5)).view(4000, 8)
    b = pseudo_likelihood(rbm, draws, torch.Generator().manual_seed(5)).view(4000, 8)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, pseudo_likelihood(rbm, draws, torch.Generator().manual_seed(6)).view(4000, 8))
    stderr = a.std(0) / 4000 ** 0.5
    assert ((a.mean(0) - full).abs() <= 4 * stderr + 1e-9).all()


def test_gaussian_visible_units_are_refused():
    with pytest.raises(UserError, match="gaussian"):
        pseudo_likelihood(RBM(RBMConfig(5, 3, "gaussian")), torch.rand(2, 5))

"""Hopfield network (curriculum E4): Hebbian storage against the outer-product formula, fixed points, the energy
under asynchronous updates (property test), synchronous 2-cycles, annealing against zero-temperature recall,
spurious mixtures and the capacity experiment's crossing."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from neuralab.data.binary_patterns import random_patterns
from neuralab.experiments.hopfield_capacity import crossing
from neuralab.methods.hebbian_storage import classify_ends, flip_bits, hebbian_weights
from neuralab.models.energy.hopfield import (
    anneal_temperatures,
    asynchronous_sweep,
    energy,
    is_fixed_point,
    recall,
    synchronous_step,
)


def test_hebbian_weights_are_the_outer_product_sum_over_n_with_a_zero_diagonal():
    xi = random_patterns(4, 7, seed=1)  # (P, N)
    weight = hebbian_weights(xi)
    for i, j in itertools.product(range(7), repeat=2):  # w_ij = (1/N) sum_p xi_i^p xi_j^p, w_ii = 0
        expected = 0.0 if i == j else sum(float(xi[p, i] * xi[p, j]) for p in range(4)) / 7
        assert weight[i, j].item() == pytest.approx(expected)
    # a sum: storing in two batches gives the one-shot weights, and a batch of networks stores each on its own
    assert torch.allclose(hebbian_weights(xi[:1]) + hebbian_weights(xi[1:]), weight)
    assert torch.allclose(hebbian_weights(xi.view(2, 2, 7))[1], hebbian_weights(xi[2:]))


def test_stored_patterns_are_fixed_points_and_recalled_from_corruption_at_low_load():
    xi = random_patterns(5, 200, seed=0)  # load 0.025
    weight, theta = hebbian_weights(xi), torch.zeros(200)
    assert is_fixed_point(xi, weight, theta).all()
    assert is_fixed_point(-xi, weight, theta).all()  # E(-x) = E(x) without thresholds
    start = flip_bits(xi, 0.2, torch.Generator().manual_seed(0))
    assert ((start != xi).sum(1) == 40).all()  # exactly 20% of each pattern's bits
    out = recall(start, weight, theta, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out.states, xi) and out.settled.all()
    # at a load far past 0.138 the stored patterns stop being fixed points
    crowded = random_patterns(60, 100, seed=0)
    assert not is_fixed_point(crowded, hebbian_weights(crowded), torch.zeros(100)).all()


def _symmetric(values: list[float], n: int) -> torch.Tensor:
    w = torch.zeros(n, n, dtype=torch.float64)
    iu = torch.triu_indices(n, n, offset=1)
    w[iu[0], iu[1]] = torch.tensor(values, dtype=torch.float64)
    return w + w.T  # symmetric, zero diagonal


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 12), data=st.data())
def test_energy_never_increases_under_asynchronous_updates(n, data):
    weights = data.draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=n * (n - 1) // 2,
                                 max_size=n * (n - 1) // 2))
    theta = torch.tensor(data.draw(st.lists(st.floats(-1, 1), min_size=n, max_size=n)), dtype=torch.float64)
    states = data.draw(st.lists(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n), min_size=1,
                                max_size=4))
    seed = data.draw(st.integers(0, 2**16))
    w, x = _symmetric(weights, n), torch.tensor(states, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    before = energy(x, w, theta)
    for _ in range(3):  # one unit at a time, checking the energy after every single update
        for i in torch.randperm(n, generator=g):
            asynchronous_sweep(x, w, theta, i.view(1))
            after = energy(x, w, theta)
            assert (after <= before + 1e-9).all(), (before, after)
            before = after
    out = recall(torch.tensor(states, dtype=torch.float64), w, theta, generator=g)
    assert (out.energies.diff(dim=0) <= 1e-9).all()
    assert is_fixed_point(out.states[out.settled], w, theta).all()


def test_blocked_sweep_equals_one_unit_at_a_time():
    """The sweep computes a block of fields at once; the result must be exactly the sequential rule's."""
    n = 150  # more than one block
    xi = random_patterns(25, n, seed=3)
    w, theta = hebbian_weights(xi), torch.zeros(n)
    x = flip_bits(xi, 0.3, torch.Generator().manual_seed(1))
    order = torch.randperm(n, generator=torch.Generator().manual_seed(2))
    fast = x.clone()
    asynchronous_sweep(fast, w, theta, order)
    slow = x.clone()
    for i in order.tolist():
        h = slow @ w[i]
        slow[:, i] = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, slow[:, i]))
    assert torch.equal(fast, slow)


def test_synchronous_updates_can_two_cycle_where_asynchronous_ones_settle():
    w = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # two units that want to agree
    theta, x = torch.zeros(2), torch.tensor([[1.0, -1.0]])
    assert torch.equal(synchronous_step(x, w, theta), -x)  # both flip at once: (1, -1) -> (-1, 1) -> (1, -1)
    assert torch.equal(synchronous_step(-x, w, theta), x)
    sync = recall(x, w, theta, update="synchronous")
    assert sync.settled.all() and not is_fixed_point(sync.states, w, theta).any()  # stopped in the 2-cycle
    asyn = recall(x, w, theta, generator=torch.Generator().manual_seed(0))
    assert asyn.states.abs().sum() == 2 and asyn.states[0, 0] == asyn.states[0, 1]  # agreed: a fixed point
    assert asyn.energies[-1].item() == -1.0 and sync.energies[-1].item() == 1.0


def test_symmetric_three_mixtures_are_stable_at_low_load_and_classified():
    xi = random_patterns(3, 301, seed=0)
    w, theta = hebbian_weights(xi), torch.zeros(301)
    mixture = torch.sign(xi.sum(0, keepdim=True))
    assert is_fixed_point(mixture, w, theta).all()
    mixed_signs = torch.sign(xi[0] - xi[1] + xi[2])[None]
    assert classify_ends(torch.cat([xi[1:2], -xi[2:3], mixture, mixed_signs]), xi) == \
        ["pattern", "negative", "mixture", "mixture"]
    flipped = mixture.clone()
    flipped[0, :30] *= -1
    assert classify_ends(flipped, xi) == ["other"]


def test_annealing_ends_lower_than_zero_temperature_recall_from_the_same_random_starts():
    """At load 0.025, zero-temperature recall from random states often ends in spurious mixtures (E/N about
    -3/8); annealing from T = 2 (above the paramagnetic transition T = 1) to 0.05 mostly ends in stored
    patterns or their negatives (E/N about -1/2)."""
    n = 200
    xi = random_patterns(5, n, seed=0)
    w, theta = hebbian_weights(xi), torch.zeros(n)
    starts = torch.sign(torch.rand(60, n, generator=torch.Generator().manual_seed(1)) - 0.5)
    cold = recall(starts, w, theta, generator=torch.Generator().manual_seed(2))
    hot = recall(starts, w, theta, generator=torch.Generator().manual_seed(2),
                 temperatures=anneal_temperatures(2.0, 0.05, 40))
    retrieved = [sum(end in ("pattern", "negative") for end in classify_ends(r.states, xi)) for r in (cold, hot)]
    assert hot.energies[-1].mean() < cold.energies[-1].mean() - 0.02 * n
    assert retrieved[1] > retrieved[0] and retrieved[1] >= 55
    assert hot.settled.all()


def test_anneal_temperatures_fall_geometrically():
    temps = anneal_temperatures(2.0, 0.02, 3)
    assert temps == pytest.approx([2.0, 0.2, 0.02])


def test_crossing_interpolates_the_first_drop_below_the_threshold():
    loads = [0.10, 0.12, 0.14, 0.16]
    assert crossing(loads, [1.0, 0.99, 0.95, 0.5], 0.97) == pytest.approx(0.12 + 0.02 * 0.02 / 0.04)
    assert crossing(loads, [1.0, 0.99, 0.98, 0.975], 0.97) is None  # never falls
    assert crossing(loads, [0.9, 0.99, 0.98, 0.5], 0.97) is None  # already below at the first load

"""Boltzmann machine (curriculum E5): the notes' worked energy example, exact sums against closed forms and autograd,
the Gibbs sampler against the exact Boltzmann distribution, the sampled learning gradient against the exact one, and
learning that drives the exact KL(P_data || P_model) down."""

from __future__ import annotations

import math

import pytest
import torch

import neuralab
from neuralab.data.bit_patterns import BitPatternsConfig, build_bit_patterns
from neuralab.engine import fit
from neuralab.errors import UserError
from neuralab.methods.boltzmann_learning import clamped_phase, correlations, kl_divergence
from neuralab.models.energy.boltzmann import BoltzmannConfig, BoltzmannMachine
from neuralab.models.energy.rbm import binary_states
from neuralab.recipes.recipe import Recipe
from tests.conftest import assert_png_drawn

FAST = {"device": "cpu", "threads": 1}
XOR = ("000", "011", "101", "110")


def _random_machine(visible: int, hidden: int, std: float, seed: int) -> BoltzmannMachine:
    torch.manual_seed(seed)
    machine = BoltzmannMachine(BoltzmannConfig(in_features=visible, hidden=hidden, init_std=std))
    with torch.no_grad():
        machine.bias.normal_(0, std / 2)
    return machine


def _index(x: torch.Tensor) -> torch.Tensor:
    """Rows of binary states (B, N) -> their index in `binary_states(N)` (unit j is bit j)."""
    return (x.long() << torch.arange(x.shape[1])).sum(1)


def test_the_notes_worked_example_energy_and_marginal():
    # -E = 2 v1 h1 + 1 v2 h2 - 1 h1 h2 (notes 002, Fig 4.13)
    machine = BoltzmannMachine.from_blocks(R=torch.zeros(2, 2), W=torch.tensor([[2.0, 0.0], [0.0, 1.0]]),
                                           S=torch.tensor([[0.0, -1.0], [0.0, 0.0]]), b=torch.zeros(2),
                                           c=torch.zeros(2))
    energy = machine.energy(torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0]])).detach()
    assert energy.tolist() == pytest.approx([-2.0, -1.0])  # -E = 2 + 1 - 1, and 2 - 1 with v2 = 0
    e = math.e  # sum over h of exp(-E(v, h)), by hand, for v = 00, 10, 01, 11
    unnormalised = {(0, 0): 3 + 1 / e, (1, 0): 2 + e + e**2, (0, 1): 3 + e, (1, 1): 1 + e + 2 * e**2}
    z = sum(unnormalised.values())
    assert float(machine.log_partition().detach()) == pytest.approx(math.log(z), rel=1e-12)
    p = machine.visible_distribution()  # state k: v1 is bit 0, v2 bit 1
    for (v1, v2), weight in unnormalised.items():
        assert float(p[v1 + 2 * v2]) == pytest.approx(weight / z, rel=1e-6)
        f = float(machine(torch.tensor([[float(v1), float(v2)]])).detach())
        assert f == pytest.approx(-math.log(weight), rel=1e-5)  # the forward pass is the free energy


def test_from_blocks_computes_the_notes_energy_for_every_state():
    g = torch.Generator().manual_seed(0)
    R, W, S = torch.randn(3, 3, generator=g), torch.randn(3, 2, generator=g), torch.randn(2, 2, generator=g)
    b, c = torch.randn(3, generator=g), torch.randn(2, generator=g)
    machine = BoltzmannMachine.from_blocks(R, W, S, b, c)
    x = binary_states(5).float()
    v, h = x[:, :3], x[:, 3:]
    notes = -((v @ R) * v).sum(1) - ((v @ W) * h).sum(1) - ((h @ S) * h).sum(1) - v @ b - h @ c
    torch.testing.assert_close(machine.energy(x), notes, rtol=1e-5, atol=1e-5)
    assert torch.equal(machine.weight, machine.weight.T) and not machine.weight.diagonal().any()
    torch.testing.assert_close(machine.blocks()["W"], W)


def test_exact_gradient_is_autograd_of_the_exact_log_likelihood():
    machine = _random_machine(4, 2, 0.7, seed=1)
    v = torch.tensor([[1.0, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 1]])
    grad_w, grad_b = machine.exact_gradient(v)
    machine.log_prob(v).mean().backward()
    pair = machine.weight.grad + machine.weight.grad.T  # W holds each pair weight twice, each with half of -E's slope
    torch.testing.assert_close(grad_w.float(), pair * machine.mask, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad_b.float(), machine.bias.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_gibbs_sampling_reaches_the_boltzmann_distribution_at_temperature_t(temperature):
    machine = _random_machine(3, 2, 1.0, seed=2)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(20000, 5, generator=g) < 0.5).float()
    x = machine.gibbs(x, 30, temperature=temperature, generator=g)
    sampled = torch.bincount(_index(x), minlength=32).double() / len(x)
    exact = torch.softmax(-machine.energy(binary_states(5)).detach() / temperature, 0)
    assert 0.5 * float((sampled - exact).abs().sum()) < 0.02  # total variation distance


def test_clamped_phase_leaves_the_visible_units_and_samples_the_hidden_posterior():
    machine = _random_machine(3, 2, 1.0, seed=3)
    v = torch.tensor([[1.0, 0.0, 1.0]]).expand(20000, -1)
    x = clamped_phase(machine, v, 20, torch.Generator().manual_seed(0))
    assert torch.equal(x[:, :3], v)
    _, exact_mean = machine.exact_statistics(v[:1])
    torch.testing.assert_close(x.mean(0).double(), exact_mean, atol=0.015, rtol=0)


def test_sampled_learning_gradient_matches_the_exact_gradient_by_enumeration():
    machine = _random_machine(4, 2, 0.8, seed=4)
    patterns = torch.tensor([[1.0, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1]])
    g = torch.Generator().manual_seed(0)
    clamped = clamped_phase(machine, patterns.repeat(10000, 1), 20, g)
    free = machine.gibbs((torch.rand(40000, 6, generator=g) < 0.5).float(), 50, generator=g)
    (pos, pos_mean), (neg, neg_mean) = correlations(clamped), correlations(free)
    sampled = torch.cat([((pos - neg) * machine.mask).flatten(), pos_mean - neg_mean]).double()
    exact_w, exact_b = machine.exact_gradient(patterns)
    exact = torch.cat([exact_w.flatten(), exact_b])
    assert float((sampled - exact).abs().max()) < 0.02
    existing = torch.cat([machine.mask.flatten(), torch.ones(6)]).bool()
    assert float(torch.corrcoef(torch.stack([sampled[existing], exact[existing]]))[0, 1]) > 0.99


def test_without_hidden_units_xor_stays_at_log_2_and_hidden_units_learn_it():
    v = build_bit_patterns(BitPatternsConfig(patterns=XOR, n_train=4), seed=0).x_train
    p_data = torch.zeros(8, dtype=torch.float64).index_add_(0, _index(v), torch.full((4,), 0.25, dtype=torch.float64))
    kl = {}
    for hidden in (0, 4):
        machine = _random_machine(3, hidden, 1.0, seed=0)
        for _ in range(300):  # exact gradient ascent: no sampling noise to blame
            grad_w, grad_b = machine.exact_gradient(v)
            with torch.no_grad():
                machine.weight += grad_w.float()
                machine.bias += grad_b.float()
        kl[hidden] = kl_divergence(p_data, machine.visible_distribution())
    assert kl[0] >= math.log(2) - 1e-9 and kl[0] == pytest.approx(math.log(2), abs=1e-3)
    assert kl[4] < 0.3


def test_annealing_finds_the_ground_state_more_often_than_a_quench():
    torch.manual_seed(5)
    machine = BoltzmannMachine(BoltzmannConfig(in_features=16, hidden=0, init_std=1.0))  # frustrated: many minima
    with torch.no_grad():
        ground = float(machine.energy(binary_states(16).float()).min())
    g = torch.Generator().manual_seed(0)
    start = (torch.rand(400, 16, generator=g) < 0.5).float()
    schedule = [5.0 * (0.05 / 5.0) ** (k / 99) for k in range(100)]  # geometric, T = 5 down to 0.05
    annealed = machine.anneal(start, schedule, generator=g)
    quenched = machine.gibbs(start, 100, temperature=0.05, generator=g)
    with torch.no_grad():
        found = {name: float((machine.energy(x) <= ground + 1e-4).float().mean())
                 for name, x in (("annealed", annealed), ("quenched", quenched))}
    assert found["annealed"] > 0.6 and found["annealed"] > found["quenched"] + 0.3, found


def test_boltzmann_learning_drives_the_exact_kl_down(tmp_path):
    run = neuralab.train("boltzmann-xor", {
        "run": {**FAST, "steps": 100, "eval_every": 100}, "model": {"hidden": 2, "init_std": 0.5},
        "data": {"patterns": ("1100", "0110", "0011", "1001")}, "method": {"lr": 1.0, "chains": 200}},
        out=tmp_path / "run")
    method = run.method
    assert run.metrics["test/kl"] < 0.3 < math.log(4)  # KL of a near-uniform start is about log(16 / 4)
    assert run.metrics["test/kl"] == pytest.approx(
        kl_divergence(method.p_data, method.model.visible_distribution()), rel=1e-9)
    assert method.log_likelihood(1)["test/nll"] == pytest.approx(-run.metrics["test/log_likelihood"])
    assert torch.equal(method.model.weight, method.model.weight.T) and not method.model.weight.diagonal().any()
    assert_png_drawn(tmp_path / "run" / "plots" / "boltzmann.png")


def test_bit_patterns_refuses_malformed_patterns_and_learning_refuses_non_binary_data(tmp_path):
    with pytest.raises(UserError, match="string of 0 and 1"):
        build_bit_patterns(BitPatternsConfig(patterns=("01", "0x")), seed=0)
    with pytest.raises(UserError, match="different lengths"):
        build_bit_patterns(BitPatternsConfig(patterns=("01", "011")), seed=0)
    gaussian = Recipe(name="bm-on-gaussian", family="energy", summary="", curriculum="E5", model="boltzmann-machine",
                      method="boltzmann-learning", data="correlated-gaussian")
    with pytest.raises(UserError, match="binary data"):
        fit(gaussian, {"run": {**FAST, "steps": 1}}, out=tmp_path / "gauss", progress=False)
    with pytest.raises(UserError, match="enumerating 2\\^23 states"):
        neuralab.train("boltzmann-xor", {"run": {**FAST, "steps": 1}, "model": {"hidden": 20}}, out=tmp_path / "big")
    assert not (tmp_path / "big").exists()

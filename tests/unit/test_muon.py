"""MuonAdamW: which parameters Muon takes, that its step is an orthogonalised one, that a schedule drives both
optimisers, and that a saved state resumes bit for bit."""

import copy

import torch
from torch import nn

from neuralab.methods.muon import MuonAdamW, hidden_matrices
from neuralab.methods.optim import make_schedule
from neuralab.models.transformer.gpt import GPT, GPTConfig


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=8, layers=2, heads=2, d_model=16, dropout=0.0))


def _step(model: GPT, optimizer: torch.optim.Optimizer, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(11, (4, 8), generator=g)
    loss = nn.functional.cross_entropy(model(x).flatten(0, 1), torch.randint(11, (32,), generator=g))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def test_muon_takes_the_blocks_matrices_and_adamw_the_embeddings_output_layer_biases_and_norms():
    model = _gpt()
    hidden, other = hidden_matrices(model, list(model.parameters()))
    named = {id(p): name for name, p in model.named_parameters()}
    # Per block: the stacked Q/K/V projection, the output projection and the two feed-forward layers.
    assert sorted(named[id(p)] for p in hidden) == sorted(
        f"blocks.{i}.{name}.weight" for i in range(2) for name in ("attn.in_proj", "attn.out_proj", "ffn.0", "ffn.2"))
    assert {"embed.weight", "head.weight", "head.bias", "norm.weight"} <= {named[id(p)] for p in other}
    assert all(p.dim() == 2 for p in hidden) and len(hidden) + len(other) == len(list(model.parameters()))


def test_a_muon_step_moves_a_hidden_matrix_along_an_orthogonalised_direction():
    """From rest, Muon's update of an (m, n) matrix is lr sqrt(max(1, m/n)) times an approximately orthogonal
    matrix: its singular values sit near 1 (Newton-Schulz's quintic lands them in about [0.7, 1.2]) although the
    gradient's spread over two orders of magnitude."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 48), nn.ReLU(), nn.Linear(48, 4))
    optimizer = MuonAdamW(model, list(model.parameters()), lr=1e-3, muon_lr=0.02)
    weight = model[0].weight  # (48, 16): Muon's; the output layer is AdamW's
    u, _, v = torch.linalg.svd(torch.randn(48, 16), full_matrices=False)
    spectrum = torch.logspace(0, 2, 16)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    weight.grad = u @ torch.diag(spectrum) @ v  # singular values 1..100
    before = weight.detach().clone()
    optimizer.step()
    singular = torch.linalg.svdvals((before - weight.detach()) / (0.02 * (48 / 16) ** 0.5))
    assert singular.min() > 0.6 and singular.max() < 1.3, singular
    assert optimizer.muon.param_groups[0]["params"] == [weight]


def test_a_schedule_scales_both_optimisers_rates_and_onecycle_keeps_each_groups_own_peak():
    model = _gpt()
    optimizer = MuonAdamW(model, list(model.parameters()), lr=1e-3, muon_lr=0.02)
    schedule = make_schedule("cosine", optimizer, 10)
    for _ in range(5):
        _step(model, optimizer, 0)
        schedule.step()
    assert optimizer.muon.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    torch.testing.assert_close(optimizer.muon.param_groups[0]["lr"], 0.02 * 0.5)
    torch.testing.assert_close(optimizer.adamw.param_groups[0]["lr"], 1e-3 * 0.5)
    cycle = make_schedule("onecycle", MuonAdamW(model, list(model.parameters()), lr=1e-3, muon_lr=0.02), 10)
    assert [group["max_lr"] for group in cycle.optimizer.param_groups] == [0.02, 1e-3]


def test_a_loaded_state_continues_bit_for_bit_with_its_schedule():
    model = _gpt()
    optimizer = MuonAdamW(model, list(model.parameters()), lr=1e-3, muon_lr=0.02)
    schedule = make_schedule("cosine", optimizer, 8)
    for seed in range(3):
        _step(model, optimizer, seed)
        schedule.step()
    twin = copy.deepcopy(model)
    twin_optimizer = MuonAdamW(twin, list(twin.parameters()), lr=1e-3, muon_lr=0.02)
    twin_schedule = make_schedule("cosine", twin_optimizer, 8)
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    twin_schedule.load_state_dict(schedule.state_dict())
    for seed in range(3, 6):
        for m, o, s in ((model, optimizer, schedule), (twin, twin_optimizer, twin_schedule)):
            _step(m, o, seed)
            s.step()
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)
    assert twin_optimizer.muon.param_groups[0]["lr"] == optimizer.muon.param_groups[0]["lr"] < 0.02

"""The from-scratch cells against torch's fused nn.RNN/nn.LSTM/nn.GRU (the oracle), and the truncated-BPTT state
helpers."""

from __future__ import annotations

import pytest
import torch

from neuralab.models.rnn.cells import TORCH_MODULES, Recurrent
from neuralab.models.rnn.state import detach_state, reset_state_where

B, T, D, H = 3, 5, 4, 6


def _pair(cell: str, num_layers: int, bidirectional: bool) -> tuple[Recurrent, torch.nn.Module]:
    torch.manual_seed(0)
    oracle = TORCH_MODULES[cell](D, H, num_layers=num_layers, bidirectional=bidirectional,
                                 batch_first=True).double()
    ours = Recurrent(cell, D, H, num_layers=num_layers, bidirectional=bidirectional).double()
    ours.load_state_dict(oracle.state_dict())  # same names, same shapes, same order: strict loading
    return ours, oracle


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_outputs_states_and_every_gradient_match_torch(cell, num_layers, bidirectional):
    ours, oracle = _pair(cell, num_layers, bidirectional)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(B, T, D, dtype=torch.float64, generator=g)
    layers = num_layers * (2 if bidirectional else 1)
    h0 = torch.randn(layers, B, H, dtype=torch.float64, generator=g)
    state = (h0, torch.randn(layers, B, H, dtype=torch.float64, generator=g)) if cell == "lstm" else h0
    results = []
    for net in (ours, oracle):
        xi = x.clone().requires_grad_()
        si = tuple(s.clone().requires_grad_() for s in state) if cell == "lstm" else state.clone().requires_grad_()
        out, final = net(xi, si)
        finals = final if cell == "lstm" else (final,)
        # a loss that weighs every output and final state differently, so a swapped step or lane shows
        w = torch.linspace(-1, 2, out.numel(), dtype=torch.float64).view_as(out)
        loss = (w * out).sum() + sum((f ** 2 * (i + 1)).sum() for i, f in enumerate(finals))
        loss.backward()
        inits = si if cell == "lstm" else (si,)
        results.append((out, finals, xi.grad, [s.grad for s in inits],
                        {n: p.grad for n, p in net.named_parameters()}))
    (out_a, fin_a, gx_a, gs_a, gp_a), (out_b, fin_b, gx_b, gs_b, gp_b) = results
    assert out_a.shape == out_b.shape == (B, T, H * (2 if bidirectional else 1))
    torch.testing.assert_close(out_a, out_b, atol=1e-6, rtol=0)
    for a, b in zip(fin_a, fin_b, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    torch.testing.assert_close(gx_a, gx_b, atol=1e-6, rtol=0)
    for a, b in zip(gs_a, gs_b, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert gp_a.keys() == gp_b.keys()
    for name in gp_b:
        assert gp_a[name].abs().sum() > 0, name
        torch.testing.assert_close(gp_a[name], gp_b[name], atol=1e-6, rtol=0, msg=name)


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_zero_initial_state_is_the_default_and_weights_copy_back_to_torch(cell):
    ours, _ = _pair(cell, 1, False)
    x = torch.randn(2, T, D, dtype=torch.float64)
    oracle = TORCH_MODULES[cell](D, H, batch_first=True).double()
    oracle.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x)[0], oracle(x)[0], atol=1e-6, rtol=0)


def test_one_step_is_one_time_step_of_the_layer():
    ours, _ = _pair("lstm", 1, False)
    x = torch.randn(2, 3, D, dtype=torch.float64)
    out, _ = ours(x)
    state = (torch.zeros(2, H, dtype=torch.float64),) * 2
    for t in range(3):
        state = ours.step(x[:, t], state)
        torch.testing.assert_close(state[0], out[:, t])


def test_detach_state_keeps_values_and_stops_the_backward_pass():
    w = torch.ones(2, 3, requires_grad=True)
    h, c = w * 2, w * 3
    dh, dc = detach_state((h, c))
    assert torch.equal(dh, h) and torch.equal(dc, c)
    assert not dh.requires_grad and dh.grad_fn is None
    assert detach_state(h).grad_fn is None and h.grad_fn is not None
    assert detach_state(None) is None


def test_truncated_bptt_with_a_carried_state_equals_one_long_forward_pass():
    """Chunks that carry the (detached) state reproduce the long pass's outputs; gradients stop at the chunk."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(D, H, batch_first=True).double()
    x = torch.randn(2, 12, D, dtype=torch.float64)
    whole, _ = lstm(x)
    state, parts = None, []
    for chunk in x.split(4, dim=1):
        chunk = chunk.clone().requires_grad_()
        out, state = lstm(chunk, state)
        out.sum().backward()
        parts.append(out.detach())
        assert chunk.grad is not None  # the chunk's own inputs get gradients, earlier ones are out of reach
        state = detach_state(state)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole.detach())


def test_reset_state_where_zeroes_only_the_masked_lanes():
    h = torch.ones(2, 4, 3)  # (layers, B, H)
    c = torch.full((2, 4, 3), 5.0)
    mask = torch.tensor([True, False, False, True])
    rh, rc = reset_state_where((h, c), mask)
    assert rh[:, mask].eq(0).all() and rc[:, mask].eq(0).all()
    assert rh[:, ~mask].eq(1).all() and rc[:, ~mask].eq(5).all()
    one = reset_state_where(torch.ones(4, 3), mask, batch_dim=0)  # one cell's (B, H)
    assert one.sum(1).tolist() == [0, 3, 3, 0]
    assert reset_state_where(None, mask) is None
    with pytest.raises(ValueError, match="batch size 4"):
        reset_state_where(h, torch.tensor([True]))

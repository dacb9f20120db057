"""Attention written from the equation against torch's fused kernel and nn.MultiheadAttention; positions."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.nn.attention import MultiHeadAttention, attention, attention_mask
from neuralab.nn.positions import Positions, sinusoids
from neuralab.nn.transformer import TransformerBlock


@pytest.mark.parametrize("causal", [False, True])
def test_written_out_attention_matches_scaled_dot_product_attention(causal):
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64) for _ in range(3))
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    mask = attention_mask(5, 5, causal=causal, key_padding=padding)
    out, weights = attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64))
    assert (weights[1, :, :, 3:] == 0).all()  # padded keys get no weight
    if causal:
        assert (weights.triu(1) == 0).all()  # no query sees a later key


def test_a_single_key_gets_all_the_weight_and_scaling_is_by_root_d():
    q = torch.ones(1, 1, 4)
    k = torch.tensor([[[1.0, 1, 1, 1], [0, 0, 0, 0]]])
    v = torch.tensor([[[1.0], [0.0]]])
    _, w = attention(q, k, v)
    p = math.exp(4 / 2) / (math.exp(4 / 2) + 1)  # q.k = 4, / sqrt(4) = 2
    assert w[0, 0, 0].item() == pytest.approx(p)


@pytest.mark.parametrize("need_weights", [False, True])
def test_multi_head_attention_matches_torch_with_copied_weights(need_weights):
    torch.manual_seed(0)
    ours, theirs = MultiHeadAttention(16, 4).double(), nn.MultiheadAttention(16, 4, batch_first=True).double()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.in_proj.weight)
        theirs.in_proj_bias.copy_(ours.in_proj.bias)
        theirs.out_proj.weight.copy_(ours.out_proj.weight)
        theirs.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, 6, 16, dtype=torch.float64, requires_grad=True)
    memory = torch.randn(2, 4, 16, dtype=torch.float64)
    padding = torch.tensor([[False] * 4, [False, False, True, True]])
    out, w = ours(x, memory, key_padding=padding, need_weights=need_weights)
    expected, expected_w = theirs(x, memory, memory, key_padding_mask=padding, need_weights=True,
                                  average_attn_weights=False)
    torch.testing.assert_close(out, expected)
    if need_weights:
        torch.testing.assert_close(w, expected_w)
    g_ours, = torch.autograd.grad(out.sum(), x)
    x2 = x.detach().requires_grad_()
    g_theirs, = torch.autograd.grad(theirs(x2, memory, memory, key_padding_mask=padding)[0].sum(), x2)
    torch.testing.assert_close(g_ours, g_theirs)


def test_causal_self_attention_matches_torch_and_ignores_the_future():
    torch.manual_seed(1)
    ours, theirs = MultiHeadAttention(8, 2).double(), nn.MultiheadAttention(8, 2, batch_first=True).double()
    theirs.load_state_dict({"in_proj_weight": ours.in_proj.weight, "in_proj_bias": ours.in_proj.bias,
                            "out_proj.weight": ours.out_proj.weight, "out_proj.bias": ours.out_proj.bias})
    x = torch.randn(3, 7, 8, dtype=torch.float64)
    causal = nn.Transformer.generate_square_subsequent_mask(7, dtype=torch.float64)
    torch.testing.assert_close(ours(x, causal=True)[0], theirs(x, x, x, attn_mask=causal)[0])
    changed = x.clone()
    changed[:, 4:] += 1.0
    torch.testing.assert_close(ours(changed, causal=True)[0][:, :4], ours(x, causal=True)[0][:, :4])


def test_sinusoids_follow_the_paper_formula():
    table = sinusoids(50, 16)
    pos, i = 17, 3
    assert table[pos, 2 * i].item() == pytest.approx(math.sin(pos / 10000 ** (2 * i / 16)), abs=1e-6)
    assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(pos / 10000 ** (2 * i / 16)), abs=1e-6)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_positions_add_a_vector_per_position_and_refuse_over_long_inputs(kind):
    layer = Positions(kind, 8, 4)
    out = layer(torch.zeros(2, 5, 4))
    assert out.shape == (2, 5, 4) and not torch.equal(out[:, 0], out[:, 1])
    assert ("table" in dict(layer.named_parameters())) == (kind == "learned")
    with pytest.raises(ValueError, match="longer than"):
        layer(torch.zeros(1, 9, 4))


def test_decoder_block_is_causal_and_attends_to_its_memory():
    torch.manual_seed(0)
    block = TransformerBlock(8, 2, 16, cross=True).eval()
    x, memory = torch.randn(1, 5, 8), torch.randn(1, 3, 8)
    out = block(x, causal=True, memory=memory, need_weights=True)
    assert out.shape == (1, 5, 8) and block.weights.shape == (1, 2, 5, 3)
    later = x.clone()
    later[:, 3:] = 0
    torch.testing.assert_close(block(later, causal=True, memory=memory)[:, :3], out[:, :3])
    assert not torch.allclose(block(x, causal=True, memory=memory + 1), out)

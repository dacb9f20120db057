"""Hand-derived (delta-rule) backpropagation against torch.autograd, in float64."""

from __future__ import annotations

import pytest
import torch

from neuralab.methods.manual_backprop import DERIVATIVES, Dense, backward, flat, forward, mlp_layers, weight_names
from neuralab.models.mlp.mlp import MLP, MLPConfig

ACTS = tuple(DERIVATIVES)


def random_net(g: torch.Generator, widths: list[int], acts: list[str], bias: bool) -> list[Dense]:
    return [Dense(torch.randn(n_out, n_in, generator=g, dtype=torch.float64).requires_grad_(),
                  torch.randn(n_out, generator=g, dtype=torch.float64).requires_grad_() if bias else None, act)
            for n_in, n_out, act in zip(widths[:-1], widths[1:], acts, strict=True)]


@pytest.mark.parametrize("case", range(24))
def test_gradients_match_autograd_on_random_networks(case):
    g = torch.Generator().manual_seed(case)
    depth = 1 + case % 4
    widths = [int(w) for w in torch.randint(1, 7, (depth + 1,), generator=g)]
    acts = [ACTS[int(i)] for i in torch.randint(0, len(ACTS), (depth,), generator=g)]
    layers = random_net(g, widths, acts, bias=case % 3 != 0)
    x = torch.randn(int(torch.randint(1, 9, (1,), generator=g)), widths[0], generator=g, dtype=torch.float64)
    upstream = torch.randn(len(x), widths[-1], generator=g, dtype=torch.float64)  # an arbitrary dE/da_L

    zs, activations = forward(layers, x)
    (activations[-1] * upstream).sum().backward()  # E = sum(G * a_L) has dE/da_L = G
    manual = backward(layers, [z.detach() for z in zs], [a.detach() for a in activations], upstream)

    for layer, (dw, db) in zip(layers, manual, strict=True):
        torch.testing.assert_close(dw, layer.weight.grad, rtol=0, atol=1e-10)
        if layer.bias is None:
            assert db is None
        else:
            torch.testing.assert_close(db, layer.bias.grad, rtol=0, atol=1e-10)


@pytest.mark.parametrize("activation", ACTS)
def test_gradients_of_the_mlp_model_on_half_squared_error(activation):
    torch.manual_seed(3)
    model = MLP(MLPConfig(in_features=5, hidden=(7, 4), num_classes=3, activation=activation)).double()
    x, y = torch.randn(11, 5, dtype=torch.float64), torch.randn(11, 3, dtype=torch.float64)
    pred = model(x)
    (0.5 * ((y - pred) ** 2).sum(1).mean()).backward()
    layers = mlp_layers(model)
    with torch.no_grad():
        zs, activations = forward(layers, x)
        torch.testing.assert_close(activations[-1], pred.detach(), rtol=0, atol=1e-12)
        manual = backward(layers, zs, activations, (activations[-1] - y) / len(x))
    auto = [(m.weight.grad, m.bias.grad) for m in model.net if isinstance(m, torch.nn.Linear)]
    torch.testing.assert_close(flat(manual), flat(auto), rtol=0, atol=1e-10)


def test_relu_derivative_at_zero_is_zero_as_in_torch():
    z = torch.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    torch.relu(z).sum().backward()
    assert DERIVATIVES["relu"][1](z.detach()).tolist() == z.grad.tolist() == [0.0, 0.0, 1.0]


def test_weights_are_named_in_the_order_of_the_worked_example():
    model = MLP(MLPConfig(in_features=2, hidden=(2,), num_classes=1, activation="identity", bias=False))
    names = weight_names(mlp_layers(model))
    assert names == [("w1", "x1 -> h1"), ("w2", "x2 -> h1"), ("w3", "x1 -> h2"), ("w4", "x2 -> h2"),
                     ("w5", "h1 -> y"), ("w6", "h2 -> y")]
    deeper = weight_names(mlp_layers(MLP(MLPConfig(in_features=1, hidden=(2, 1), num_classes=2))))
    assert [c for _, c in deeper] == ["x1 -> h1.1", "x1 -> h1.2", "h1.1 -> h2.1", "h1.2 -> h2.1", "h2.1 -> y1",
                                      "h2.1 -> y2", "1 -> h1.1", "1 -> h1.2", "1 -> h2.1", "1 -> y1", "1 -> y2"]

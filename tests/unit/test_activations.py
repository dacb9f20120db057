"""Every activation against its formula on a float64 grid (notes 002 sections 2.4 and 2.5)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuralab.errors import UserError
from neuralab.models.mlp.mlp import MLP, MLPConfig
from neuralab.nn.activations import ACTIVATIONS, NON_SATURATING, Maxout, SoftmaxT, make, width_factor

X = torch.linspace(-6, 6, 1201, dtype=torch.float64)  # includes 0 exactly
SELU_LAMBDA, SELU_ALPHA = 1.0507009873554805, 1.6732632423543772  # Klambauer et al. 2017


def sigma(x: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-x))


FORMULAS = {
    "identity": lambda x: x,
    "sigmoid": sigma,
    "tanh": lambda x: (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
    "relu": lambda x: torch.where(x > 0, x, torch.zeros_like(x)),
    "leaky_relu": lambda x: torch.where(x < 0, 0.01 * x, x),
    "prelu": lambda x: torch.where(x < 0, 0.25 * x, x),  # torch's initial alpha
    "elu": lambda x: torch.where(x < 0, 1.0 * (torch.exp(x) - 1), x),
    "selu": lambda x: torch.where(x > 0, SELU_LAMBDA * x, SELU_LAMBDA * SELU_ALPHA * (torch.exp(x) - 1)),
    "swish": lambda x: x * sigma(x),
    "gelu": lambda x: x * 0.5 * (1 + torch.erf(x / math.sqrt(2))),
    "arctan": lambda x: torch.tensor([math.atan(v) for v in x.tolist()], dtype=x.dtype),
    # Maxout applied to pairs (x, x/2): max is x for x >= 0 and x/2 below.
    "maxout": lambda x: torch.maximum(x, x / 2),
}


def apply(name: str, x: torch.Tensor) -> torch.Tensor:
    """The registered activation on a 1-D grid (Maxout sees each x as the pair (x, x/2))."""
    f = make(name).double()
    if name == "maxout":
        return f(torch.stack([x, x / 2], 1))[:, 0]
    return f(x[:, None])[:, 0]


def test_every_registered_activation_has_a_formula_here():
    assert set(FORMULAS) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_its_formula(name):
    torch.testing.assert_close(apply(name, X), FORMULAS[name](X), rtol=1e-12, atol=1e-12)


def test_tanh_is_a_rescaled_sigmoid():
    torch.testing.assert_close(torch.tanh(X), 2 * sigma(2 * X) - 1, rtol=1e-12, atol=1e-12)


def test_relu_is_scale_invariant():
    relu = make("relu")
    for alpha in (0.0, 0.5, 3.0):
        torch.testing.assert_close(relu(alpha * X), alpha * relu(X))


def test_elu_is_alpha_times_exp_minus_one_not_the_notes_erratum():
    """ELU(x) = alpha*(e^x - 1) for x < 0 (erratum 1 of the notes writes alpha*e^x - 1).

    With the default alpha = 1 the two agree, so check another alpha, and continuity at 0, which the
    erratum's form breaks (it tends to alpha - 1 from the left).
    """
    alpha = 2.5
    elu = nn.ELU(alpha).double()
    neg = X[X < 0]
    torch.testing.assert_close(elu(neg), alpha * (torch.exp(neg) - 1))
    assert not torch.allclose(elu(neg), alpha * torch.exp(neg) - 1)
    assert abs(float(elu(torch.tensor([-1e-12], dtype=torch.float64)))) < 1e-9
    assert float(make("elu").double()(torch.tensor([-1e6], dtype=torch.float64))) == pytest.approx(-1.0)


def test_selu_constants():
    selu = make("selu").double()
    assert float(selu(torch.tensor([1.0], dtype=torch.float64))) == pytest.approx(1.0507, abs=1e-4)
    # lim x -> -inf is -lambda * alpha
    assert float(selu(torch.tensor([-50.0], dtype=torch.float64))) == pytest.approx(-SELU_LAMBDA * SELU_ALPHA)


def test_prelu_alpha_is_learned_by_backprop():
    prelu = make("prelu").double()
    alpha = prelu.weight
    assert alpha.requires_grad and float(alpha.detach()) == pytest.approx(0.25)
    x = X.clone()[:, None]
    prelu(x).sum().backward()
    # d/d alpha of sum(alpha * x for x < 0) is the sum of the negative inputs
    assert float(alpha.grad) == pytest.approx(float(X[X < 0].sum()))
    opt = torch.optim.SGD(prelu.parameters(), lr=1e-3)
    opt.step()
    assert float(alpha.detach()) != pytest.approx(0.25)


def test_prelu_in_an_mlp_gets_its_own_alpha_per_layer():
    torch.manual_seed(0)
    model = MLP(MLPConfig(in_features=4, hidden=(16, 16), num_classes=2, activation="prelu"))
    model(torch.randn(64, 4)).sum().backward()
    alphas = [m.weight for m in model.modules() if isinstance(m, nn.PReLU)]
    assert len(alphas) == 2 and all(a.grad is not None and a.grad.abs().sum() > 0 for a in alphas)


def test_maxout_takes_the_max_over_consecutive_pieces():
    torch.manual_seed(0)
    z = torch.randn(4, 6, dtype=torch.float64)
    out = Maxout(pieces=3)(z)
    expected = torch.tensor([[max(row[0:3]), max(row[3:6])] for row in z.tolist()], dtype=torch.float64)
    torch.testing.assert_close(out, expected)
    with pytest.raises(ValueError, match="multiple of 3"):
        Maxout(pieces=3)(torch.randn(2, 4))


def test_maxout_mlp_layer_feeds_pieces_times_units():
    assert width_factor("maxout") == 2 and width_factor("relu") == 1
    model = MLP(MLPConfig(in_features=8, hidden=(5,), num_classes=3, activation="maxout"))
    first = next(m for m in model.modules() if isinstance(m, nn.Linear))
    assert first.out_features == 10 and model(torch.randn(2, 8)).shape == (2, 3)


def test_softmax_temperature_one_is_torch_softmax_and_sums_to_one():
    torch.manual_seed(0)
    z = torch.randn(5, 7, dtype=torch.float64) * 3
    torch.testing.assert_close(SoftmaxT(1.0)(z), torch.softmax(z, -1))
    for t in (0.01, 0.5, 2.0, 100.0):
        p = SoftmaxT(t)(z)
        torch.testing.assert_close(p.sum(-1), torch.ones(5, dtype=torch.float64))
        torch.testing.assert_close(p, torch.softmax(z / t, -1))


def test_softmax_temperature_limits():
    z = torch.tensor([[1.0, 3.0, 2.0, -1.0]], dtype=torch.float64)
    torch.testing.assert_close(SoftmaxT(1e6)(z), torch.full_like(z, 0.25), atol=1e-5, rtol=0)
    torch.testing.assert_close(SoftmaxT(1e-3)(z), torch.tensor([[0.0, 1.0, 0.0, 0.0]], dtype=torch.float64))
    entropies = [float(-(p * p.log()).sum()) for p in (SoftmaxT(t)(z) for t in (0.3, 1.0, 3.0, 10.0))]
    assert entropies == sorted(entropies)  # higher temperature, flatter distribution
    with pytest.raises(ValueError, match="> 0"):
        SoftmaxT(0.0)


def is_non_saturating(name: str) -> bool:
    """Notes 2.5: |lim f(z)| = +inf at z -> -inf or z -> +inf. Growth between 1e3 and 1e6 reveals it."""
    ends = torch.tensor([-1e6, -1e3, 1e3, 1e6], dtype=torch.float64)
    f = apply(name, ends).abs()
    return bool(f[0] > 100 * f[1] or f[3] > 100 * f[2])


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_saturating_classification_follows_the_definition(name):
    assert is_non_saturating(name) == (name in NON_SATURATING)


def test_sigmoid_tanh_and_arctan_saturate():
    assert not ({"sigmoid", "tanh", "arctan"} & NON_SATURATING)


def test_unknown_activation_is_a_user_error():
    with pytest.raises(UserError, match="unknown activation 'sofplus'"):
        make("sofplus")

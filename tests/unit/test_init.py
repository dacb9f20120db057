"""Statistics of every initialisation scheme against its formula (notes 002 section 2.11)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuralab.models.cnn.lenet5 import LeNet5, LeNet5Config
from neuralab.models.mlp.mlp import MLP, MLPConfig
from neuralab.nn.init import INITS, SPARSE_K, apply_init, glorot_bound, init_weight_

FAN_IN, FAN_OUT = 400, 300  # nn.Linear(400, 300): weight (300, 400), 120,000 samples


def layer(scheme: str, nonlinearity: str = "relu", seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    return apply_init(nn.Sequential(nn.Linear(FAN_IN, FAN_OUT)), scheme, nonlinearity)[0].requires_grad_(False)


def test_zeros():
    lin = layer("zeros")
    assert torch.count_nonzero(lin.weight) == 0 and torch.count_nonzero(lin.bias) == 0


def test_standard_normal():
    w = layer("normal").weight
    assert float(w.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(w.std()) == pytest.approx(1.0, rel=0.01)


def test_xavier_uniform_bound_and_std():
    w = layer("xavier_uniform").weight
    bound = math.sqrt(6 / (FAN_IN + FAN_OUT))
    assert glorot_bound(FAN_IN, FAN_OUT) == pytest.approx(bound)
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.99 * bound
    assert float(w.std()) == pytest.approx(bound / math.sqrt(3), rel=0.01)  # std of U(-a, a) is a/sqrt(3)


def test_xavier_normal_std():
    assert float(layer("xavier_normal").weight.std()) == pytest.approx(math.sqrt(2 / (FAN_IN + FAN_OUT)), rel=0.01)


def test_he_normal_and_uniform_std_for_relu():
    target = math.sqrt(2 / FAN_IN)
    assert float(layer("he_normal").weight.std()) == pytest.approx(target, rel=0.01)
    w = layer("he_uniform").weight
    assert float(w.std()) == pytest.approx(target, rel=0.01)
    assert float(w.abs().max()) <= math.sqrt(6 / FAN_IN)


@pytest.mark.parametrize(("nonlinearity", "gain"), [("tanh", 5 / 3), ("sigmoid", 1.0), ("selu", 1.0),
                                                    ("identity", 1.0), ("leaky_relu", math.sqrt(2))])
def test_he_uses_the_activations_gain(nonlinearity, gain):
    assert float(layer("he_normal", nonlinearity).weight.std()) == pytest.approx(gain / math.sqrt(FAN_IN),
                                                                                  rel=0.01)


def test_he_on_a_convolution_counts_the_kernel_in_the_fan_in():
    torch.manual_seed(0)
    conv = apply_init(nn.Sequential(nn.Conv2d(16, 64, 3)), "he_normal")[0]
    assert float(conv.weight.detach().std()) == pytest.approx(math.sqrt(2 / (16 * 9)), rel=0.02)


def test_sparse_gives_exactly_k_normal_weights_per_unit():
    w = layer("sparse").weight
    assert SPARSE_K == 15
    assert (torch.count_nonzero(w, dim=1) == SPARSE_K).all()
    nonzero = w[w != 0]
    assert float(nonzero.std()) == pytest.approx(1.0, rel=0.05)
    # units pick different inputs
    assert len({tuple(torch.nonzero(row).flatten().tolist()) for row in w}) > FAN_OUT - 5


def test_sparse_with_fewer_inputs_than_k_keeps_them_all():
    w = init_weight_(torch.empty(6, 4), "sparse")
    assert torch.count_nonzero(w) == 24


@pytest.mark.parametrize("scheme", [s for s in INITS if s != "default"])
def test_every_named_scheme_zeroes_the_biases(scheme):
    assert torch.count_nonzero(layer(scheme).bias) == 0


def test_default_keeps_torchs_initialisation():
    torch.manual_seed(3)
    reference = nn.Linear(FAN_IN, FAN_OUT)
    lin = layer("default", seed=3)
    assert torch.equal(lin.weight, reference.weight) and torch.equal(lin.bias, reference.bias)
    assert torch.count_nonzero(lin.bias) > 0


def test_unknown_scheme_is_refused():
    with pytest.raises(ValueError, match="unknown init scheme 'glorot'"):
        init_weight_(torch.empty(3, 3), "glorot")


def test_mlp_and_lenet5_configs_select_the_scheme():
    mlp = MLP(MLPConfig(in_features=64, hidden=(32,), init="sparse"))
    first = next(m for m in mlp.modules() if isinstance(m, nn.Linear))
    assert (torch.count_nonzero(first.weight, dim=1) == SPARSE_K).all()
    lenet = LeNet5(LeNet5Config(init="zeros"))
    weights = [m.weight for m in lenet.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert weights and all(torch.count_nonzero(w) == 0 for w in weights)

"""The CD statistics are the gradient of the free-energy difference F(v_data) - F(v_model), by autograd."""

import pytest
import torch

from neuralab.methods.contrastive_divergence import cd_gradients
from neuralab.models.energy.rbm import RBM, RBMConfig


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_cd_statistics_are_the_gradient_of_the_free_energy_difference(visible):
    torch.manual_seed(0)
    rbm = RBM(RBMConfig(7, 5, visible, init_std=0.3)).double()
    v_data = torch.rand(6, 7, dtype=torch.float64)
    v_model = torch.bernoulli(torch.rand(4, 7, dtype=torch.float64))
    (rbm.free_energy(v_data).mean() - rbm.free_energy(v_model).mean()).backward()
    expected = {name: p.grad.clone() for name, p in rbm.named_parameters()}
    with torch.no_grad():
        cd_gradients(rbm, v_data, v_model)
    for name, p in rbm.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], msg=name)

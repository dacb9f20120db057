"""The GAN losses against their formulas, the gradient penalty against hand computations, k discriminator steps per
generator step, sampling refusals and the sample measures (mode coverage, MMD) against worked cases."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from neuralab.contracts import RunContext
from neuralab.data.gaussian_mixture import GaussianRingConfig, build_gaussian_ring, ring_centres
from neuralab.errors import UserError
from neuralab.methods import gan_metrics
from neuralab.methods.adversarial import Adversarial, AdversarialConfig, critic_loss, d_loss, g_loss, gradient_penalty
from neuralab.models.gans.mlp_gan import MLPGAN, MLPGANConfig
from neuralab.viz.gan import raster_points


def _logits(n=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 3 * torch.randn(n, generator=g, dtype=torch.float64), 3 * torch.randn(n, generator=g, dtype=torch.float64)


def test_discriminator_loss_is_the_negated_value_of_the_game():
    real, fake = _logits()
    value = torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean()
    assert d_loss(real, fake).item() == pytest.approx(-value.item(), rel=1e-12)


def test_generator_losses_follow_their_formulas():
    _, fake = _logits()
    d = torch.sigmoid(fake)
    assert g_loss(fake, "minimax").item() == pytest.approx(torch.log(1 - d).mean().item(), rel=1e-12)
    assert g_loss(fake, "non_saturating").item() == pytest.approx(-torch.log(d).mean().item(), rel=1e-12)
    assert g_loss(fake, "wgan_gp").item() == pytest.approx(-fake.mean().item(), rel=1e-12)
    real, _ = _logits(seed=1)
    assert critic_loss(real, fake).item() == pytest.approx((fake.mean() - real.mean()).item(), rel=1e-12)


def test_the_minimax_generator_loss_saturates_where_the_non_saturating_one_does_not():
    """Goodfellow et al.'s reason for -log D(G(z)): when D rejects a sample (logit -8), log(1 - D) is flat."""
    fake = torch.tensor([-8.0], dtype=torch.float64, requires_grad=True)
    (minimax,) = torch.autograd.grad(g_loss(fake, "minimax"), fake)
    (non_saturating,) = torch.autograd.grad(g_loss(fake, "non_saturating"), fake)
    assert abs(minimax.item()) < 1e-3 < abs(non_saturating.item())


class _Critic(nn.Module):
    def __init__(self, linear_only: bool = False) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(3, 5).double(), nn.Linear(5, 1).double()
        self.linear_only = linear_only

    def forward(self, x):
        return self.a(x).sum(1) if self.linear_only else self.b(torch.tanh(self.a(x))).squeeze(1)


def test_gradient_penalty_matches_a_per_example_hand_computation():
    torch.manual_seed(0)
    critic = _Critic()
    real, fake, eps = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64), torch.rand(6)
    expected = []
    for i in range(6):  # one example at a time: x_hat, its gradient, the squared distance of the norm from 1
        x = (eps[i] * real[i] + (1 - eps[i]) * fake[i]).unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        expected.append((g.norm() - 1) ** 2)
    assert gradient_penalty(critic, real, fake, eps).item() == pytest.approx(torch.stack(expected).mean().item(),
                                                                           rel=1e-12)


def test_gradient_penalty_of_a_linear_critic_is_closed_form_and_trains_the_critic():
    """D(x) = sum_j (W x + c)_j has gradient w = W^T 1 everywhere: the penalty is (||w|| - 1)^2 and its gradient
    with respect to W is 2 (||w|| - 1) w^T / ||w|| in every row."""
    torch.manual_seed(1)
    critic = _Critic(linear_only=True)
    penalty = gradient_penalty(critic, torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64),
                               torch.rand(4))
    w = critic.a.weight.sum(0).detach()
    assert penalty.item() == pytest.approx(((w.norm() - 1) ** 2).item(), rel=1e-12)
    penalty.backward()
    expected = (2 * (w.norm() - 1) * w / w.norm()).expand_as(critic.a.weight)
    torch.testing.assert_close(critic.a.weight.grad, expected, rtol=1e-10, atol=1e-12)


def _method(conditional=False, **cfg):
    torch.manual_seed(0)
    data = build_gaussian_ring(GaussianRingConfig(n_train=512, n_test=400, batch_size=64), seed=0)
    model = MLPGAN(MLPGANConfig(in_features=2, num_classes=8, latent_dim=4, g_hidden=(16,), d_hidden=(16,),
                                output="linear", conditional=conditional))
    ctx = RunContext(total_steps=10, device=torch.device("cpu"), seed=0, run_dir=None)
    return Adversarial(AdversarialConfig(eval_samples=200, **cfg), model, data, ctx), data


@pytest.mark.parametrize("loss", ["non_saturating", "wgan_gp"])
def test_each_step_takes_k_discriminator_updates_on_fresh_batches_then_one_generator_update(loss):
    method, data = _method(loss=loss, d_steps=3)
    for _ in range(2):
        method.step(data.next_batch())
    adam_steps = {name: {int(s["step"]) for s in opt.state.values()} for name, opt in
                  (("g", method.opt_g), ("d", method.opt_d))}
    assert adam_steps == {"g": {2}, "d": {6}}  # counted by torch's optimisers themselves
    assert (method.g_updates, method.d_updates) == (2, 6)
    assert data.pos == 6 * 64  # every discriminator update read a batch of its own


def test_a_label_on_an_unconditional_gan_or_out_of_range_is_refused_in_one_line():
    method, _ = _method()
    with pytest.raises(UserError, match="unconditional"):
        method.draw(4, label=3)
    conditional, _ = _method(conditional=True)
    with pytest.raises(UserError, match=r"classes are 0\.\.7"):
        conditional.draw(4, label=8)
    assert conditional.draw(4, label=7).images.shape == (1, 1, 128, 128)  # points are drawn as one picture


def test_evaluation_and_drawing_leave_training_randomness_alone_and_repeat_themselves():
    method, data = _method(conditional=True)
    method.step(data.next_batch())
    before = torch.get_rng_state()
    first = method.evaluate()
    assert torch.equal(torch.get_rng_state(), before)
    assert method.evaluate() == first
    assert torch.equal(method.draw(5, seed=3).images, method.draw(5, seed=3).images)
    assert not torch.equal(method.draw(50, seed=3).images, method.draw(50, seed=4).images)


def test_state_dict_holds_both_players_and_both_optimisers():
    method, data = _method()
    method.step(data.next_batch())
    other, _ = _method()
    other.load_state_dict(copy.deepcopy(method.state_dict()))  # as a checkpoint holds it: no shared tensors
    x = data.next_batch()
    torch.manual_seed(5)
    a = method.step(x)
    torch.manual_seed(5)
    assert other.step(x) == a


def test_mode_coverage_counts_a_collapsed_generator_as_one_mode_and_the_data_as_all():
    data = build_gaussian_ring(GaussianRingConfig(n_train=8, n_test=4000), seed=0)
    modes = gan_metrics.Modes.of(data.x_test, data.y_test, 8)
    torch.testing.assert_close(modes.centres, ring_centres(8, 2.0), atol=0.005, rtol=0)
    assert modes.spreads.sub(0.02).abs().max() < 0.002
    counts, quality = gan_metrics.mode_counts(data.x_test, modes, 3.0)
    assert gan_metrics.modes_covered(counts, 4000, 0.2) == 8 and quality > 0.98  # 3 std in 2-D: 98.9%
    collapsed = ring_centres(8, 2.0)[2] + 0.02 * torch.randn(1000, 2)
    counts, quality = gan_metrics.mode_counts(collapsed, modes, 3.0)
    assert counts.tolist()[2] > 950 and gan_metrics.modes_covered(counts, 1000, 0.2) == 1
    between = torch.zeros(1000, 2)  # the ring's centre: near no mode
    assert gan_metrics.mode_counts(between, modes, 3.0)[1] == 0


def test_mmd_is_zero_for_one_set_and_matches_the_kernel_sums():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(7, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64) + 1

    def k(u, v):
        return math.exp(-float((u - v).pow(2).sum()) / (2 * 1.5 ** 2))

    expected = (sum(k(u, v) for u in a for v in a) / 49 + sum(k(u, v) for u in b for v in b) / 25
                - 2 * sum(k(u, v) for u in a for v in b) / 35)
    assert gan_metrics.mmd2(a, b, 1.5) == pytest.approx(expected, rel=1e-9)
    assert gan_metrics.mmd2(a, a, 1.5) == pytest.approx(0.0, abs=1e-12)


def test_points_are_rastered_where_they_lie_with_y_up():
    image = raster_points(torch.tensor([[1.0, 1.0]]), extent=2.0, size=8)[0, 0]
    dark = (image == 0).nonzero().tolist()
    assert [1, 6] in dark and all(abs(r - 1) <= 1 and abs(c - 6) <= 1 for r, c in dark)  # upper right: row 1, col 6

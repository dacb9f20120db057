"""torch's optimisers are the notes' update rules; every optimiser and schedule name builds and behaves."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from neuralab.build import resolve
from neuralab.errors import UserError
from neuralab.methods.optim import DEFAULT_LR, OPTIMIZERS, SCHEDULES, make_optimizer, make_schedule
from neuralab.registry import RECIPES
from tests.conftest import run_main


def _problem(seed: int = 0):
    """A small float64 MLP regression problem: (model, loss function of the model)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 5, generator=g, dtype=torch.float64)
    y = torch.randn(32, 1, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    return model, lambda m: ((m(x) - y) ** 2).mean()


def _grads(model: nn.Module, loss_fn) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss_fn(model), list(model.parameters())))


@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
def test_torch_momentum_is_the_seed_update_v_gamma_v_plus_eta_grad(gamma):
    """Seed: v = gamma*v + eta*grad; theta -= v. torch keeps b = gamma*b + g and does theta -= eta*b."""
    eta = 0.05
    model, loss_fn = _problem()
    ours = [p.detach().clone() for p in model.parameters()]
    v = [torch.zeros_like(p) for p in ours]
    opt = make_optimizer("momentum", model.parameters(), eta, momentum=gamma)
    shadow, _ = _problem()  # same init: the hand-written rule runs on a copy
    for step in range(20):
        for p, q in zip(shadow.parameters(), ours, strict=True):
            p.data.copy_(q)
        for i, g in enumerate(_grads(shadow, loss_fn)):
            v[i] = gamma * v[i] + eta * g
            ours[i] = ours[i] - v[i]
        opt.zero_grad()
        loss_fn(model).backward()
        opt.step()
        for p, q in zip(model.parameters(), ours, strict=True):
            torch.testing.assert_close(p.detach(), q, rtol=0, atol=1e-13, msg=f"step {step + 1}")
    assert not torch.equal(ours[0], next(_problem()[0].parameters()))  # the parameters did move


def test_torch_momentum_is_the_notes_form_v_alpha_v_minus_eps_grad():
    """Notes 2.12: v <- alpha*v - eps*grad J; theta <- theta + v (the same rule with v negated)."""
    alpha, eps = 0.9, 0.02
    model, loss_fn = _problem(1)
    shadow, _ = _problem(1)
    theta = [p.detach().clone() for p in model.parameters()]
    v = [torch.zeros_like(p) for p in theta]
    opt = torch.optim.SGD(model.parameters(), lr=eps, momentum=alpha)
    for _ in range(20):
        for p, q in zip(shadow.parameters(), theta, strict=True):
            p.data.copy_(q)
        for i, g in enumerate(_grads(shadow, loss_fn)):
            v[i] = alpha * v[i] - eps * g
            theta[i] = theta[i] + v[i]
        opt.zero_grad()
        loss_fn(model).backward()
        opt.step()
    for p, q in zip(model.parameters(), theta, strict=True):
        torch.testing.assert_close(p.detach(), q, rtol=0, atol=1e-13)


def test_torch_nesterov_looks_ahead_along_the_velocity():
    """torch's Nesterov: b = gamma*b + g; theta -= eta*(g + gamma*b)."""
    gamma, eta = 0.9, 0.03
    model, loss_fn = _problem(2)
    shadow, _ = _problem(2)
    theta = [p.detach().clone() for p in model.parameters()]
    b = [torch.zeros_like(p) for p in theta]
    opt = make_optimizer("nesterov", model.parameters(), eta, momentum=gamma)
    for _ in range(20):
        for p, q in zip(shadow.parameters(), theta, strict=True):
            p.data.copy_(q)
        for i, g in enumerate(_grads(shadow, loss_fn)):
            b[i] = gamma * b[i] + g
            theta[i] = theta[i] - eta * (g + gamma * b[i])
        opt.zero_grad()
        loss_fn(model).backward()
        opt.step()
    for p, q in zip(model.parameters(), theta, strict=True):
        torch.testing.assert_close(p.detach(), q, rtol=0, atol=1e-13)


def test_torch_adam_is_the_bias_corrected_update_of_the_notes():
    """Notes 2.13 [STD]: m_hat = m/(1-b1^t), v_hat = v/(1-b2^t), w -= eta*m_hat/(sqrt(v_hat)+eps)."""
    b1, b2, eta, eps = 0.9, 0.999, 0.01, 1e-8
    model, loss_fn = _problem(3)
    shadow, _ = _problem(3)
    w = [p.detach().clone() for p in model.parameters()]
    m = [torch.zeros_like(p) for p in w]
    s = [torch.zeros_like(p) for p in w]
    opt = make_optimizer("adam", model.parameters(), eta)
    for t in range(1, 21):
        for p, q in zip(shadow.parameters(), w, strict=True):
            p.data.copy_(q)
        for i, g in enumerate(_grads(shadow, loss_fn)):
            m[i] = b1 * m[i] + (1 - b1) * g
            s[i] = b2 * s[i] + (1 - b2) * g * g
            m_hat, s_hat = m[i] / (1 - b1**t), s[i] / (1 - b2**t)
            w[i] = w[i] - eta * m_hat / (s_hat.sqrt() + eps)
        opt.zero_grad()
        loss_fn(model).backward()
        opt.step()
    for p, q in zip(model.parameters(), w, strict=True):
        torch.testing.assert_close(p.detach(), q, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_builds_and_reduces_a_loss(name):
    model, loss_fn = _problem(4)
    before = loss_fn(model).item()
    opt = make_optimizer(name, model.parameters(), DEFAULT_LR[name])
    for _ in range(50):
        opt.zero_grad()
        loss_fn(model).backward()
        opt.step()
    after = loss_fn(model).item()
    assert after < 0.9 * before, (name, before, after)


def test_adamw_decay_is_decoupled_and_adam_decay_is_l2_in_the_gradient():
    """With a zero gradient AdamW still shrinks weights by lr*wd; Adam's L2 term goes through the moments."""
    p = nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = make_optimizer("adamw", [p], lr=0.1, weight_decay=0.5)
    p.grad = torch.zeros_like(p)
    opt.step()
    torch.testing.assert_close(p.detach(), torch.full((3,), 1 - 0.1 * 0.5, dtype=torch.float64))
    q = nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = make_optimizer("adam", [q], lr=0.1, weight_decay=0.5)
    q.grad = torch.zeros_like(q)
    opt.step()  # gradient 0.5*q normalised by Adam: a step of size lr
    torch.testing.assert_close(q.detach(), torch.full((3,), 0.9, dtype=torch.float64))


def _lr_curve(name: str, total: int, lr: float = 0.1) -> list[float]:
    """The learning rate used at each of `total` steps."""
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    schedule = make_schedule(name, opt, total)
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        if schedule is not None:
            schedule.step()
    return rates


def test_constant_schedule():
    assert _lr_curve("none", 100) == [0.1] * 100


def test_step_schedule_divides_by_ten_at_half_and_three_quarters():
    rates = _lr_curve("step", 100)
    assert rates[:50] == [pytest.approx(0.1)] * 50
    assert rates[50:75] == [pytest.approx(0.01)] * 25
    assert rates[75:] == [pytest.approx(0.001)] * 25


def test_exponential_schedule_decays_geometrically_to_one_percent():
    rates = _lr_curve("exponential", 100)
    ratios = [b / a for a, b in zip(rates, rates[1:], strict=False)]
    assert max(ratios) == pytest.approx(min(ratios))  # a constant factor per step
    assert rates[-1] * ratios[-1] == pytest.approx(0.1 * 0.01)  # the rate after the last step


def test_cosine_schedule_follows_half_a_cosine_to_zero():
    rates = _lr_curve("cosine", 100)
    for t in (0, 25, 50, 75, 99):
        assert rates[t] == pytest.approx(0.05 * (1 + math.cos(math.pi * t / 100)))
    assert rates[-1] < 1e-4 and all(b <= a for a, b in zip(rates, rates[1:], strict=False))


def test_onecycle_schedule_warms_up_to_lr_then_anneals():
    rates = _lr_curve("onecycle", 100)
    peak = max(range(100), key=rates.__getitem__)
    assert rates[peak] == pytest.approx(0.1)
    assert 25 <= peak <= 35  # 30% of training is warm-up
    assert rates[0] == pytest.approx(0.1 / 25)
    assert rates[-1] < 1e-3 * 0.1


@pytest.mark.parametrize("name", SCHEDULES)
def test_every_schedule_runs_for_its_whole_length(name):
    """Stepping a schedule `total` times must not raise (OneCycleLR does past its planned length), and the
    learning rate stays positive to the last step."""
    rates = _lr_curve(name, 7)
    assert min(rates) > 0


def test_unknown_optimizer_and_schedule_names_are_user_errors():
    with pytest.raises(UserError, match="unknown optimizer 'adamax'"):
        make_optimizer("adamax", [nn.Parameter(torch.zeros(1))], 0.1)
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(UserError, match="unknown schedule 'linear'"):
        make_schedule("linear", opt, 10)


def test_config_rejects_unknown_optimizer_and_schedule_values():
    recipe = RECIPES.get("mlp-digits")
    with pytest.raises(UserError, match=r"--method.optimizer: 'adamax' is not one of sgd, momentum"):
        resolve(recipe, {"method": {"optimizer": "adamax"}})
    with pytest.raises(UserError, match=r"--method.schedule: 'linear' is not one of none, step"):
        resolve(recipe, {"method": {"schedule": "linear"}})


def test_cli_refuses_a_bad_optimizer_with_one_line(tmp_path):
    r = run_main("train", "mlp-digits", "--quiet", "--out", tmp_path / "run", "--method.optimizer", "adamax")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--method.optimizer" in lines[0] and "adamw" in lines[0], r.stderr
    assert not (tmp_path / "run").exists()


def test_adam_moments_restored_in_the_default_layout_continue_channels_last_weights_exactly():
    """make_optimizer fuses Adam's update only for default-layout weights: the fused kernel walks raw storage, so
    moments restored from a checkpoint (default layout) would be paired with the wrong elements of channels-last
    weights. The step after a restore must equal the step of the optimiser that never stopped."""
    torch.manual_seed(0)
    grads = [torch.randn(4, 3, 5, 5).to(memory_format=torch.channels_last) for _ in range(2)]
    weights = []
    for restore in (False, True):
        p = torch.nn.Parameter(torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(1))
                               .to(memory_format=torch.channels_last))
        opt = make_optimizer("adam", [p], 0.1)
        p.grad = grads[0].clone()
        opt.step()
        if restore:
            state = opt.state_dict()
            state["state"][0] = {k: v.contiguous() for k, v in state["state"][0].items()}  # as safetensors gives them
            opt = make_optimizer("adam", [p], 0.1)
            opt.load_state_dict(state)
        p.grad = grads[1].clone()
        opt.step()
        weights.append(p.detach().clone())
    assert torch.equal(weights[0], weights[1])
    plain = make_optimizer("adam", [torch.nn.Parameter(torch.randn(3, 4))], 0.1)
    assert plain.defaults["fused"]  # default-layout weights do take the fused kernel

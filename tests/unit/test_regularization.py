"""Regularisers against their formulas: penalty gradients, max-norm, clipping, dropout and batch norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuralab.config import override
from neuralab.errors import UserError
from neuralab.methods.regularization import clip_gradients_, max_norm_, weight_penalty
from neuralab.models.mlp.mlp import MLP, MLPConfig


def small_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3), nn.Conv1d(3, 4, 2))


def penalty_grads(model: nn.Module, l1: float, l2: float) -> dict[str, torch.Tensor | None]:
    model.zero_grad(set_to_none=True)
    weight_penalty(model, l1, l2).backward()
    return {name: p.grad for name, p in model.named_parameters()}


def test_l1_gradient_is_lambda_sign_w_and_l2_gradient_is_lambda_w():
    model = small_net()
    for name, grad in penalty_grads(model, 0.3, 0.0).items():
        w = dict(model.named_parameters())[name]
        if w.dim() > 1:
            torch.testing.assert_close(grad, 0.3 * torch.sign(w.detach()))
        else:
            assert grad is None, f"bias {name} must not be penalised"
    for name, grad in penalty_grads(model, 0.0, 0.7).items():
        w = dict(model.named_parameters())[name]
        if w.dim() > 1:
            torch.testing.assert_close(grad, 0.7 * w.detach())


def test_elastic_net_is_the_sum_of_both_penalties():
    model = small_net()
    ws = [p for p in model.parameters() if p.dim() > 1]
    expected = sum(0.1 * w.abs().sum() + 0.5 * 0.2 * (w ** 2).sum() for w in ws)
    torch.testing.assert_close(weight_penalty(model, 0.1, 0.2), expected)
    grads = penalty_grads(model, 0.1, 0.2)
    for name, w in model.named_parameters():
        if w.dim() > 1:
            torch.testing.assert_close(grads[name], 0.1 * torch.sign(w.detach()) + 0.2 * w.detach())


def test_max_norm_bounds_every_unit_and_leaves_small_rows_alone():
    model = small_net()
    with torch.no_grad():
        model[0].weight.mul_(10)
        model[0].weight[0] = 0.01  # a row well inside the ball
    before = model[0].weight[0].clone()
    max_norm_(model, 1.5)
    for w in (p for p in model.parameters() if p.dim() > 1):
        norms = w.detach().flatten(1).norm(dim=1)  # one incoming vector per output unit / channel
        assert (norms <= 1.5 + 1e-5).all()
    big = model[0].weight[1:].detach().norm(dim=1)
    torch.testing.assert_close(big, torch.full_like(big, 1.5), atol=1e-4, rtol=0)  # projected onto the sphere
    assert torch.equal(model[0].weight[0].detach(), before)


def test_clip_by_value_caps_entries_and_clip_by_norm_rescales_jointly():
    a, b = nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2))
    a.grad, b.grad = torch.tensor([3.0, -0.1, 0.4]), torch.tensor([-5.0, 0.2])
    clip_gradients_([a, b], 0.0, 0.5)
    torch.testing.assert_close(a.grad, torch.tensor([0.5, -0.1, 0.4]))
    torch.testing.assert_close(b.grad, torch.tensor([-0.5, 0.2]))

    a.grad, b.grad = torch.tensor([3.0, 0.0, 0.0]), torch.tensor([4.0, 0.0])  # joint norm 5
    clip_gradients_([a, b], 1.0, 0.0)
    torch.testing.assert_close(a.grad, torch.tensor([0.6, 0.0, 0.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(b.grad, torch.tensor([0.8, 0.0]), atol=1e-5, rtol=0)

    a.grad, b.grad = torch.tensor([0.3, 0.0, 0.0]), torch.tensor([0.4, 0.0])  # already inside: untouched
    clip_gradients_([a, b], 1.0, 0.0)
    torch.testing.assert_close(a.grad, torch.tensor([0.3, 0.0, 0.0]))


def test_dropout_field_is_the_drop_probability_with_inverted_scaling():
    torch.manual_seed(0)
    net = MLP(MLPConfig(in_features=4000, hidden=(4000,), activation="identity", dropout=0.3, bias=False))
    drop = next(m for m in net.modules() if isinstance(m, nn.Dropout))
    seen = {}
    drop.register_forward_hook(lambda m, i, o: seen.update(inp=i[0].detach(), out=o.detach()))
    net.train()
    net(torch.randn(2, 4000))
    inp, out = seen["inp"], seen["out"]
    dropped = (out == 0) & (inp != 0)
    assert abs(dropped.float().mean().item() - 0.3) < 0.02  # p is the share REMOVED, not kept
    torch.testing.assert_close(out[~dropped], inp[~dropped] / 0.7)  # survivors scaled by 1/(1-p)
    net.eval()
    net(torch.randn(2, 4000))
    assert torch.equal(seen["out"], seen["inp"])  # evaluation: identity


def test_batch_norm_uses_batch_statistics_in_training_and_running_statistics_in_evaluation():
    torch.manual_seed(0)
    net = MLP(MLPConfig(in_features=6, hidden=(5,), batch_norm=True, num_classes=3))
    linear, bn = net.net[1], net.net[2]
    assert isinstance(bn, nn.BatchNorm1d)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2.0)
        bn.bias.uniform_(-1.0, 1.0)
    net.train()
    for _ in range(20):  # move the running averages away from their (0, 1) start
        net(torch.randn(32, 6) * 3 + 1)
    x = torch.randn(16, 6) * 3 + 1
    with torch.no_grad():
        h = linear(x)
        net.train()
        train_bn = bn(h)
        mean, var = h.mean(0), h.var(0, unbiased=False)
        torch.testing.assert_close(train_bn, (h - mean) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias)
        net.eval()
        eval_bn = bn(h)
        manual = (h - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
        torch.testing.assert_close(eval_bn, manual)
        net.train()
        out_train = net(x)
        net.eval()
        out_eval = net(x)
    assert not torch.allclose(out_train, out_eval, atol=1e-3)


@pytest.mark.parametrize("field", ["l1", "l2", "max_norm", "clip_grad_norm", "clip_grad_value"])
def test_negative_regularisation_strength_is_refused_in_one_line(field):
    from neuralab.methods.supervised import SupervisedConfig

    with pytest.raises(UserError, match=rf"--method.{field}: must be >= 0"):
        override(SupervisedConfig(), {field: "-1"}, "method")

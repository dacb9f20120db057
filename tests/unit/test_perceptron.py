"""Perceptron and delta rule by hand: the update equations, no autograd, the pocket, resuming."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from neuralab.build import build, resolve
from neuralab.errors import UserError
from neuralab.methods.delta_rule import least_squares
from neuralab.methods.perceptron import signed_targets
from neuralab.models.linear.threshold_unit import ThresholdUnit, ThresholdUnitConfig
from neuralab.registry import RECIPES


def built(recipe: str, **sections):
    """(model, method, data) of a recipe, built as the engine builds them, with {section: {field: value}}."""
    r = RECIPES.get(recipe)
    run = build(r, resolve(r, sections))
    return run.model, run.method, run.data


def test_threshold_unit_is_a_sign_of_the_net_input_and_takes_no_gradient():
    unit = ThresholdUnit(ThresholdUnitConfig(in_features=2))
    with torch.no_grad():
        unit.weight.copy_(torch.tensor([1.0, -2.0]))
        unit.bias.fill_(0.5)
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.5, 1.0], [0.0, 0.0]])
    assert unit.net_input(x).tolist() == [1.5, -1.5, 0.0, 0.5]
    assert unit(x).tolist() == [1.0, -1.0, -1.0, 1.0]  # a net input of exactly 0 gives -1
    assert not any(p.requires_grad for p in unit.parameters())


def test_perceptron_step_is_rosenblatts_rule_case_by_case():
    model, method, _ = built("perceptron-and", method={"lr": 0.5})
    with torch.no_grad():
        model.weight.copy_(torch.tensor([0.25, -0.5]))
        model.bias.fill_(0.1)
    cases = [  # (x, label): out = sign(w.x + b)
        (torch.tensor([[1.0, 0.0]]), torch.tensor([1])),  # w.x+b = 0.35 > 0: right, no change
        (torch.tensor([[0.0, 1.0]]), torch.tensor([1])),  # -0.4: out -1, t +1 -> dw = +2 eta x
        (torch.tensor([[1.0, 1.0]]), torch.tensor([0])),  # then 1.35: out +1, t -1 -> dw = -2 eta x
    ]
    for x, y in cases:
        w, b = model.weight.clone(), model.bias.clone()
        out = torch.where(x[0] @ w + b > 0, 1.0, -1.0)
        t = signed_targets(y)[0]
        metrics = method.step((x, y))
        torch.testing.assert_close(model.weight, w + 0.5 * (t - out) * x[0], rtol=0, atol=0)
        torch.testing.assert_close(model.bias, b + 0.5 * (t - out), rtol=0, atol=0)
        assert metrics["train/acc"] == float(t == out)
        assert model.weight.grad is None
    assert method.updates == 2


def test_a_batch_adds_the_corrections_made_with_the_weights_at_its_start():
    model, method, data = built("perceptron-xor", data={"batch_size": 4})
    x, y = data.split("train")
    t = signed_targets(y)
    out = torch.where(x @ model.weight + model.bias > 0, 1.0, -1.0)
    w0 = model.weight.clone()
    method.step((x, y))
    torch.testing.assert_close(model.weight, w0 + (t - out) @ x)


def test_perceptron_stops_after_a_pass_without_mistakes():
    model, method, data = built("perceptron-or")
    with torch.no_grad():  # a separating line for OR: x1 + x2 - 0.5 > 0
        model.weight.copy_(torch.tensor([1.0, 1.0]))
        model.bias.fill_(-0.5)
    for _ in range(3):
        method.step(data.next_batch())
        assert not method.done
    method.step(data.next_batch())
    assert method.done and method.converged and method.epochs == 1 and method.updates == 0


def test_pocket_keeps_the_best_weights_and_evaluation_uses_them():
    model, method, data = built("perceptron-xor")
    x, y = data.split("train")
    history, running = [], []
    for _ in range(100):
        method.step(data.next_batch())
        history.append(method.pocket_acc)
        running.append(float((model(x) == signed_targets(y)).float().mean()))
    assert history == sorted(history)  # the pocket only ever improves
    assert method.pocket_acc == 0.75  # the best a line can do on XOR
    first_best = history.index(0.75)
    assert min(running[first_best:]) < 0.75  # the running weights got worse again; the pocket did not
    pocket_out = torch.where(x @ method.pocket_weight + method.pocket_bias > 0, 1.0, -1.0)
    assert float((pocket_out == signed_targets(y)).float().mean()) == 0.75
    metrics = method.evaluate()
    assert metrics["test/acc"] == 0.75 and metrics["train/pocket_acc"] == 0.75
    assert metrics["train/converged"] == 0.0


def test_perceptron_resumes_exactly_from_its_state():
    def run(steps_before, steps_after):
        model, method, data = built("perceptron-xor")
        for _ in range(steps_before):
            method.step(data.next_batch())
        state = copy.deepcopy((method.state_dict(), data.state_dict()))
        model, method, data = built("perceptron-xor")
        method.load_state_dict(state[0])
        data.load_state_dict(state[1])
        for _ in range(steps_after):
            method.step(data.next_batch())
        return model.weight.clone(), method.evaluate()

    w_split, m_split = run(13, 30)
    w_whole, m_whole = run(43, 0)
    assert torch.equal(w_split, w_whole) and m_split == m_whole


def test_linear_unit_rules_refuse_other_models_and_labels():
    as_mlp = replace(RECIPES.get("perceptron-and"), model="mlp", model_config={})
    with pytest.raises(UserError, match="threshold-unit"):
        build(as_mlp, resolve(as_mlp))
    with pytest.raises(UserError, match="classes 0 and 1"):
        built("adaline-and", data={"kind": "blobs", "n": 30})


def test_delta_rule_step_is_minus_eta_times_the_gradient_of_half_the_squared_error():
    model, method, data = built("adaline-or", method={"lr": 0.05})
    x, y = data.split("train")
    w = model.weight.detach().clone().requires_grad_()
    b = model.bias.detach().clone().requires_grad_()
    (0.5 * ((signed_targets(y) - (x @ w + b)) ** 2).sum()).backward()  # the oracle: autograd on J
    method.step((x, y))
    torch.testing.assert_close(model.weight, (w - 0.05 * w.grad).detach())
    torch.testing.assert_close(model.bias, (b - 0.05 * b.grad).detach())


def test_least_squares_of_the_gates():
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    for labels, w, b in (([0, 0, 0, 1], [1.0, 1.0], -1.5), ([0, 1, 1, 1], [1.0, 1.0], -0.5),
                         ([0, 1, 1, 0], [0.0, 0.0], 0.0)):
        w_ls, b_ls = least_squares(x, torch.tensor(labels))
        torch.testing.assert_close(w_ls, torch.tensor(w, dtype=torch.float64), rtol=0, atol=1e-12)
        assert abs(b_ls - b) < 1e-12

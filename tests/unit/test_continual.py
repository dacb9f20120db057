"""Continual learning's parts against their definitions: the permuted and split MNIST task sequences, the diagonal
Fisher information against per-example gradients taken one by one, the EWC quadratic against the per-task sum
of Kirkpatrick et al. (eq. 3) and a case worked by hand, and the replay memory's contents."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuralab.build import build, resolve
from neuralab.data.task_sequence import (
    PermutedMnistConfig,
    SplitMnistConfig,
    build_permuted_mnist,
    build_split_mnist,
    permutation,
)
from neuralab.errors import DataError
from neuralab.methods.continual import Consolidation, diagonal_fisher
from neuralab.registry import RECIPES

SMALL = dict(train_limit=600, test_limit=300, batch_size=32)


@pytest.fixture(scope="module")
def permuted():
    return build_permuted_mnist(PermutedMnistConfig(tasks=3, steps_per_task=4, **SMALL), seed=5)


def test_permuted_tasks_show_the_same_images_with_their_own_fixed_pixel_order(permuted):
    flat_train = permuted.x_train.view(len(permuted.x_train), -1)
    flat_test = permuted.x_test.view(len(permuted.x_test), -1)
    orders = [permuted.tasks[t].permutation for t in range(3)]
    for t, order in enumerate(orders):
        assert torch.equal(order.sort().values, torch.arange(784))  # a bijection of the pixels
        assert torch.equal(order, permutation(5, t))  # fixed by (seed, task)
        x, y = permuted.test_split(t)
        assert torch.equal(x.view(len(x), -1), flat_test[:, order]) and torch.equal(y, permuted.y_test)
    assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    assert not torch.equal(permutation(5, 0), permutation(6, 0))  # another run seed, other tasks
    for t in range(3):  # the training batches: images of the training split in the task's order, labels unchanged
        for _ in range(4):
            x, y, task, _ = permuted.next_batch()
            assert task == t
            rows = (flat_train[:, orders[t]][:, None, :] == x.view(1, len(x), -1)).all(-1)  # (N, B) matches
            assert rows.any(0).all() and torch.equal(permuted.y_train[rows.float().argmax(0)], y)


def test_the_stream_flags_each_tasks_last_batch_covers_an_epoch_and_resumes_exactly():
    data = build_permuted_mnist(PermutedMnistConfig(tasks=2, steps_per_task=25, **SMALL), seed=0)
    assert data.steps_per_epoch == 25
    flags = [(b.task, b.last) for b in (data.next_batch() for _ in range(50))]
    assert [t for t, _ in flags] == [0] * 25 + [1] * 25
    assert [i for i, (_, last) in enumerate(flags) if last] == [24, 49]
    assert data.next_batch().task == 1  # past the sequence: the last task goes on
    data.load_state_dict({"served": 0})
    seen = torch.cat([data.next_batch().y for _ in range(19)])  # 600 examples / 32 = 19 batches: one epoch
    assert len(seen) == 600 and torch.equal(seen.sort().values, data.y_train.sort().values)
    data.load_state_dict({"served": 30})
    again = data.next_batch()
    data.load_state_dict({"served": 0})
    for _ in range(30):
        data.next_batch()
    assert torch.equal(again.x, data.next_batch().x)


@pytest.mark.parametrize("scenario", ["task", "class"])
def test_split_tasks_hold_exactly_their_two_digits(scenario):
    data = build_split_mnist(SplitMnistConfig(tasks=5, steps_per_task=2, scenario=scenario, **SMALL), seed=0)
    masks = data.class_masks()
    for t in range(5):
        pair = {2 * t, 2 * t + 1}
        x, y = data.test_split(t)
        assert set(y.tolist()) == pair and len(y) == sum(int(v) in pair for v in data.y_test)
        assert sum(int(v) in pair for v in data.y_train) == len(data.tasks[t].train)
        for _ in range(2):
            batch = data.next_batch()
            assert batch.task == t and set(batch.y.tolist()) <= pair
        allowed = set(masks[t].nonzero().squeeze(1).tolist())
        assert allowed == (pair if scenario == "task" else set(range(10)))


def test_split_mnist_refuses_more_than_five_tasks():
    with pytest.raises(DataError, match="5 tasks"):
        build_split_mnist(SplitMnistConfig(tasks=6, **SMALL), seed=0)


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4)).double()


@pytest.mark.parametrize("classes", [None, torch.tensor([1, 3])])
def test_diagonal_fisher_matches_per_example_gradients_taken_one_by_one(classes):
    net = _tiny_net()
    x = torch.randn(7, 2, 3, dtype=torch.float64)
    expected = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for xn in x:  # F = 1/N sum_n sum_k p(k|x_n) (grad log p(k|x_n))^2, with plain autograd
        out = net(xn[None])[0]
        logp = (out if classes is None else out[classes]).log_softmax(-1)
        for k in range(len(logp)):
            grads = torch.autograd.grad(logp[k], list(net.parameters()), retain_graph=True)
            for (n, _), g in zip(net.named_parameters(), grads, strict=True):
                expected[n] += logp[k].exp().detach() * g.square() / len(x)
    for max_floats in (1, 10_000):  # one (example, class) pair at a time, or all at once
        got = diagonal_fisher(net, x, classes, max_floats=max_floats)
        assert got.keys() == expected.keys()
        for n in got:
            torch.testing.assert_close(got[n], expected[n], rtol=1e-12, atol=1e-15)
    assert net.training  # the mode it was in is given back


def test_diagonal_fisher_is_zero_for_parameters_outside_the_tasks_outputs():
    net = _tiny_net()
    fisher = diagonal_fisher(net, torch.randn(5, 6, dtype=torch.float64), torch.tensor([0, 2]))
    assert fisher["3.weight"][[1, 3]].abs().max() == 0  # rows of outputs the task never answers with
    assert fisher["3.weight"][[0, 2]].abs().min() > 0


def test_consolidation_equals_the_sum_of_per_task_penalties_in_value_and_gradient():
    net = _tiny_net()
    anchors = []
    for _ in range(3):
        fisher = {n: torch.rand_like(p) * (torch.rand_like(p) > 0.2) for n, p in net.named_parameters()}
        anchors.append((fisher, {n: torch.randn_like(p) for n, p in net.named_parameters()}))
    consolidation = Consolidation()
    for fisher, params in anchors:
        consolidation.add(fisher, params)
    lam = 7.0
    direct = lam / 2 * sum((f[n] * (p - star[n]).square()).sum() for f, star in anchors
                           for n, p in net.named_parameters())
    merged = consolidation.penalty(net, lam)
    torch.testing.assert_close(merged, direct, rtol=1e-12, atol=0)
    g_direct = torch.autograd.grad(direct, list(net.parameters()))
    g_merged = torch.autograd.grad(merged, list(net.parameters()))
    for a, b in zip(g_direct, g_merged, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-14)


def test_ewc_penalty_worked_by_hand():
    """Two tasks on one weight w = 3: F = 2 at w* = 1 and F = 1 at w* = 4, lambda = 1:
    1/2 (2 (3 - 1)^2 + 1 (3 - 4)^2) = 4.5, gradient 2 (3 - 1) + 1 (3 - 4) = 3."""
    net = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        net.weight.fill_(3.0)
    consolidation = Consolidation()
    consolidation.add({"weight": torch.full((1, 1), 2.0, dtype=torch.float64)},
                      {"weight": torch.full((1, 1), 1.0, dtype=torch.float64)})
    consolidation.add({"weight": torch.full((1, 1), 1.0, dtype=torch.float64)},
                      {"weight": torch.full((1, 1), 4.0, dtype=torch.float64)})
    penalty = consolidation.penalty(net, 1.0)
    penalty.backward()
    assert float(penalty.detach()) == pytest.approx(4.5, rel=1e-12) and float(net.weight.grad) == pytest.approx(3.0)


def _method(strategy: str, **method):
    recipe = RECIPES.get(f"{'forgetting' if strategy == 'none' else strategy}-permuted-mnist")
    sections = resolve(recipe, {"run": {"device": "cpu"}, "model": {"hidden": (16,)},
                                "data": dict(tasks=3, steps_per_task=3, **SMALL), "method": method})
    run = build(recipe, sections)
    return run.method, run.data


def test_replay_memory_keeps_a_quota_of_each_finished_task_and_mixes_it_into_batches():
    method, data = _method("replay", replay_per_task=20, replay_batch=8)
    for _ in range(3):
        assert "train/replay_loss" not in method.step(data.next_batch())  # nothing to replay in task 1
    mem = method.memory
    assert len(mem["y"]) == 20 and set(mem["task"].tolist()) == {0}
    flat = data.x_train.view(len(data.x_train), -1)[:, data.tasks[0].permutation]  # task 1's training inputs
    match = (flat[:, None, :] == mem["x"].view(1, 20, -1)).all(-1)  # (N, 20)
    assert match.any(0).all(), "a memory example is not one of task 1's training examples as it showed them"
    assert torch.equal(data.y_train[match.float().argmax(0)], mem["y"])
    assert len(set(match.float().argmax(0).tolist())) == 20  # drawn without replacement
    metrics = method.step(data.next_batch())
    assert "train/replay_loss" in metrics
    for _ in range(2):
        method.step(data.next_batch())
    assert len(method.memory["y"]) == 40 and method.memory["task"].tolist() == [0] * 20 + [1] * 20
    assert torch.equal(method.memory["x"][:20], mem["x"])  # earlier tasks' examples stay
    state = method.state_dict()
    fresh, _ = _method("replay", replay_per_task=20, replay_batch=8)
    fresh.load_state_dict(state)
    assert all(torch.equal(fresh.memory[k], method.memory[k]) for k in mem)


def test_ewc_consolidates_after_each_task_but_the_last_and_the_penalty_pulls_back():
    method, data = _method("ewc", fisher_samples=30, ewc_lambda=50.0)
    for _ in range(3):
        assert "train/ewc_penalty" not in method.step(data.next_batch())
    assert method.consolidation.tasks == 1 and method.tasks_done == 1
    metrics = method.step(data.next_batch())
    assert metrics["train/ewc_penalty"] > 0  # the weights moved away from task 1's
    for _ in range(5):
        method.step(data.next_batch())
    assert method.consolidation.tasks == 2 and method.tasks_done == 3 and method.done
    assert (method.accuracy[:3].diagonal() > 0).all()

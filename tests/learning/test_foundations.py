"""Foundations recipes learn what the curriculum says (F1-F3): perceptron, Adaline, MLP on XOR, worked example."""

from __future__ import annotations

import pytest
import torch

import neuralab
from neuralab.build import build, resolve
from neuralab.methods.perceptron import signed_targets
from neuralab.registry import RECIPES


@pytest.fixture
def keep_threads():
    """Recipes may set torch's thread count for the whole process; put it back afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def run_method(recipe: str, seed: int):
    """Build a recipe as the engine does and step its method until it stops or the run's steps are used."""
    r = RECIPES.get(recipe)
    run = build(r, resolve(r, {"run": {"seed": seed}}))
    total = run.sections["run"].epochs * run.data.steps_per_epoch
    steps = 0
    while steps < total and not run.method.done:
        run.method.step(run.data.next_batch())
        steps += 1
    return run


@pytest.mark.parametrize("gate, max_epochs", [("and", 10), ("or", 6)])
def test_perceptron_converges_on_separable_gates_within_a_few_epochs(gate, max_epochs):
    for seed in range(20):
        method = run_method(f"perceptron-{gate}", seed).method
        assert method.converged and method.epochs <= max_epochs, (seed, method.epochs)
        assert method.evaluate()["test/acc"] == 1.0


def test_perceptron_recipes_through_the_engine(tmp_path):
    for gate in ("and", "or"):
        run = neuralab.train(f"perceptron-{gate}", out=tmp_path / gate)
        assert run.metrics["train/converged"] == 1.0 and run.metrics["test/acc"] == 1.0
        assert run.step == 4 * run.metrics["train/epochs"] < 400  # stopped early, at the end of a clean epoch
        assert all(c["ok"] for c in run.checks.values())
    run = neuralab.train("perceptron-xor", out=tmp_path / "xor")
    assert run.metrics["train/converged"] == 0.0 and run.metrics["train/epochs"] == 100 and run.step == 400
    assert run.metrics["train/errors"] > 0
    assert run.metrics["test/acc"] == 0.75 == run.metrics["train/pocket_acc"]
    assert all(c["ok"] for c in run.checks.values())
    assert "did NOT converge" in run.method.report()
    assert (tmp_path / "xor" / "plots" / "decision_boundary.png").is_file()


def test_perceptron_without_pocket_never_separates_xor():
    r = RECIPES.get("perceptron-xor")
    run = build(r, resolve(r, {"method": {"pocket": False}}))
    x, y = run.data.split("train")
    for _ in range(400):
        run.method.step(run.data.next_batch())
        assert float((run.model(x) == signed_targets(y)).float().mean()) <= 0.75
    assert not run.method.done


@pytest.mark.parametrize("gate", ["and", "or", "xor"])
def test_adaline_reaches_the_least_squares_solution(gate):
    for seed in range(3):
        run = run_method(f"adaline-{gate}", seed)
        assert run.method.done  # stopped by its tolerance, not by the step limit
        x, y = run.data.split("train")
        design = torch.cat([x.double(), torch.ones(4, 1, dtype=torch.float64)], 1)
        oracle = torch.linalg.lstsq(design, (2 * y.double() - 1)[:, None]).solution[:, 0]
        learned = torch.cat([run.model.weight.double(), run.model.bias.double()[None]])
        torch.testing.assert_close(learned, oracle, rtol=0, atol=1e-4)
        acc = run.method.evaluate()["test/acc"]
        assert acc == 1.0 if gate != "xor" else acc <= 0.75


def test_mlp_xor_learns_xor_with_the_default_seed(tmp_path, keep_threads):
    run = neuralab.train("mlp-xor", out=tmp_path)
    assert run.metrics["test/acc"] == 1.0
    assert run.metrics["test/loss"] < 0.05
    x, y = run.data.split("test")
    assert torch.equal((run.model(x).squeeze(-1) > 0).long(), y)


def test_backprop_example_reproduces_the_slides(tmp_path):
    run = neuralab.train("backprop-example", out=tmp_path)
    m = run.metrics
    assert m["example/prediction_before"] == 0.191 and m["example/new_prediction"] == 0.2557
    assert round(m["example/se_before"], 3) == 0.654  # (1 - 0.191)^2 = 0.654481
    assert all(c["ok"] for c in run.checks.values())
    hidden, output = run.model.net[1].weight.detach().double(), run.model.net[3].weight.detach().double()
    # One step of w' = w - 0.05 dE/dw with E = 1/2 (y - yhat)^2, worked out by hand (delta = yhat - y = -0.809).
    torch.testing.assert_close(hidden, torch.tensor([[0.121326, 0.226989], [0.132135, 0.0982025]],
                                                    dtype=torch.float64), rtol=0, atol=1e-6)
    torch.testing.assert_close(output, torch.tensor([[0.1743825, 0.169416]], dtype=torch.float64),
                               rtol=0, atol=1e-6)
    with torch.no_grad():
        new_prediction = float(run.model(torch.tensor([[2.0, 3.0]])))
    assert abs(new_prediction - 0.2557459) < 1e-6
    report = run.method.report()
    for text in ("0.191000", "0.654481", "0.121326", "0.226989", "0.132135", "0.098202", "0.174383", "0.169416",
                 "0.255746", "E = 1/2 (y - yhat)^2"):
        assert text in report

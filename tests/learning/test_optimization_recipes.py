"""The optimisation recipes through the engine: they learn, are deterministic, resume exactly and explain
bad settings in one line."""

from __future__ import annotations

import pytest
import torch

import neuralab
from neuralab.build import build, resolve
from neuralab.errors import UserError
from neuralab.experiments.second_order_logreg import SOLVERS, SecondOrderLogreg, SecondOrderLogregConfig
from neuralab.methods.optim import OPTIMIZERS
from neuralab.models.mlp.mlp import MLP, MLPConfig
from neuralab.registry import DATA, RECIPES
from tests.conftest import assert_png_drawn

SHORT = {"run": {"steps": 46, "eval_every": 23}}  # two epochs of digits at batch 64


def test_optimizers_compare_trains_every_optimizer_and_reports_them(tmp_path):
    run = neuralab.train("optimizers-compare", SHORT, out=tmp_path / "a")
    report = run.method.report()
    rows = [line for line in report.splitlines() if line.startswith("| ") and not line.startswith("| optimiser")]
    assert [row.split("|")[1].strip() for row in rows] == list(OPTIMIZERS)
    for name in OPTIMIZERS:  # every optimiser learned something from ln(10) = 2.30 at the start
        assert run.metrics[f"{name}/train/loss"] < 2.0, name
        assert run.metrics[f"{name}/test/acc"] > 0.5, name
    accs = [run.metrics[f"{name}/test/acc"] for name in OPTIMIZERS]
    assert run.metrics["compare/test/best_acc"] == max(accs) and run.metrics["compare/test/worst_acc"] == min(accs)
    assert_png_drawn(tmp_path / "a" / "plots" / "optimizers.png")


def test_optimizers_compare_copies_start_from_the_same_weights():
    recipe = RECIPES.get("optimizers-compare")
    models = list(build(recipe, resolve(recipe)).method.sweep.networks.values())
    assert len(models) == len(OPTIMIZERS)
    for model in models[1:]:
        for p, q in zip(models[0].parameters(), model.parameters(), strict=True):
            assert torch.equal(p, q) and p.data_ptr() != q.data_ptr()


def test_optimizers_compare_is_deterministic(tmp_path):
    """Two runs from the same seed agree bit for bit (resuming is covered by tests/contract/test_recipes.py)."""
    a = neuralab.train("optimizers-compare", SHORT, out=tmp_path / "a")
    b = neuralab.train("optimizers-compare", SHORT, out=tmp_path / "b")
    assert {k: v for k, v in b.metrics.items() if k != "time/seconds"} == \
           {k: v for k, v in a.metrics.items() if k != "time/seconds"}
    assert b.method.smoothed == a.method.smoothed and b.method.reached == a.method.reached
    for name in OPTIMIZERS:
        pairs = zip(a.method.sweep.networks[name].parameters(), b.method.sweep.networks[name].parameters(), strict=True)
        for pa, pb in pairs:
            assert torch.equal(pa, pb), name


def test_optimizers_compare_rejects_unknown_or_repeated_optimizers(tmp_path):
    with pytest.raises(UserError, match="--method.optimizers: unknown adamax"):
        neuralab.train("optimizers-compare", {"method": {"optimizers": "sgd,adamax"}}, out=tmp_path / "a")
    with pytest.raises(UserError, match="--method.optimizers: sgd given more than once"):
        neuralab.train("optimizers-compare", {"method": {"optimizers": "sgd,sgd"}}, out=tmp_path / "b")


def test_second_order_recipe_orders_the_solvers_and_meets_its_expectations(tmp_path):
    """With l2 = 0.1 (condition number about 60) gradient descent needs hundreds, not thousands, of steps."""
    run = neuralab.train("second-order-logreg", {"method": {"l2": 0.1}}, out=tmp_path / "a")
    m = run.metrics
    assert all(c["ok"] for c in run.checks.values()), run.checks
    its = {name: m[f"{name}/iterations"] for name in SOLVERS}
    assert its["newton"] <= 10 and its["hessian-free"] <= 15
    assert its["newton"] < its["lbfgs"] < its["gd"] and its["nesterov"] < its["gd"], its
    assert m["compare/max_weight_error"] <= 1e-4
    accs = {m[f"{name}/test/acc"] for name in SOLVERS}
    assert accs == {m["optimum/test/acc"]} and m["optimum/test/acc"] > 0.85  # one optimum, one classifier
    newton = run.method.solvers["newton"]
    assert newton.objective.counts["hessians"] == newton.iterations
    assert run.method.solvers["hessian-free"].objective.counts["hessians"] == 0
    assert run.method.solvers["hessian-free"].objective.counts["hvps"] > 0
    report = run.method.report()
    assert all(f"| {name} |" in report for name in SOLVERS)
    assert_png_drawn(tmp_path / "a" / "plots" / "convergence.png")
    # The model holds the first solver's (Newton's) solution.
    model_theta = torch.cat([p.detach().flatten() for p in run.model.parameters()]).double()
    assert torch.allclose(model_theta, run.method.theta_star, atol=1e-5)


def test_second_order_refuses_a_non_convex_model_and_unknown_solvers(tmp_path):
    data = DATA.get("digits").build(RECIPES.get("second-order-logreg").sections()["data"], 0)
    with pytest.raises(UserError, match="needs the logistic-regression model"):
        SecondOrderLogreg(SecondOrderLogregConfig(), MLP(MLPConfig(in_features=64)), data, None)
    with pytest.raises(UserError, match="--method.solvers: unknown adam"):
        neuralab.train("second-order-logreg", {"method": {"solvers": "newton,adam"}}, out=tmp_path / "a")
    with pytest.raises(UserError, match="every training label falls in one class"):
        neuralab.train("second-order-logreg", {"method": {"positive_from": 10}}, out=tmp_path / "b")

"""Second-order methods against oracles: HVPs against the explicit Hessian, CG against a dense solve,
Newton's quadratic convergence, and every solver at one optimum."""

from __future__ import annotations

import math

import pytest
import torch

from neuralab import checkpoint
from neuralab.experiments.second_order_logreg import logistic_objective
from neuralab.methods.second_order import (
    LBFGS,
    GradientDescent,
    HessianFree,
    Nesterov,
    Newton,
    conjugate_gradient,
    hvp,
)
from neuralab.models.linear.logistic import LogisticRegression, LogisticRegressionConfig

F64 = torch.float64


def _logistic(l2: float = 0.05, n: int = 200, d: int = 6, seed: int = 0):
    """A small L2-regularised logistic regression on separable-ish Gaussian data: (f, P)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    w = torch.randn(d, generator=g, dtype=F64)
    y = ((x @ w + 0.5 * torch.randn(n, generator=g, dtype=F64)) > 0).to(F64)
    model = LogisticRegression(LogisticRegressionConfig(in_features=d))
    return logistic_objective(model, x, y, l2), d + 1


def _quadratic(eigenvalues: list[float], seed: int = 0):
    """f(theta) = 1/2 theta.A theta - b.theta with A = Q diag(eigenvalues) Q^T: (f, A, b)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=g, dtype=F64))
    a = q @ torch.diag(torch.tensor(eigenvalues, dtype=F64)) @ q.T
    b = torch.randn(len(eigenvalues), generator=g, dtype=F64)
    return (lambda t: 0.5 * t @ a @ t - b @ t), a, b


def _run(solver, f, tol: float = 1e-10, max_iter: int = 20000) -> int:
    """Iterations until |grad f| <= tol."""
    while solver.iterations < max_iter:
        point = solver.theta.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(point), point)
        if g.norm() <= tol:
            return solver.iterations
        solver.step()
    raise AssertionError(f"{type(solver).__name__} did not converge in {max_iter} iterations")


def test_hvp_equals_the_explicit_hessian_times_v():
    f, p = _logistic()
    g = torch.Generator().manual_seed(1)
    theta = torch.randn(p, generator=g, dtype=F64)
    hessian = torch.autograd.functional.hessian(f, theta)  # oracle: the dense Hessian by double backward
    for _ in range(3):
        v = torch.randn(p, generator=g, dtype=F64)
        torch.testing.assert_close(hvp(f, theta, v), hessian @ v, rtol=1e-12, atol=1e-14)


def test_hvp_of_a_non_quadratic_function_is_exact_not_a_finite_difference():
    """f = sum(sin(theta) * theta^3): H is diagonal with known entries; an exact HVP matches to rounding."""
    def f(t):
        return (torch.sin(t) * t**3).sum()

    theta = torch.linspace(-2, 2, 7, dtype=F64)
    v = torch.arange(1.0, 8.0, dtype=F64)
    diag = -torch.sin(theta) * theta**3 + 6 * torch.cos(theta) * theta**2 + 6 * torch.sin(theta) * theta
    torch.testing.assert_close(hvp(f, theta, v), diag * v, rtol=1e-14, atol=1e-13)


def test_conjugate_gradient_matches_a_dense_solve_within_p_products():
    g = torch.Generator().manual_seed(2)
    m = torch.randn(12, 12, generator=g, dtype=F64)
    a = m @ m.T + 0.5 * torch.eye(12, dtype=F64)  # symmetric positive definite
    b = torch.randn(12, generator=g, dtype=F64)
    x, products = conjugate_gradient(lambda v: a @ v, b, tol=1e-10, max_iter=100)
    torch.testing.assert_close(x, torch.linalg.solve(a, b), rtol=1e-8, atol=1e-9)
    assert products <= 12 + 2  # exact arithmetic: at most P; a little slack for rounding


def test_conjugate_gradient_stops_at_the_tolerance_and_at_max_iter():
    _, a, b = _quadratic(torch.logspace(0, 2, 200, dtype=F64).tolist())
    x, k = conjugate_gradient(lambda v: a @ v, b, tol=1e-2 * b.norm(), max_iter=500)
    assert (b - a @ x).norm() <= 1e-2 * b.norm() and k < 60  # about sqrt(kappa)/2 ln(2/1e-2) = 27
    x, k = conjugate_gradient(lambda v: a @ v, b, tol=0.0, max_iter=2)
    assert k == 2 and (b - a @ x).norm() > 1e-6


def test_cg_on_two_distinct_eigenvalues_needs_two_products():
    """CG ends after as many steps as A has distinct eigenvalues."""
    _, a, b = _quadratic([2.0, 2.0, 2.0, 7.0, 7.0, 7.0])
    _, k = conjugate_gradient(lambda v: a @ v, b, tol=1e-10, max_iter=6)
    assert k == 2


def test_newton_solves_a_quadratic_in_one_step():
    f, a, b = _quadratic([1.0, 10.0, 1000.0])
    newton = Newton(f, torch.zeros(3, dtype=F64))
    newton.step()
    torch.testing.assert_close(newton.theta, torch.linalg.solve(a, b), rtol=1e-10, atol=1e-12)


def test_newton_converges_quadratically_on_logistic_regression():
    f, p = _logistic(l2=1e-3)
    reference = Newton(f, torch.zeros(p, dtype=F64))
    for _ in range(30):
        reference.step()
    f_star = float(f(reference.theta))
    newton = Newton(f, torch.zeros(p, dtype=F64))
    errors = []
    while len(errors) < 10:
        errors.append(float((newton.theta - reference.theta).norm()))
        if float(f(newton.theta)) - f_star <= 1e-10:
            break
        newton.step()
    assert float(f(newton.theta)) - f_star <= 1e-10 and newton.iterations <= 10, errors
    # Quadratic: once close, each error is at most a constant times the square of the previous one.
    close = [e for e in errors if e < 0.1]
    ratios = [b / a**2 for a, b in zip(close, close[1:], strict=False) if a > 1e-7]
    assert ratios and max(ratios) < 10, errors


@pytest.mark.parametrize("make", [
    lambda f, t0, lr, mom: Newton(f, t0),
    lambda f, t0, lr, mom: HessianFree(f, t0),
    lambda f, t0, lr, mom: LBFGS(f, t0),
    lambda f, t0, lr, mom: Nesterov(f, t0, lr, mom),
    lambda f, t0, lr, mom: GradientDescent(f, t0, lr),
], ids=["newton", "hessian-free", "lbfgs", "nesterov", "gd"])
def test_every_solver_reaches_the_same_optimum(make):
    f, p = _logistic(l2=0.05)
    t0 = torch.zeros(p, dtype=F64)
    reference = Newton(f, t0)
    for _ in range(30):
        reference.step()
    lipschitz = float(torch.linalg.eigvalsh(torch.func.hessian(f)(t0))[-1])  # curvature is largest at 0
    kappa = lipschitz / 0.05
    solver = make(f, t0, 1 / lipschitz, (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1))
    _run(solver, f, tol=1e-9)
    torch.testing.assert_close(solver.theta, reference.theta, rtol=0, atol=1e-6)


def test_iterations_order_newton_then_lbfgs_then_gradient_descent():
    f, p = _logistic(l2=0.03)
    t0 = torch.zeros(p, dtype=F64)
    lipschitz = float(torch.linalg.eigvalsh(torch.func.hessian(f)(t0))[-1])
    its = {name: _run(solver, f, tol=1e-8) for name, solver in {
        "newton": Newton(f, t0), "lbfgs": LBFGS(f, t0), "gd": GradientDescent(f, t0, 1 / lipschitz)}.items()}
    assert its["newton"] <= 10 and its["newton"] < its["lbfgs"] < its["gd"], its


def test_condition_number_slows_gradient_descent_not_newton():
    """Notes 2.15 experiment: GD needs about kappa times more iterations, momentum about sqrt(kappa), Newton 1."""
    its = {}
    for kappa in (10.0, 100.0):
        f, _, _ = _quadratic(list(torch.logspace(0, math.log10(kappa), 8, dtype=F64)))
        t0 = torch.zeros(8, dtype=F64)
        momentum = (math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1)
        its[kappa] = {"gd": _run(GradientDescent(f, t0, 1 / kappa), f, 1e-8),
                      "nesterov": _run(Nesterov(f, t0, 1 / kappa, momentum), f, 1e-8),
                      "newton": _run(Newton(f, t0), f, 1e-8)}
    assert its[10.0]["newton"] == its[100.0]["newton"] == 1
    gd_ratio = its[100.0]["gd"] / its[10.0]["gd"]
    nesterov_ratio = its[100.0]["nesterov"] / its[10.0]["nesterov"]
    assert 6 < gd_ratio < 14, its
    assert 1.5 < nesterov_ratio < 6 and its[100.0]["nesterov"] < its[100.0]["gd"] / 4, its


def test_lbfgs_does_not_count_the_point_torch_evaluates_twice():
    f, a, b = _quadratic([1.0, 4.0, 9.0])
    solver = LBFGS(f, torch.zeros(3, dtype=F64))
    solver.step()
    first = solver.objective.counts["grads"]
    solver.step()
    # Every call re-evaluates its starting point, which the previous line search already evaluated.
    assert first >= 2 and solver.objective.counts["grads"] - first < first + 1
    _run(solver, f, tol=1e-10)
    torch.testing.assert_close(solver.theta, torch.linalg.solve(a, b), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", ["newton", "hessian-free", "lbfgs", "nesterov", "gd"])
def test_solver_checkpoint_round_trip_continues_bit_identically(name, tmp_path):
    f, p = _logistic(l2=0.01)
    t0 = torch.zeros(p, dtype=F64)
    build = {"newton": lambda: Newton(f, t0), "hessian-free": lambda: HessianFree(f, t0),
             "lbfgs": lambda: LBFGS(f, t0), "nesterov": lambda: Nesterov(f, t0, 0.1, 0.9),
             "gd": lambda: GradientDescent(f, t0, 0.1)}[name]
    straight, resumed = build(), build()
    for _ in range(3):
        straight.step()
        resumed.step()
    checkpoint.save(tmp_path, 3, {"solver": resumed.state_dict()})  # tensors -> safetensors, rest -> JSON
    resumed = build()
    resumed.load_state_dict(checkpoint.load(tmp_path)[1]["solver"])
    for _ in range(3):
        straight.step()
        resumed.step()
    assert torch.equal(straight.theta, resumed.theta)
    assert straight.objective.counts == resumed.objective.counts and straight.iterations == resumed.iterations == 6

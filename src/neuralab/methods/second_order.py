"""Second-order optimisation on a flat parameter vector (notes 002 section 2.15): Newton's method with the
exact Hessian, Hessian-free (truncated) Newton (Martens, "Deep learning via Hessian-free optimization",
2010), L-BFGS (Liu and Nocedal, "On the limited memory BFGS method for large scale optimization", 1989)
and, as baselines, gradient descent and Nesterov momentum.

Hessian-free never forms H. The notes (erratum 18) describe it as finite differences; it is not: the
product H v is exact, the derivative of the gradient along v (forward-over-reverse autodiff,
`torch.func.jvp` of `torch.func.grad`), at the cost of about two gradients, and the linear conjugate
gradient method below solves H d = -g with those products alone. Martens adds Gauss-Newton curvature and
damping to cope with non-convex nets; on a convex problem the Hessian itself is positive definite and
plain truncated Newton is enough (CG stops at a relative residual min(0.5, sqrt|g|), Nocedal and Wright
chapter 7, which keeps the convergence superlinear).

Every solver owns its parameter vector `theta` and counts what it asked of the objective (values,
gradients, Hessian-vector products, full Hessians), so iterations and work can be compared.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch

Objective = Callable[[torch.Tensor], torch.Tensor]  # flat parameters (P,) -> scalar loss


def value_and_grad(f: Objective, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(f(theta), grad f(theta)) by reverse-mode autograd (cheaper per call than torch.func here)."""
    point = theta.detach().requires_grad_(True)
    value = f(point)
    (grad,) = torch.autograd.grad(value, point)
    return float(value.detach()), grad


def hvp(f: Objective, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Hessian-vector product H(theta) v, exact, without forming H: d/dt grad f(theta + t v) at t = 0."""
    return torch.func.jvp(torch.func.grad(f), (theta,), (v,))[1]


def conjugate_gradient(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, tol: float,
                       max_iter: int) -> tuple[torch.Tensor, int]:
    """Solve A x = b for symmetric positive definite A given only x -> A x; stop when |b - A x| <= tol.

    Returns (x, number of products with A). Each step minimises the quadratic 1/2 x.A x - b.x exactly
    along a direction A-conjugate to all previous ones (Hestenes and Stiefel 1952).
    """
    x = torch.zeros_like(b)
    r = b.clone()  # residual b - A x
    p = r.clone()
    rr = r @ r
    for k in range(max_iter):
        if math.sqrt(float(rr)) <= tol:
            return x, k
        ap = matvec(p)
        alpha = rr / (p @ ap)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, max_iter


class Counted:
    """An objective that counts the values, gradients, Hessian-vector products and Hessians asked of it."""

    KINDS = ("values", "grads", "hvps", "hessians")

    def __init__(self, f: Objective) -> None:
        self.f = f
        self.counts = dict.fromkeys(self.KINDS, 0)

    @torch.no_grad()
    def value(self, theta: torch.Tensor) -> float:
        self.counts["values"] += 1
        return float(self.f(theta))

    def value_and_grad(self, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
        self.counts["grads"] += 1
        return value_and_grad(self.f, theta)

    def hvp(self, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        self.counts["hvps"] += 1
        return hvp(self.f, theta, v)

    def hessian(self, theta: torch.Tensor) -> torch.Tensor:
        self.counts["hessians"] += 1
        return torch.func.hessian(self.f)(theta)


def backtracking(objective: Counted, theta: torch.Tensor, value: float, grad: torch.Tensor,
                 direction: torch.Tensor, c: float = 1e-4) -> float:
    """Largest step t in 1, 1/2, 1/4... with f(theta + t d) <= f(theta) + c t g.d (Armijo).

    A slack of a few rounding errors of f lets the full step through once the predicted decrease is
    below what float64 can resolve, so Newton's last, quadratically convergent steps are not cut.
    """
    slope = float(grad @ direction)
    slack = 8 * torch.finfo(theta.dtype).eps * max(1.0, abs(value))
    t = 1.0
    while objective.value(theta + t * direction) > value + c * t * slope + slack and t > 1e-10:
        t /= 2
    return t


class Solver(ABC):
    """One iterative method on f from theta0; `step()` does one iteration."""

    name = ""

    def __init__(self, f: Objective, theta0: torch.Tensor) -> None:
        self.objective = Counted(f)
        self.theta = theta0.detach().clone()
        self.iterations = 0

    def step(self) -> None:
        self._step()
        self.iterations += 1

    @abstractmethod
    def _step(self) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta, "iterations": self.iterations, "counts": dict(self.objective.counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.theta = state["theta"].clone()
        self.iterations = int(state["iterations"])
        self.objective.counts = {k: int(v) for k, v in state["counts"].items()}


class Newton(Solver):
    """theta <- theta - t H^-1 g with the exact Hessian (torch.func.hessian) and a dense solve: O(P^2) memory."""

    name = "newton"

    def _step(self) -> None:
        value, grad = self.objective.value_and_grad(self.theta)
        direction = torch.linalg.solve(self.objective.hessian(self.theta), -grad)
        self.theta = self.theta + backtracking(self.objective, self.theta, value, grad, direction) * direction


class HessianFree(Solver):
    """Truncated Newton: CG on H d = -g with Hessian-vector products only, then a backtracking step."""

    name = "hessian-free"

    def __init__(self, f: Objective, theta0: torch.Tensor, max_cg: int = 0) -> None:
        super().__init__(f, theta0)
        self.max_cg = max_cg or theta0.numel()  # exact arithmetic CG ends within P products
        self.cg_iterations = 0

    def _step(self) -> None:
        value, grad = self.objective.value_and_grad(self.theta)
        gnorm = float(grad.norm())
        theta = self.theta
        direction, k = conjugate_gradient(lambda v: self.objective.hvp(theta, v), -grad,
                                          min(0.5, math.sqrt(gnorm)) * gnorm, self.max_cg)
        self.cg_iterations += k
        self.theta = theta + backtracking(self.objective, theta, value, grad, direction) * direction

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "cg_iterations": self.cg_iterations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.cg_iterations = int(state["cg_iterations"])


class _TorchSolver(Solver):
    """A solver whose update is a torch.optim optimiser acting on `theta` as a leaf tensor."""

    def __init__(self, f: Objective, theta0: torch.Tensor) -> None:
        super().__init__(f, theta0)
        self.param = self.theta.clone().requires_grad_(True)
        self.theta = self.param.detach()  # a view: always the optimiser's current point
        self.optimizer = self._make_optimizer()

    @abstractmethod
    def _make_optimizer(self) -> torch.optim.Optimizer: ...

    def _closure(self) -> torch.Tensor:
        value, grad = self.objective.value_and_grad(self.param.detach())
        self.param.grad = grad
        return torch.tensor(value, dtype=grad.dtype)

    def _step(self) -> None:
        self.optimizer.step(self._closure)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            self.param.copy_(state["theta"])
        self.theta = self.param.detach()
        self.optimizer.load_state_dict(state["optimizer"])


class GradientDescent(_TorchSolver):
    """theta <- theta - lr g (torch.optim.SGD)."""

    name = "gd"

    def __init__(self, f: Objective, theta0: torch.Tensor, lr: float) -> None:
        self.lr = lr
        super().__init__(f, theta0)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.SGD([self.param], lr=self.lr)


class Nesterov(_TorchSolver):
    """Nesterov's accelerated gradient (torch.optim.SGD with nesterov=True)."""

    name = "nesterov"

    def __init__(self, f: Objective, theta0: torch.Tensor, lr: float, momentum: float) -> None:
        self.lr, self.momentum = lr, momentum
        super().__init__(f, theta0)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.SGD([self.param], lr=self.lr, momentum=self.momentum, nesterov=True)


class LBFGS(_TorchSolver):
    """torch.optim.LBFGS, one iteration per step, with a strong-Wolfe line search.

    torch evaluates the objective at the start of every `step()` call, a point its line search has
    already evaluated; the closure remembers the last point so that repeat is neither recomputed nor counted.

    Near the optimum the decrease a step promises, about |g|^2 / L, falls below what float64 resolves of
    f (eps |f|): the strong-Wolfe search then finds no acceptable point and leaves theta where it was, and
    every later call would repeat the same search forever. Whether that happens at |g| = 1e-9 or 1e-10
    depends on the last bits of f, which differ between CPUs (AVX2 or AVX-512 kernels sum in other
    orders). So a step that does not move takes the unit quasi-Newton step instead, without a line
    search: at that distance from the optimum it is the superlinearly convergent step (as Newton's
    backtracking accepts a full step within rounding of f).
    """

    name = "lbfgs"

    def __init__(self, f: Objective, theta0: torch.Tensor, history_size: int = 10) -> None:
        self.history_size = history_size
        self._last: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # (theta, value, grad)
        super().__init__(f, theta0)

    def _make_optimizer(self) -> torch.optim.Optimizer:
        # Tolerances 0: the caller decides convergence; torch's own tests would stop it silently. max_eval
        # bounds the evaluations of one step() call, line search included: 1 at the start + up to 25 there.
        return torch.optim.LBFGS([self.param], lr=1.0, max_iter=1, max_eval=26, history_size=self.history_size,
                                 tolerance_grad=0.0, tolerance_change=0.0, line_search_fn="strong_wolfe")

    def _step(self) -> None:
        before = self.param.detach().clone()
        super()._step()
        if torch.equal(before, self.param.detach()):  # the line search could not resolve a decrease
            group = self.optimizer.param_groups[0]
            group["line_search_fn"] = None
            try:
                super()._step()
            finally:
                group["line_search_fn"] = "strong_wolfe"

    def _closure(self) -> torch.Tensor:
        point = self.param.detach()
        if self._last is None or not torch.equal(self._last[0], point):
            value = super()._closure()
            self._last = (point.clone(), value, self.param.grad.clone())
        self.param.grad = self._last[2].clone()
        return self._last[1]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "last": self._last}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._last = None if state["last"] is None else tuple(t.clone() for t in state["last"])

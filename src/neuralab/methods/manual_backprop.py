"""Backpropagation derived by hand (Rumelhart, Hinton & Williams, "Learning representations by
back-propagating errors", 1986), in the delta form of COMP5329's "Backpropagation summary" (curriculum F3).

For a fully connected net z_l = W_l a_{l-1} + b_l, a_l = f_l(z_l), a_0 = x, and an error E(a_L):

    delta_L = f_L'(z_L) * dE/da_L
    delta_l = f_l'(z_l) * W_{l+1}^T delta_{l+1}
    dE/dW_l = delta_l a_{l-1}^T,      dE/db_l = delta_l

(* is the element-wise product). Here every quantity carries a leading batch dimension and the per-example
outer products are summed by one matrix product, so there is no loop over examples. `tests/unit/
test_manual_backprop.py` checks these gradients against torch.autograd to 1e-10 in float64.

The `manual-backprop` method trains the `mlp` model with these gradients by plain gradient descent on
E = 1/2 sum_k (y_k - yhat_k)^2 (averaged over the batch). The 1/2 makes dE/dyhat = yhat - y: it is the
convention of the worked example of curriculum F3 (recipe `backprop-example`), whose slides print the
squared error (y - yhat)^2 but update with its half's gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.models.mlp.mlp import MLP
from neuralab.registry import register_method

# Each activation as (f, f') with f' written in terms of z; relu'(0) = 0, as torch's own backward.
DERIVATIVES = {
    "identity": (lambda z: z, torch.ones_like),
    "sigmoid": (torch.sigmoid, lambda z: torch.sigmoid(z) * (1 - torch.sigmoid(z))),
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
}


@dataclass
class Dense:
    """One fully connected layer: weight (out, in), bias (out,) or None, and its activation's name."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    activation: str


def forward(layers: list[Dense], x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """x (B, n_0) -> pre-activations z_1..z_L and activations a_0..a_L, each (B, n_l)."""
    zs, activations = [], [x]
    for layer in layers:
        z = activations[-1] @ layer.weight.T  # (B, n_l)
        if layer.bias is not None:
            z = z + layer.bias
        zs.append(z)
        activations.append(DERIVATIVES[layer.activation][0](z))
    return zs, activations


def backward(layers: list[Dense], zs: list[torch.Tensor], activations: list[torch.Tensor],
             grad_output: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """dE/da_L (B, n_L) -> (dE/dW_l (n_l, n_{l-1}), dE/db_l (n_l,) or None) for every layer, summed over B."""
    grads: list[tuple[torch.Tensor, torch.Tensor | None]] = []
    upstream = grad_output  # dE/da_l, (B, n_l)
    for l in reversed(range(len(layers))):  # noqa: E741  (l is the layer index of the equations)
        layer = layers[l]
        delta = DERIVATIVES[layer.activation][1](zs[l]) * upstream  # (B, n_l)
        grads.append((delta.T @ activations[l], None if layer.bias is None else delta.sum(0)))
        upstream = delta @ layer.weight  # W_l^T delta_l, batched: (B, n_{l-1})
    return grads[::-1]


def mlp_layers(model: MLP) -> list[Dense]:
    """The `mlp` model's Linear layers as `Dense` views (hidden activation from its config, identity output)."""
    linears = [m for m in model.net if isinstance(m, nn.Linear)]
    return [Dense(m.weight, m.bias, model.cfg.activation if i < len(linears) - 1 else "identity")
            for i, m in enumerate(linears)]


def _unit(level: int, index: int, depth: int, width: int) -> str:
    """Name of unit `index` of activation level a_level: x1.., h1.. (h2.3 in deeper nets), y or y1.."""
    if level == 0:
        return f"x{index + 1}"
    if level == depth:
        return "y" if width == 1 else f"y{index + 1}"
    return f"h{index + 1}" if depth == 2 else f"h{level}.{index + 1}"


def weight_names(layers: list[Dense]) -> list[tuple[str, str]]:
    """(name, connection) of every weight in row-major order, e.g. ('w1', 'x1 -> h1'), then the biases."""
    depth, weights, biases = len(layers), [], []
    for k, layer in enumerate(layers):
        out_n, in_n = layer.weight.shape
        weights += [f"{_unit(k, i, depth, in_n)} -> {_unit(k + 1, o, depth, out_n)}"
                    for o in range(out_n) for i in range(in_n)]
        if layer.bias is not None:
            biases += [f"1 -> {_unit(k + 1, o, depth, out_n)}" for o in range(out_n)]
    return [(f"w{k + 1}", c) for k, c in enumerate(weights)] + [(f"b{k + 1}", c) for k, c in enumerate(biases)]


def flat(tensors: list[tuple[torch.Tensor, torch.Tensor | None]]) -> torch.Tensor:
    """Weights row-major layer by layer, then the biases: the order of `weight_names`."""
    weights = [w.reshape(-1) for w, _ in tensors]
    biases = [b.reshape(-1) for _, b in tensors if b is not None]
    return torch.cat(weights + biases)


@dataclass(frozen=True)
class ManualBackpropConfig:
    lr: float = field(0.05, "Learning rate eta in w' = w - eta dE/dw.", gt=0)
    init: dict = field({}, "Starting values by parameter name, e.g. {\"net.1.weight\": [[0.11, 0.21], [0.12, "
                           "0.08]]}; parameters not named keep the model's initialisation.")


@register_method("manual-backprop", config=ManualBackpropConfig)
class ManualBackprop(Method):
    """Gradient descent on E = 1/2 mean_b sum_k (y - yhat)^2 with the hand-derived gradients of `backward`."""

    def __init__(self, cfg: ManualBackpropConfig, model: MLP, data: SupervisedData, ctx: RunContext) -> None:
        if not isinstance(model, MLP):
            raise UserError(f"method manual-backprop trains the mlp model, not {type(model).__name__}")
        if model.cfg.activation not in DERIVATIVES:
            raise UserError(f"--model.activation {model.cfg.activation}: manual-backprop derives "
                            f"{', '.join(DERIVATIVES)} only")
        if model.cfg.dropout:
            raise UserError("--model.dropout: manual-backprop has no dropout; set it to 0")
        if not data.y_train.dtype.is_floating_point:
            raise UserError(f"method manual-backprop regresses real targets; {data.meta.source} has class labels")
        self.cfg, self.model, self.data = cfg, model, data
        self._set_init(cfg.init)
        self.layers = mlp_layers(model)
        self.steps = 0
        self.done = False
        # The table of `report`: parameters and error before the first step, that step's gradient.
        self.start = flat([(d.weight, d.bias) for d in self.layers]).detach().clone()
        self.first_grad = torch.zeros_like(self.start)
        self.start_pred, self.start_error = self._predict_and_error()

    def _set_init(self, init: dict[str, Any]) -> None:
        params = dict(self.model.named_parameters())
        for name, value in init.items():
            if name not in params:
                raise UserError(f"--method.init: the model has no parameter {name!r}; it has {', '.join(params)}")
            tensor = torch.as_tensor(value, dtype=params[name].dtype)
            if tensor.shape != params[name].shape:
                raise UserError(f"--method.init: {name} needs shape {tuple(params[name].shape)}, "
                                f"got {tuple(tensor.shape)}")
            with torch.no_grad():
                params[name].copy_(tensor)

    def _targets(self, y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        return y.to(out.dtype).view_as(out)

    @torch.no_grad()
    def _predict_and_error(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Predictions (N, n_L) on the test split and each example's squared error sum_k (y - yhat)^2 (N,)."""
        x, y = self.data.split("test")
        pred = forward(self.layers, x.flatten(1).to(self.start.dtype))[1][-1]
        return pred, ((self._targets(y, pred) - pred) ** 2).sum(1)

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        x = x.flatten(1).to(self.start.dtype)  # (B, n_0)
        zs, activations = forward(self.layers, x)
        pred = activations[-1]  # (B, n_L)
        residual = pred - self._targets(y, pred)  # dE/dyhat for E = 1/2 (y - yhat)^2, per example
        grads = backward(self.layers, zs, activations, residual / len(x))
        if self.steps == 0:
            self.first_grad = flat(grads).clone()
        for layer, (dw, db) in zip(self.layers, grads, strict=True):
            layer.weight.sub_(self.cfg.lr * dw)
            if layer.bias is not None:
                layer.bias.sub_(self.cfg.lr * db)
        self.steps += 1
        return {"train/loss": 0.5 * (residual ** 2).sum(1).mean()}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        pred, se = self._predict_and_error()
        metrics = {"test/loss": float(0.5 * se.mean()), "test/se": float(se.mean())}
        if pred.numel() == 1:  # a single worked example: its numbers, rounded to 4 decimals
            metrics.update({"example/prediction_before": round(float(self.start_pred), 4),
                            "example/se_before": round(float(self.start_error), 4),
                            "example/new_prediction": round(float(pred), 4),
                            "example/se_after": round(float(se), 4)})
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        now = flat([(d.weight, d.bias) for d in self.layers])
        pred, se = self._predict_and_error()
        one = pred.numel() == 1
        lines = [f"backpropagation by the hand-derived delta rule: {self.steps} step{'s' * (self.steps != 1)} of "
                 f"gradient descent, eta = {self.cfg.lr}",
                 "error E = 1/2 (y - yhat)^2, so dE/dyhat = yhat - y (the update of the worked example; the "
                 "squared error SE = (y - yhat)^2 printed on the slides has twice this gradient)"]
        if one:
            lines.append(f"prediction before: {float(self.start_pred):.6f}   SE (y - yhat)^2 = "
                         f"{float(self.start_error):.6f}   E = {0.5 * float(self.start_error):.6f}")
        else:
            lines.append(f"mean SE before: {float(self.start_error.mean()):.6f}")
        after = "after" if self.steps == 1 else f"after {self.steps}"
        lines.append(f"{'weight':<7} {'connection':<12} {'before':>10} {'dE/dw':>10} {after:>10}")
        for (name, conn), before, grad, new in zip(weight_names(self.layers), self.start.tolist(),
                                                   self.first_grad.tolist(), now.tolist(), strict=True):
            lines.append(f"{name:<7} {conn:<12} {before:>10.6f} {grad:>10.6f} {new:>10.6f}")
        if self.steps > 1:
            lines.append("(dE/dw is the gradient of the first step)")
        if one:
            lines.append(f"new prediction: {float(pred):.6f}   SE (y - yhat)^2 = {float(se):.6f}   "
                         f"E = {0.5 * float(se):.6f}")
        else:
            lines.append(f"mean SE after: {float(se.mean()):.6f}")
        return "\n".join(lines)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "steps": self.steps, "start": self.start,
                "first_grad": self.first_grad, "start_pred": self.start_pred, "start_error": self.start_error}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.steps = int(state["steps"])
        for key in ("start", "first_grad", "start_pred", "start_error"):
            setattr(self, key, state[key].to(self.start.device))

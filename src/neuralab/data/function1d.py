"""A 1-D target function sampled on an interval, for the universal approximation demo (Hornik, Stinchcombe,
White, "Multilayer feedforward networks are universal approximators", 1989; Cybenko, "Approximation by
superpositions of a sigmoidal function", 1989; curriculum F4, notes 002 section 2.8).

Training points are evenly spaced on [low, high]; the test grid is denser and interleaves them, so the
test error measures the fit between training points too. `step` is discontinuous: the theorem promises
a uniform approximation only for continuous functions, and the largest error stays near 0.5 at the jump.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.registry import register_data

FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin": torch.sin,
    "abs": torch.abs,
    "x2sin": lambda x: x.pow(2) * torch.sin(x),
    "gauss": lambda x: torch.exp(-x.pow(2)),
    "step": lambda x: (x > 0).to(x.dtype),
}


@dataclass(frozen=True)
class Function1DConfig:
    function: str = field("sin", "Target f(x): sin, abs, x2sin (x^2 sin x), gauss (exp(-x^2)) or step "
                                 "(discontinuous at 0).", choices=tuple(FUNCTIONS))
    low: float = field(-math.pi, "Left end of the interval.")
    high: float = field(math.pi, "Right end of the interval.")
    n_train: int = field(256, "Evenly spaced training points.", ge=2)
    n_test: int = field(2001, "Evenly spaced test points on which the error is measured.", ge=2)
    batch_size: int = field(256, "Points per training step (n_train or more: full batch).", ge=1)


@register_data("function1d", config=Function1DConfig)
def build_function1d(cfg: Function1DConfig, seed: int) -> SupervisedData:
    """x (N, 1) and y = f(x) (N, 1) as float tensors: a regression set with no classes."""
    if not cfg.low < cfg.high:
        raise UserError(f"--data.low {cfg.low} must be smaller than --data.high {cfg.high}")
    f = FUNCTIONS[cfg.function]
    x_train = torch.linspace(cfg.low, cfg.high, cfg.n_train).unsqueeze(1)
    x_test = torch.linspace(cfg.low, cfg.high, cfg.n_test).unsqueeze(1)
    meta = DataMeta(kind="features", input_shape=[1], num_classes=0, class_names=[], feature_names=["x"],
                    source=f"function1d-{cfg.function}")
    return SupervisedData((x_train, f(x_train)), (x_test, f(x_test)), meta, batch_size=cfg.batch_size, seed=seed)

"""Optimisation recipes (curriculum F10): first-order optimisers compared, and second-order methods."""

from neuralab.config import RunConfig
from neuralab.data.sources import DigitsConfig
from neuralab.methods.optimizer_comparison import OptimizerComparisonConfig
from neuralab.methods.second_order_compare import SecondOrderConfig
from neuralab.models.mlp.mlp import MLPConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="optimizers-compare", family="optimization", curriculum="F10",
    summary="SGD, momentum, Nesterov, AdaGrad, AdaDelta, RMSProp, Adam and AdamW train copies of one "
            "64-64-10 MLP on digits from the same weights and batches: loss curves and a table.",
    model="mlp", method="optimizer-comparison", data="digits",
    model_config=MLPConfig(in_features=64, hidden=(64,)),
    method_config=OptimizerComparisonConfig(),
    data_config=DigitsConfig(batch_size=64, image_size=8),
    run=RunConfig(epochs=20, log_every=10, threads=1),
    expect={"worst/test_acc": (">=", 0.95)},
))

register(Recipe(
    name="second-order-logreg", family="optimization", curriculum="F10",
    summary="Newton, Hessian-free (HVP + CG), L-BFGS, Nesterov and gradient descent on L2-regularised "
            "logistic regression (digits 0-4 vs 5-9, 65 parameters): iterations to |grad| <= 1e-7.",
    model="logistic-regression", method="second-order", data="digits",
    method_config=SecondOrderConfig(),
    data_config=DigitsConfig(batch_size=2000, image_size=8),
    run=RunConfig(steps=20000, eval_every=1000, log_every=50, threads=1),
    expect={"all/converged": ("==", 1), "all/max_weight_error": ("<=", 1e-4), "newton/iterations": ("<=", 10)},
))

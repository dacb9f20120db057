"""Optimisation recipes (curriculum F10): first-order optimisers compared, and second-order methods."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="optimizers-compare", family="optimization", curriculum="F10",
    summary="SGD, momentum, Nesterov, AdaGrad, AdaDelta, RMSProp, Adam and AdamW train copies of one "
            "64-64-10 MLP on digits from the same weights and batches: loss curves and a table.",
    model="mlp", method="optimizers-compare", data="digits",
    model_config=dict(in_features=64, hidden=(64,)),
    data_config=dict(batch_size=64, image_size=8),
    run=RunConfig(epochs=20, log_every=10, threads=1),
    expect={"compare/test/worst_acc": (">=", 0.95)},
))

register(Recipe(
    name="second-order-logreg", family="optimization", curriculum="F10",
    summary="Newton, Hessian-free (HVP + CG), L-BFGS, Nesterov and gradient descent on L2-regularised "
            "logistic regression (digits 0-4 vs 5-9, 65 parameters): iterations to |grad| <= 1e-7.",
    model="logistic-regression", method="second-order-logreg", data="digits",
    data_config=dict(batch_size=2000, image_size=8),
    run=RunConfig(steps=20000, eval_every=1000, log_every=50, threads=1),
    expect={"compare/converged": ("==", 1), "compare/max_weight_error": ("<=", 1e-4), "newton/iterations": ("<=", 10)},
))

"""Regularisation recipe (curriculum F5, F11): one MLP per regulariser, side by side
(the method is `neuralab.experiments.regularization_compare`)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="regularization-compare", family="mlp", curriculum="F5 F11",
    summary="A 64-256-256-10 MLP on 100 training digits, once per regulariser: the train/test gap per technique.",
    model="mlp", method="regularization-compare", data="digits",
    model_config=dict(hidden=(256, 256)),
    data_config=dict(image_size=8, train_limit=200, val_fraction=0.5),
    run=RunConfig(steps=60, eval_every=10, log_every=1),
    expect={"compare/closing_loss_gap": (">=", 6), "compare/closing_acc_gap": (">=", 2),
            "compare/train/underfit_acc_drop": (">=", 0.5)},
))

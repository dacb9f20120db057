"""Diagnostics recipe (curriculum F12): per-layer gradient norms of a deep MLP with sigmoid, ReLU and
sigmoid + batch norm (the method is `neuralab.experiments.vanishing_gradients`)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="vanishing-gradients", family="mlp", curriculum="F12",
    summary="A 15-hidden-layer MLP with sigmoid, ReLU and sigmoid + batch norm: gradient norm per layer.",
    model="mlp", method="vanishing-gradients", data="digits",
    model_config=dict(hidden=(64,) * 15),
    data_config=dict(image_size=8, batch_size=64),
    run=RunConfig(steps=300, eval_every=100, log_every=10),
    expect={"sigmoid/init_ratio": ("<=", 1e-6), "relu/init_ratio": (">=", 0.1), "sigmoid_bn/init_ratio": (">=", 0.1),
            "sigmoid_bn/test/acc": (">=", 0.9)},
))

"""Activation-function recipes (curriculum F6; notes 002 sections 2.4 and 2.5)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="activations", family="supervised", curriculum="F6",
    summary="ReLU vs tanh vs sigmoid on one 64-64-64-10 MLP (digits, SGD): epochs to 90% test accuracy, "
            "active ReLUs at init, dead ReLUs after a far too large learning rate.",
    model="mlp", method="activations", data="digits",
    model_config=dict(hidden=(64, 64), init="xavier_normal"),
    data_config=dict(batch_size=64, image_size=8),
    run=RunConfig(epochs=30, log_every=23, threads=1),
    expect={"relu/epochs_to_threshold": ("<=", 10), "relu/active_at_init": (">=", 0.4),
            "relu-high-lr/dead": (">=", 0.2)},
))

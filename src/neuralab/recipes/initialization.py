"""Weight-initialisation recipes (curriculum F9; notes 002 section 2.11)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="init-symmetry", family="supervised", curriculum="F9",
    summary="All-zero init leaves every hidden unit of a sigmoid MLP identical after training; Xavier and He "
            "break the symmetry (digits, Adam).",
    model="mlp", method="init-symmetry", data="digits",
    model_config=dict(hidden=(32, 32), activation="sigmoid"),
    data_config=dict(batch_size=64, image_size=8),
    run=RunConfig(epochs=10, log_every=23, threads=1),
    expect={"zeros/distinct_units": ("==", 1), "xavier_normal/distinct_units": ("==", 32),
            "he_normal/test/acc": (">=", 0.9)},
))

register(Recipe(
    name="init-depth", family="supervised", curriculum="F9",
    summary="Std of activations through 20 hidden layers of 256 units at init: N(0,1), Xavier and He with "
            "tanh and ReLU (no training).",
    model="mlp", method="init-depth", data="digits",
    model_config=dict(hidden=(256,) * 20),
    data_config=dict(batch_size=256, image_size=8),
    run=RunConfig(steps=5, log_every=1, threads=1),
    expect={"relu-he_normal/spread": ("<=", 10), "relu-normal/std_last": (">=", 1e6),
            "tanh-normal/saturated": (">=", 0.5)},
))

"""Universal approximation recipe (curriculum F4; notes 002 section 2.8)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="universal-approximation", family="supervised", curriculum="F4",
    summary="One hidden layer of 1..64 tanh units fits sin on [-pi, pi]; max error per width against "
            "epsilon 0.05 (--data.function abs|x2sin|gauss|step, --method.epsilon).",
    model="mlp", method="universal-approximation", data="function1d",
    model_config=dict(hidden=(64,), num_classes=1, activation="tanh"),
    run=RunConfig(steps=1000, log_every=50, eval_every=250, threads=1),
    expect={"compare/smallest_width": ("<=", 16)},
    mode="min",
))

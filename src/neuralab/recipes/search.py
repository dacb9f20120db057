"""Hyper-parameter search recipes (curriculum F13)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="random-vs-grid", family="search", curriculum="F13",
    summary="Bergstra & Bengio 2012: 16 trials, one of two hyper-parameters matters; a 4x4 grid tries 4 of its "
            "values, random search 16, and finds the better optimum on average.",
    model="low-effective-dimension", method="random-vs-grid", data="random-optima",
    model_config=dict(x_weight=1.0, y_weight=0.01),
    method_config=dict(budget=16),
    data_config=dict(repetitions=200),
    run=RunConfig(epochs=1, log_every=10),
    expect={"compare/grid_over_random": (">=", 1.2)},
))

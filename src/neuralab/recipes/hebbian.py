"""Hebbian learning (curriculum E3): plain Hebb diverges, Oja's rule finds the first principal component."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

GAUSSIAN = dict(spectrum=(4.0, 1.0), angle=30.0, batch_size=100)

register(Recipe(
    name="hebb-diverges", family="neuro", curriculum="E3",
    summary="Plain Hebb, dw = lr y x, on 2-D correlated Gaussian data: a power iteration of the covariance, so "
            "||w|| grows by 1 + lr lambda_1 per step (the run stops at ||w|| = 1e6) while w turns to PC1.",
    model="linear-neuron", method="hebbian", data="correlated-gaussian",
    method_config=dict(rule="hebb", lr=0.01, max_norm=1e6),
    data_config=GAUSSIAN,
    run=RunConfig(steps=1000, eval_every=50, log_every=10),
    expect={"train/weight_norm": (">=", 1e5), "test/cosine_pc1": (">=", 0.99)},
))

register(Recipe(
    name="oja-pca", family="neuro", curriculum="E3",
    summary="Oja's rule, dw = lr y (x - y w), on 2-D correlated Gaussian data: ||w|| settles at 1 and w on the "
            "first principal component.",
    model="linear-neuron", method="hebbian", data="correlated-gaussian",
    method_config=dict(rule="oja", lr=0.01),
    data_config=GAUSSIAN,
    run=RunConfig(steps=1000, eval_every=50, log_every=10),
    expect={"test/cosine_pc1": (">=", 0.99), "train/weight_norm": ("<=", 1.05)},
))

register(Recipe(
    name="oja-patches", family="neuro", curriculum="E3",
    summary="Oja's rule on 8x8 natural-image patches (each patch's mean removed): the neuron's weights become the "
            "patches' first principal component.",
    model="linear-neuron", method="hebbian", data="image-patches",
    method_config=dict(rule="oja", lr=2.0),
    data_config=dict(batch_size=1000),
    run=RunConfig(steps=500, eval_every=50, log_every=10),
    expect={"test/cosine_pc1": (">=", 0.99)},
))

register(Recipe(
    name="sanger-patches", family="neuro", curriculum="E3",
    summary="Sanger's generalised Hebbian algorithm, 8 linear units on 8x8 natural-image patches: unit k learns the "
            "k-th principal component.",
    model="linear-neuron", method="hebbian", data="image-patches",
    model_config=dict(outputs=8),
    method_config=dict(rule="sanger", lr=2.0),
    data_config=dict(batch_size=1000),
    run=RunConfig(steps=3000, eval_every=200, log_every=20),
    expect={"test/cosine_min": (">=", 0.99)},
))

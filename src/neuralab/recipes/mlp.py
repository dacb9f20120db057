"""Multilayer-perceptron recipes trained by backpropagation (curriculum F3, F5)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="mlp-mnist", family="mlp", curriculum="F3 F5",
    summary="784-512-256-10 ReLU MLP with dropout on MNIST, Adam with a one-cycle schedule.",
    model="mlp", method="supervised", data="mnist",
    model_config=dict(hidden=(512, 256), dropout=0.2),
    method_config=dict(optimizer="adam", lr=2e-3, schedule="onecycle"),
    data_config=dict(batch_size=128),
    run=RunConfig(epochs=8, log_every=50),
    expect={"test/acc": (">=", 0.98)},
))

register(Recipe(
    name="mlp-digits", family="mlp", curriculum="F3 F5", fast_variant_of="mlp-mnist",
    summary="64-128-10 ReLU MLP on scikit-learn's 8x8 digits: the MNIST recipe in seconds.",
    model="mlp", method="supervised", data="digits",
    model_config=dict(hidden=(128,)),
    method_config=dict(optimizer="adam", lr=3e-3, schedule="onecycle"),
    data_config=dict(batch_size=64, image_size=8),
    run=RunConfig(epochs=20, log_every=10),
    expect={"test/acc": (">=", 0.95)},
))

register(Recipe(
    name="lbfgs-digits", family="mlp", curriculum="F10",
    summary="64-64-10 tanh MLP on the whole digits training set per step, trained by L-BFGS (strong-Wolfe line "
            "search): a second-order-style optimiser on a network.",
    model="mlp", method="supervised", data="digits",
    model_config=dict(hidden=(64,), activation="tanh"),
    method_config=dict(optimizer="lbfgs", lr=1.0, l2=1e-3),
    data_config=dict(batch_size=4096, image_size=8),  # more than the 1437 training digits: full batch
    run=RunConfig(steps=60, eval_every=10, log_every=5, threads=1),
    expect={"test/acc": (">=", 0.95)},
))

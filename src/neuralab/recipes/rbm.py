"""Restricted Boltzmann machines (curriculum E6): CD-k and persistent CD on MNIST."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

MNIST = dict(batch_size=100, normalize="scale")

register(Recipe(
    name="rbm-mnist", family="energy", curriculum="E6",
    summary="Bernoulli RBM, 784 visible and 500 hidden units, CD-1 on binarised MNIST.",
    model="rbm", method="contrastive-divergence", data="mnist",
    model_config=dict(hidden=500),
    method_config=dict(k=1, lr=0.05, momentum=0.5, binarize=True),
    data_config=MNIST,
    run=RunConfig(epochs=5, log_every=100),
    expect={"test/recon_error": ("<=", 20.0)}, mode="min",
))

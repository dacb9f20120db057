"""MNIST-1D recipes (curriculum C3): the paper's 1-D CNN and its MLP and logistic-regression baselines.

All three train as Greydanus ("Scaling down deep learning", 2020) trained them: Adam at learning rate 0.01,
batches of 100, 6,000 steps (150 epochs), on the set generated offline with the package's default arguments.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

PAPER_METHOD = dict(optimizer="adam", lr=1e-2)
PAPER_DATA = dict(batch_size=100)
PAPER_RUN = RunConfig(steps=6000, eval_every=500, log_every=100, threads=1)

register(Recipe(
    name="cnn1d-mnist1d", family="cnn", curriculum="C3",
    summary="The MNIST-1D paper's ConvBase (3 Conv1d layers of 25 channels, stride 2, ReLU, linear head; 5,210 "
            "parameters) on MNIST-1D; the paper reports 94% test accuracy.",
    model="cnn1d", method="supervised", data="mnist1d",
    method_config=PAPER_METHOD, data_config=PAPER_DATA, run=PAPER_RUN,
    expect={"test/acc": (">=", 0.94)},
))

register(Recipe(
    name="mlp-mnist1d", family="mlp", curriculum="C3",
    summary="The MNIST-1D paper's MLP baseline (40-100-100-10, ReLU) on MNIST-1D; the paper reports 68%.",
    model="mlp", method="supervised", data="mnist1d",
    model_config=dict(hidden=(100, 100)),
    method_config=PAPER_METHOD, data_config=PAPER_DATA, run=PAPER_RUN,
    expect={"test/acc": (">=", 0.6)},
))

register(Recipe(
    name="logistic-mnist1d", family="mlp", curriculum="C3",
    summary="The MNIST-1D paper's logistic-regression baseline (one linear layer, softmax over 10 classes) on "
            "MNIST-1D; the paper reports 32%.",
    model="mlp", method="supervised", data="mnist1d",
    model_config=dict(hidden=()),
    method_config=PAPER_METHOD, data_config=PAPER_DATA, run=PAPER_RUN,
    expect={"test/acc": (">=", 0.3)},
))

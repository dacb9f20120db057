"""Continual-learning recipes (curriculum R6): catastrophic forgetting on permuted MNIST and its mitigation by replay
and by elastic weight consolidation (Kirkpatrick et al. 2017), with the same network, optimiser and budget for all
three, so that the strategy is the only difference.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

MLP = dict(hidden=(256, 256))
PERMUTED = dict(tasks=5, steps_per_task=500, batch_size=128)
RUN = RunConfig(epochs=5, eval_every=100, log_every=50)
SGD = dict(optimizer="adam", lr=1e-3)

register(Recipe(
    name="forgetting-permuted-mnist", family="rl", curriculum="R6",
    summary="Catastrophic forgetting: an MLP fine-tuned on five permuted-MNIST tasks in turn loses accuracy on "
            "the earlier ones.",
    model="mlp", method="continual", data="permuted-mnist",
    model_config=MLP, method_config=dict(SGD, strategy="none"), data_config=PERMUTED, run=RUN,
    expect={"test/old_acc": ("<=", 0.9), "test/new_acc": (">=", 0.95)},
))

register(Recipe(
    name="replay-permuted-mnist", family="rl", curriculum="R6",
    summary="Replay against forgetting: a memory of 500 examples per finished task mixed into every batch.",
    model="mlp", method="continual", data="permuted-mnist",
    model_config=MLP, method_config=dict(SGD, strategy="replay"), data_config=PERMUTED, run=RUN,
    expect={"test/old_acc": (">=", 0.9), "test/new_acc": (">=", 0.95)},
))

register(Recipe(
    name="ewc-permuted-mnist", family="rl", curriculum="R6",
    summary="Elastic weight consolidation (Kirkpatrick et al. 2017) against forgetting on five permuted-MNIST "
            "tasks.",
    model="mlp", method="continual", data="permuted-mnist",
    model_config=MLP, method_config=dict(SGD, strategy="ewc"), data_config=PERMUTED, run=RUN,
    expect={"test/old_acc": (">=", 0.9), "test/new_acc": (">=", 0.95)},
))

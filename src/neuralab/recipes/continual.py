"""Continual-learning recipes (curriculum R6): catastrophic forgetting and its mitigation by replay and by elastic
weight consolidation (Kirkpatrick et al. 2017), on two task sequences.

Within a sequence the three recipes share the network (a 784-256-256-10 ReLU MLP), the optimiser (Adam, 1e-3), the
data order and the budget; the strategy is the only difference. The `expect`s were measured (docs/rl.md):

- permuted MNIST, five tasks of 500 steps (domain-incremental): plain fine-tuning loses much of the early tasks;
  replay (500 examples per finished task) and EWC (lambda 10, Fisher on 200 examples) both keep them.
- split MNIST, five tasks of two digits, 300 steps each, class-incremental (one 10-way output, no task identity
  at test time): fine-tuning forgets the old digits completely, and so does EWC, which protects weights but
  cannot stop the new task from raising its own classes' outputs above the old ones; replay alone keeps them (the
  result of van de Ven & Tolias, "Three scenarios for continual learning", 2019). `--data.scenario task` makes it
  the easier task-incremental split MNIST, where EWC does help.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

MLP = dict(hidden=(256, 256))
ADAM = dict(optimizer="adam", lr=1e-3, ewc_lambda=10.0, fisher_samples=200, replay_per_task=500)
PERMUTED = dict(tasks=5, steps_per_task=500, batch_size=128)
SPLIT = dict(tasks=5, steps_per_task=300, batch_size=128, scenario="class")
# An epoch is one task; evaluating every 100 steps draws each task's accuracy over the run (plots/task_accuracy.png)
RUN = RunConfig(epochs=5, eval_every=100, log_every=50)

register(Recipe(
    name="forgetting-permuted-mnist", family="rl", curriculum="R6",
    summary="Catastrophic forgetting: an MLP fine-tuned on five permuted-MNIST tasks in turn loses much of its "
            "accuracy on the earlier ones.",
    model="mlp", method="continual", data="permuted-mnist",
    model_config=MLP, method_config=dict(ADAM, strategy="none"), data_config=PERMUTED, run=RUN,
    expect={"test/old_acc": ("<=", 0.85), "test/new_acc": (">=", 0.95)},
))

register(Recipe(
    name="replay-permuted-mnist", family="rl", curriculum="R6",
    summary="Replay against forgetting on permuted MNIST: 500 examples of each finished task kept and mixed into "
            "every batch.",
    model="mlp", method="continual", data="permuted-mnist",
    model_config=MLP, method_config=dict(ADAM, strategy="replay"), data_config=PERMUTED, run=RUN,
    expect={"test/old_acc": (">=", 0.92), "test/new_acc": (">=", 0.95)},
))

register(Recipe(
    name="ewc-permuted-mnist", family="rl", curriculum="R6",
    summary="Elastic weight consolidation (Kirkpatrick et al. 2017) against forgetting on permuted MNIST: a "
            "Fisher-weighted pull towards each finished task's weights.",
    model="mlp", method="continual", data="permuted-mnist",
    model_config=MLP, method_config=dict(ADAM, strategy="ewc"), data_config=PERMUTED, run=RUN,
    expect={"test/old_acc": (">=", 0.92), "test/new_acc": (">=", 0.94)},
))

register(Recipe(
    name="forgetting-split-mnist", family="rl", curriculum="R6",
    summary="Catastrophic forgetting, class-incremental: fine-tuned on digit pairs 0/1, 2/3, ... in turn, an MLP "
            "ends up recognising only the last pair.",
    model="mlp", method="continual", data="split-mnist",
    model_config=MLP, method_config=dict(ADAM, strategy="none"), data_config=SPLIT, run=RUN,
    expect={"test/old_acc": ("<=", 0.05), "test/new_acc": (">=", 0.95)},
))

register(Recipe(
    name="replay-split-mnist", family="rl", curriculum="R6",
    summary="Replay on class-incremental split MNIST: 500 examples of each finished digit pair keep the old "
            "digits recognised.",
    model="mlp", method="continual", data="split-mnist",
    model_config=MLP, method_config=dict(ADAM, strategy="replay"), data_config=SPLIT, run=RUN,
    expect={"test/old_acc": (">=", 0.8), "test/new_acc": (">=", 0.95)},
))

register(Recipe(
    name="ewc-split-mnist", family="rl", curriculum="R6",
    summary="EWC on class-incremental split MNIST fails: like fine-tuning it forgets the old digit pairs (van de "
            "Ven & Tolias 2019); only replay helps here.",
    model="mlp", method="continual", data="split-mnist",
    model_config=MLP, method_config=dict(ADAM, strategy="ewc"), data_config=SPLIT, run=RUN,
    expect={"test/old_acc": ("<=", 0.05), "test/new_acc": (">=", 0.95)},
))

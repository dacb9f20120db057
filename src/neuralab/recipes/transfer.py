"""Transfer-learning recipe (curriculum C4): an MNIST-trained LeNet-5 fine-tuned on 1,000 Fashion-MNIST labels
against the same net from scratch (the method is `neuralab.experiments.transfer_compare`)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="transfer-fashion-1k", family="cnn", curriculum="C4",
    summary="LeNet-5 trained on MNIST, then fine-tuned (and with frozen features) on 1,000 Fashion-MNIST labels "
            "vs the same net from scratch.",
    model="lenet5", method="transfer-compare", data="fashion-mnist",
    data_config=dict(train_limit=1000, batch_size=50),
    run=RunConfig(steps=600, eval_every=100, log_every=20),
    expect={"compare/test/finetune_gain": (">=", 0.0), "finetune/test/acc": (">=", 0.0)},
))

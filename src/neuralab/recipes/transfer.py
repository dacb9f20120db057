"""Transfer-learning recipe (curriculum C4): an MNIST-trained LeNet-5 fine-tuned on 1,000 Fashion-MNIST labels
against the same net from scratch (the method is `neuralab.experiments.transfer_compare`)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="transfer-fashion-1k", family="cnn", curriculum="C4",
    summary="LeNet-5 trained on MNIST, then fine-tuned (and with frozen features) on 1,000 Fashion-MNIST labels "
            "vs the same net from scratch: the head start, and what is left of it after 20 epochs.",
    model="lenet5", method="transfer-compare", data="fashion-mnist",
    # 400 steps of 50 = 20 epochs of the 1,000 examples; the source trains 400 steps of 128 MNIST digits.
    data_config=dict(train_limit=1000, batch_size=50),
    run=RunConfig(steps=400, eval_every=50, log_every=10),
    expect={"compare/test/finetune_head_start": (">=", 0.0), "compare/test/finetune_gain": (">=", -1.0)},
    monitor="finetune/test/acc",
))

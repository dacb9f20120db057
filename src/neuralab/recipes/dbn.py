"""Deep belief networks (curriculum E7): greedy layer-wise pre-training of 784-500-500-2000 RBMs with a label-joined
associative memory on MNIST, then backpropagation fine-tuning; the same net fine-tuned from random initialisation."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

DBN = dict(hidden=(500, 500, 2000), dropout=0.2)  # dropout 0.2 (vs none) chosen on the validation split
MNIST = dict(batch_size=100, normalize="scale", val_fraction=1 / 6)  # 50,000 to train, 10,000 to choose settings on
FINE_TUNE = dict(optimizer="adam", lr=1e-3, schedule="cosine")
PRETRAIN_EPOCHS, FINE_TUNE_EPOCHS = 2, 20
# The longer run (--run.full true) is Hinton et al.'s protocol: the settings chosen on the validation split, then
# ten epochs of CD per RBM and fifty of fine-tuning on all 60,000 training images (about 20 minutes on one
# core). With the 10,000 held out it measured 1.27% test error (seed 0); on all 60,000 see docs/energy.md.
FULL_PRETRAIN, FULL_FINE_TUNE = 10, 50

register(Recipe(
    name="dbn-mnist", family="energy", curriculum="E7",
    summary="Deep belief net 784-500-500-2000 (Hinton et al. 2006): CD-1 pre-training of the lower RBMs, persistent "
            "CD of the top one with the labels, then backpropagation fine-tuning; generates digits of a clamped label.",
    model="dbn", method="greedy-pretraining", data="mnist",
    model_config=DBN,
    method_config=dict(pretrain=True, pretrain_epochs=PRETRAIN_EPOCHS, **FINE_TUNE),
    data_config=MNIST,
    run=RunConfig(epochs=3 * PRETRAIN_EPOCHS + FINE_TUNE_EPOCHS, log_every=100),
    expect={"test/acc": (">=", 0.98)},  # measured 0.9843 (seed 0); Hinton et al. 2006: 0.9875
    full={"method": {"pretrain_epochs": FULL_PRETRAIN}, "run": {"epochs": 3 * FULL_PRETRAIN + FULL_FINE_TUNE},
          "data": {"val_fraction": 0.0}},
))

register(Recipe(
    name="dbn-mnist-random-init", family="energy", curriculum="E7",
    summary="The dbn-mnist classifier 784-500-500-2000-10 fine-tuned the same way from random initialisation, "
            "without pre-training.",
    model="dbn", method="greedy-pretraining", data="mnist",
    model_config=DBN,
    method_config=dict(pretrain=False, **FINE_TUNE),
    data_config=MNIST,
    run=RunConfig(epochs=FINE_TUNE_EPOCHS, log_every=100),
    expect={"test/acc": (">=", 0.975)},  # measured 0.9796 (seed 0), against 0.9843 with pre-training
    full={"run": {"epochs": FULL_FINE_TUNE}, "data": {"val_fraction": 0.0}},
))

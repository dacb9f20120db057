"""Learning sanity of the deep belief net on scikit-learn's 8x8 digits (64-100-100-200, 10 classes): greedy
pre-training gives a far better classifier than random initialisation after the same few fine-tuning steps, and a
label clamped in the associative memory generates digits that an independent classifier reads as that label more
often than chance."""

from __future__ import annotations

import pytest
import torch
from sklearn.linear_model import LogisticRegression

from neuralab.contracts import RunContext
from neuralab.methods.dbn import GreedyPretraining, GreedyPretrainingConfig
from neuralab.models.energy.dbn import DBN, DBNConfig
from neuralab.registry import DATA

PRETRAIN_EPOCHS, FINE_TUNE_STEPS = 12, 100
PER_CLASS = 20  # generated digits per label


def _train(pretrain: bool) -> GreedyPretraining:
    torch.manual_seed(0)
    entry = DATA.get("digits")
    data = entry.build(entry.config(batch_size=20, normalize="scale", image_size=8), 0)
    model = DBN(DBNConfig(in_features=64, hidden=(100, 100, 200), num_classes=10))
    cfg = GreedyPretrainingConfig(pretrain=pretrain, pretrain_epochs=PRETRAIN_EPOCHS, cd_lr=0.1, top_lr=0.1,
                                  gibbs_steps=200)
    total = (3 * PRETRAIN_EPOCHS * data.steps_per_epoch if pretrain else 0) + FINE_TUNE_STEPS
    method = GreedyPretraining(cfg, model, data, RunContext(total_steps=total, device=torch.device("cpu"), seed=0,
                                                            run_dir=None))
    for _ in range(total):
        method.step(data.next_batch())
    return method


@pytest.fixture(scope="module")
def pretrained() -> GreedyPretraining:
    return _train(pretrain=True)


def test_pretrained_initialisation_beats_random_initialisation_at_equal_fine_tuning_steps(pretrained):
    with_pretraining = pretrained.evaluate()["test/acc"]
    from_random = _train(pretrain=False).evaluate()["test/acc"]
    assert with_pretraining > 0.7 and with_pretraining > from_random + 0.3, (with_pretraining, from_random)


def test_a_clamped_label_generates_digits_of_that_label_more_often_than_chance(pretrained):
    x, y = pretrained.data.split("train")
    reader = LogisticRegression(max_iter=2000).fit(x.flatten(1).numpy(), y.numpy())  # trained on real digits only
    n = 10 * PER_CLASS
    images = pretrained.draw(n, seed=0).images  # column k holds class k
    read = reader.predict(images.flatten(1).numpy())
    accuracy = float((torch.from_numpy(read) == torch.arange(n) % 10).float().mean())
    assert images.shape == (n, 1, 8, 8)
    assert accuracy > 2 * 0.1, accuracy  # chance: one in ten

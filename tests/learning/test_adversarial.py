"""Adversarial training inside the supervised method (Madry et al. 2018; fast FGSM, Wong et al. 2020): it
trains on attacked batches, reports the accuracy under PGD, and makes a net more robust than plain training."""

from __future__ import annotations

import pytest
import torch

from neuralab.build import build, resolve
from neuralab.errors import UserError
from neuralab.methods.attacks import PixelSpace, fixed_subset, pgd
from neuralab.registry import RECIPES


def make(recipe: str = "mlp-digits", **method):
    r = RECIPES.get(recipe)
    return build(r, resolve(r, {"method": {"schedule": "none", **method}, "run": {"device": "cpu", "threads": 1}}))


@pytest.mark.parametrize("attack", ["fgsm", "pgd"])
def test_an_adversarial_step_trains_on_attacked_inputs_with_a_higher_loss(attack):
    plain, adversarial = make(), make(adversarial=attack, adv_eps=0.1, adv_steps=3)
    for p, q in zip(plain.model.parameters(), adversarial.model.parameters(), strict=True):
        assert torch.equal(p, q)  # same seed, same start
    batch = plain.data.next_batch()
    clean_loss = float(plain.method.step(batch)["train/loss"])
    attacked_loss = float(adversarial.method.step(batch)["train/loss"])
    assert attacked_loss > clean_loss + 0.05


def test_pgd_accuracy_is_reported_only_with_adversarial_training_and_is_repeatable():
    assert not any(k.endswith("pgd_acc") for k in make().method.evaluate())
    run = make(adversarial="fgsm", adv_eval_size=100)
    first, second = run.method.evaluate(), run.method.evaluate()
    assert first["test/pgd_acc"] == second["test/pgd_acc"]  # the same subset and random starts every time
    assert 0 <= first["test/pgd_acc"] <= 1 and run.model.training


def test_adversarial_training_refuses_feature_vectors_in_one_line():
    with pytest.raises(UserError, match="--method.adversarial.*pixels"):
        make("mlp-xor", adversarial="fgsm")


def _pgd_accuracy(run, eps: float) -> float:
    x, y = fixed_subset(*run.data.split("test"), 0)
    model = run.model.eval()
    adv = pgd(model, x, y, PixelSpace.from_meta(run.data.meta), eps, steps=10,
              generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return float((model(adv).argmax(-1) == y).float().mean())


def test_adversarial_training_raises_the_accuracy_under_pgd():
    """The digits MLP trained 300 steps, attacked at eps 0.2 (at 0.1 the 8x8 digits' 17 grey levels leave the plain
    net 60% right): plain training leaves about 3% under PGD, fast-FGSM training about 45% (measured)."""
    plain, robust = make(), make(adversarial="fgsm", adv_eps=0.2)
    for run in (plain, robust):
        for _ in range(300):
            run.method.step(run.data.next_batch())
    before, after = _pgd_accuracy(plain, 0.2), _pgd_accuracy(robust, 0.2)
    assert before < 0.15 and after > 0.3, (before, after)


def test_a_net_with_auxiliary_classifiers_is_attacked_through_its_whole_training_objective():
    """GoogLeNet returns its auxiliary heads' outputs in training mode; the training attack ascends the same
    objective the step descends (main loss + 0.3 x each head's), and the step trains on the attacked batch."""
    r = RECIPES.get("googlenet-fashion")
    overrides = {"method": {"adversarial": "fgsm", "adv_eps": 0.1, "adv_eval_size": 16, "augment": ()},
                 "data": {"train_limit": 64, "test_limit": 16, "batch_size": 16},
                 "run": {"device": "cpu", "threads": 1, "amp": "off"}}
    run = build(r, resolve(r, overrides))
    metrics = run.method.step(run.data.next_batch())
    assert float(metrics["train/aux_loss"]) > 0 and torch.isfinite(torch.as_tensor(metrics["train/loss"]))
    assert 0 <= run.method.evaluate()["test/pgd_acc"] <= 1

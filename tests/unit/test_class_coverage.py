"""Per-class coverage of generated images (`neuralab fid`): the classifier's label histogram summarised."""

from __future__ import annotations

import math

import pytest
import scipy.stats
import torch

from neuralab.studies.sample_quality import Coverage


def _probs(labels: list[int], classes: int = 10, top: float = 0.95) -> torch.Tensor:
    """Class probabilities whose argmax is each label, with probability `top` on it."""
    probs = torch.full((len(labels), classes), (1 - top) / (classes - 1))
    probs[torch.arange(len(labels)), torch.tensor(labels)] = top
    return probs


def test_balanced_labels_cover_every_class_at_zero_kl():
    c = Coverage.of(_probs(list(range(10)) * 30))
    assert c.counts == (30,) * 10 and c.covered == 10
    assert c.largest == pytest.approx(0.1) and c.kl_uniform == pytest.approx(0.0, abs=1e-12) and c.confident == 1.0


def test_one_label_for_everything_is_one_class_at_kl_ln_k():
    c = Coverage.of(_probs([4] * 50, top=0.5))
    assert c.covered == 1 and c.largest == 1.0 and c.share_of(4) == 1.0 and c.share_of(3) == 0.0
    assert c.kl_uniform == pytest.approx(math.log(10)) and c.confident == 0.0


def test_kl_to_uniform_is_scipys_relative_entropy_and_rare_classes_are_not_covered():
    # 1000 labels: class 9 gets 5 (0.5%, under a tenth of the uniform 10%), class 8 gets 10 (1%: covered).
    labels = [k for k, count in enumerate([200, 150, 150, 100, 100, 100, 100, 85, 10, 5]) for _ in range(count)]
    probs = _probs(labels, top=0.9)
    probs[:300] = _probs(labels[:300], top=0.8)  # the first 300 below the 0.9 confidence
    c = Coverage.of(probs)
    counts = torch.bincount(torch.tensor(labels), minlength=10).double()
    assert c.kl_uniform == pytest.approx(scipy.stats.entropy(counts / counts.sum(), torch.full((10,), 0.1)), rel=1e-12)
    assert c.covered == 9 and c.largest == pytest.approx(0.2) and c.confident == pytest.approx(0.7)

"""Macro-F1 at each evaluation of a classifier, checked against scikit-learn's f1_score."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import f1_score

from neuralab.methods.supervised import evaluate_split, macro_f1


class Fixed(torch.nn.Module):
    """Returns the row of logits stored for each example index (inputs are the indices)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[x]


@pytest.mark.parametrize("classes, absent", [(3, None), (5, 4), (2, None)])
def test_macro_f1_matches_sklearn_over_batches(classes, absent):
    g = torch.Generator().manual_seed(classes)
    y = torch.randint(0, classes, (301,), generator=g)
    logits = torch.randn(301, classes, generator=g) + 1.5 * torch.nn.functional.one_hot(y, classes)
    if absent is not None:  # a class neither true nor predicted: left out of the mean, as sklearn does
        y[y == absent] = 0
        logits[:, absent] = -1e4
    metrics = evaluate_split(Fixed(logits), torch.arange(301), y, "cross_entropy", 64, f1=True)
    expected = f1_score(y.numpy(), logits.argmax(-1).numpy(), average="macro")
    assert metrics["macro_f1"] == pytest.approx(expected, abs=1e-12)
    assert metrics["acc"] == pytest.approx(float((logits.argmax(-1) == y).float().mean()))
    assert 0 < expected < 1


def test_one_logit_classifier_and_the_default_without_f1():
    y = torch.tensor([0, 1, 1, 0, 1, 1])
    logit = torch.tensor([[-1.0], [2.0], [-0.5], [0.3], [1.0], [0.2]])
    metrics = evaluate_split(Fixed(logit), torch.arange(6), y, "bce", 4, f1=True)
    assert metrics["macro_f1"] == pytest.approx(f1_score(y.numpy(), (logit[:, 0] > 0).long().numpy(),
                                                         average="macro"))
    assert "macro_f1" not in evaluate_split(Fixed(logit), torch.arange(6), y, "bce", 4)  # existing runs unchanged


def test_macro_f1_of_a_confusion_matrix():
    # class 0: TP 3, FN 1, FP 0 -> 6/7; class 1: TP 2, FN 0, FP 1 -> 4/5; class 2 never occurs: not counted
    confusion = torch.tensor([[3, 1, 0], [0, 2, 0], [0, 0, 0]])
    assert macro_f1(confusion) == pytest.approx((6 / 7 + 4 / 5) / 2)

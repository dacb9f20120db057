"""Learning sanity of the text classifiers on real tweets: loss at initialisation about ln 3, a small batch
overfitted, the bag-of-words baseline well above chance; masked-LM pre-training lowers its loss and its encoder
loads into the classifier."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import neuralab
from neuralab.config import override
from neuralab.registry import DATA, MODELS
from neuralab.transfer import NOT_IN_MODEL, NOT_IN_SOURCE

CLASSIFIERS = {"bow-logistic": {}, "text-lstm": {}, "text-lstm-bi": {"bidirectional": True}, "text-cnn": {},
               "transformer-classifier": {}}


@pytest.fixture(scope="module")
def batch():
    """32 training tweets (ids, labels) and the vocabulary size, at a 24-token length, 2,000 words."""
    entry = DATA.get("tweets")
    data = entry.build(override(entry.config(), {"max_length": 24, "train_limit": 32, "max_size": 2000}, "data"), 0)
    return data.x_train, data.y_train, len(data.meta.vocab)


def _model(name: str, vocab_size: int) -> torch.nn.Module:
    entry = MODELS.get(name.removesuffix("-bi"))
    torch.manual_seed(0)
    return entry.cls(override(entry.config(), {"vocab_size": vocab_size, "num_classes": 3, **CLASSIFIERS[name]},
                              "model"))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_loss_at_initialisation_is_about_ln_3_and_a_small_batch_is_overfitted(name, batch):
    x, y, vocab_size = batch
    model = _model(name, vocab_size)
    model.eval()
    with torch.no_grad():
        assert F.cross_entropy(model(x), y).item() == pytest.approx(math.log(3), abs=0.15)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2 if name == "bow-logistic" else 3e-3)
    for _ in range(60):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(x)
    assert F.cross_entropy(out, y).item() < 0.1
    assert torch.equal(out.argmax(-1), y)


def test_padding_does_not_change_a_prediction(batch):
    """Each model reads a text the same whether it is padded to 24 tokens or to 40."""
    x, _, vocab_size = batch
    longer = F.pad(x, (0, 16))
    for name in CLASSIFIERS:
        model = _model(name, vocab_size).eval()
        with torch.no_grad():
            assert torch.allclose(model(x), model(longer), atol=1e-5), name


def test_the_bag_of_words_baseline_beats_chance(tmp_path):
    run = neuralab.train("bow-tweets", {"run": {"steps": 300, "eval_every": 300, "threads": 1},
                                        "data": {"test_limit": 2000}}, out=tmp_path / "bow")
    # chance: 43% (always "negative") and a macro-F1 of 0.20
    assert run.metrics["test/acc"] > 0.65 and run.metrics["test/macro_f1"] > 0.6


def test_masked_lm_pretraining_learns_and_its_encoder_starts_the_classifier(tmp_path):
    small = {"model": {"layers": 1}, "data": {"test_limit": 500, "max_length": 24}}
    mlm = neuralab.train("bert-mlm-tweets", {"run": {"steps": 60, "eval_every": 60, "threads": 1},
                                             "model": small["model"], "data": {**small["data"], "batch_size": 32}},
                         out=tmp_path / "mlm")
    vocab_size = len(mlm.data.meta.vocab)
    assert mlm.metrics["test/mlm_loss"] < math.log(vocab_size) - 2  # from about ln V: frequent words first
    assert mlm.metrics["test/mlm_acc"] > 0.02
    # --run.init_from: the whole encoder loads, the heads do not, and the classifier starts with its weights
    clf = neuralab.train("transformer-tweets", {"run": {"steps": 1, "threads": 1}, **small}, out=tmp_path / "clf",
                         init_from=tmp_path / "mlm")
    loaded, skipped = clf.transfer.loaded, clf.transfer.skipped
    assert set(loaded) == {f"encoder.{k}" for k in mlm.model.encoder.state_dict()}
    assert {n for n, why in skipped.items() if why == NOT_IN_SOURCE} == {"head.weight", "head.bias"}
    assert {n for n, why in skipped.items() if why == NOT_IN_MODEL} == {f"mlm_head.{k}"
                                                                          for k in mlm.model.mlm_head.state_dict()}

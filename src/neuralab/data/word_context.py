"""Centre words and their context windows for word2vec (Mikolov, Sutskever, Chen, Corrado, Dean, "Distributed
Representations of Words and Phrases and their Compositionality", 2013), served from one token tensor.

The corpus is one int64 tensor of word ids on the device, with a tensor of sentence numbers beside it (a window
never crosses a sentence, as in word2vec's C code, which reads a sentence at a time). Every epoch starts by
subsampling frequent words: each occurrence of a word of frequency f is dropped with probability
1 - sqrt(t / f) (the paper's equation 5), from a generator seeded by (seed, epoch). Each kept position then draws
its window reach b uniformly from 1..window (the C code's dynamic window, which weights near words more); a
batch is `batch_size` consecutive kept positions with the words up to b either side of each, found by indexing
with a (B, 2 window) offset grid: no per-pair Python. Negatives come from the unigram distribution raised to the
3/4 power, drawn by `torch.multinomial` on a generator seeded by (seed, epoch, position). The whole state of
the stream is therefore (epoch, position), and a resumed run sees exactly the batches it would have seen.

Words the corpus already replaced by `<unk>` (Penn Treebank's rare words) are removed before windows are cut,
as word2vec drops words under its `min_count`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from neuralab.config import field
from neuralab.data import corpora
from neuralab.data.tensors import DataMeta
from neuralab.data.vocab import PAD, UNK, Vocabulary, tokenize
from neuralab.errors import DataError
from neuralab.registry import register_data

EMPTY_EPOCHS = 100  # epochs in a row without one (centre, context) pair before the data is declared too small
VALIDATION_KEY = 2**31  # stands in for the epoch number when cutting the fixed validation batch


@dataclass(frozen=True)
class WordContextConfig:
    batch_size: int = field(1024, "Centre words per step; each comes with its context words (about window + 1 "
                                  "on average) and negatives for each.", ge=1)
    window: int = field(5, "Largest context reach: each centre word draws b uniformly from 1..window and sees the "
                           "b words either side (within its sentence).", ge=1)
    negatives: int = field(5, "Negative words per (centre, context) pair, drawn from the unigram distribution "
                              "raised to `power` (the paper: 5-20 for small corpora).", ge=1)
    power: float = field(0.75, "Exponent of the unigram counts in the negative-sampling distribution (the paper's "
                               "3/4; 1: plain unigram, 0: uniform).", ge=0)
    subsample: float = field(1e-5, "Subsampling threshold t: each occurrence of a word of frequency f is dropped "
                                   "with probability 1 - sqrt(t / f), drawn afresh every epoch (0: keep all).", ge=0)
    train_limit: int = field(0, "Train on only the first this many tokens of the training text (0: all).", ge=0)
    test_limit: int = field(0, "Validate on only the first this many tokens of the held-out text (0: all).", ge=0)


class ContextBatch(NamedTuple):
    """Centre words with their windows: `context[i, j]` is the word at offset OFFSETS[j] from `center[i]`, PAD
    outside centre i's window; `negatives[i, j]` are the noise words for the pair (center[i], context[i, j])."""

    center: torch.Tensor  # (B,) int64
    context: torch.Tensor  # (B, 2 window) int64, PAD where there is no context word
    negatives: torch.Tensor  # (B, 2 window, K) int64


def offsets(window: int) -> torch.Tensor:
    """Offsets of the context positions around a centre: -window..-1, 1..window."""
    return torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])


def keep_probability(counts: torch.Tensor, t: float) -> torch.Tensor:
    """Per word, the probability that subsampling keeps an occurrence: min(1, sqrt(t / f)), f = count / total;
    words that never occur get 0 (they are not in the stream anyway). t = 0 keeps everything."""
    if t == 0:
        return (counts > 0).double()
    freq = counts.double() / counts.sum()
    return torch.where(counts > 0, (t / freq.clamp_min(1e-300)).sqrt().clamp(max=1.0), 0.0)


def noise_distribution(counts: torch.Tensor, power: float) -> torch.Tensor:
    """The negative-sampling distribution: count^power, normalised; words that never occur get 0."""
    weights = torch.where(counts > 0, counts.double().pow(power), 0.0)
    return weights / weights.sum()


def windows(tokens: torch.Tensor, sentences: torch.Tensor, centers: torch.Tensor, reach: torch.Tensor,
            window: int) -> torch.Tensor:
    """(B, 2 window) context words of positions `centers` of `tokens`: the word at each offset when it lies within
    the centre's `reach` and in the same sentence, PAD elsewhere."""
    off = offsets(window).to(tokens.device)
    pos = centers[:, None] + off[None]  # (B, 2W)
    inside = (pos >= 0) & (pos < len(tokens))
    pos = pos.clamp(0, len(tokens) - 1)
    valid = inside & (off.abs()[None] <= reach[:, None]) & (sentences[pos] == sentences[centers][:, None])
    return torch.where(valid, tokens[pos], PAD)


def _seed(*parts: int) -> int:
    """A well-mixed 63-bit generator seed for a tuple of integers."""
    return int(np.random.SeedSequence([p % 2**63 for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class WordContextStream:
    """The training stream of `ContextBatch`es over one corpus, and a fixed validation batch."""

    def __init__(self, train: tuple[torch.Tensor, torch.Tensor], valid: tuple[torch.Tensor, torch.Tensor],
                 vocab: Vocabulary, cfg: WordContextConfig, seed: int, source: str) -> None:
        self.tokens, self.sentences = train  # (N,) word ids, (N,) sentence numbers
        self.valid_tokens, self.valid_sentences = valid
        if len(self.tokens) < 2:
            raise DataError(f"{source}: the training text has {len(self.tokens)} known words; raise "
                            "--data.train_limit")
        self.cfg, self.seed = cfg, seed
        self.counts = torch.bincount(self.tokens, minlength=len(vocab))  # (V,) occurrences in the training text
        self.keep = keep_probability(self.counts, cfg.subsample)
        self.noise = noise_distribution(self.counts, cfg.power)
        self.meta = DataMeta(kind="text", input_shape=[2 * cfg.window], num_classes=0, class_names=[],
                             vocab=vocab.tokens, tokenizer=vocab.kind, source=source)
        self.batch_size = cfg.batch_size
        self.epoch, self.pos = 0, 0
        self._epoch: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._validation: ContextBatch | None = None

    @property
    def device(self) -> torch.device:
        return self.tokens.device

    @property
    def steps_per_epoch(self) -> int:
        """Batches in an epoch of the expected subsampled length (each epoch's own length varies a little)."""
        expected = float((self.keep * self.counts).sum())
        return max(1, math.ceil(expected / self.batch_size))

    def to(self, device: torch.device | str) -> WordContextStream:
        for name in ("tokens", "sentences", "valid_tokens", "valid_sentences", "counts", "keep", "noise"):
            setattr(self, name, getattr(self, name).to(device))
        self._epoch, self._validation = None, None
        return self

    def _generator(self, *key: int) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(_seed(self.seed, *key))

    def _subsampled(self, tokens: torch.Tensor, sentences: torch.Tensor, key: int):
        """(tokens, sentences, reach) of one subsampled pass over a text: the kept positions and their windows."""
        g = self._generator(key)
        kept = torch.rand(len(tokens), generator=g, device=self.device, dtype=torch.float64) < self.keep[tokens]
        reach = torch.randint(1, self.cfg.window + 1, (int(kept.sum()),), generator=g, device=self.device)
        return tokens[kept], sentences[kept], reach

    def _batch(self, tokens: torch.Tensor, sentences: torch.Tensor, reach: torch.Tensor, centers: torch.Tensor,
               g: torch.Generator) -> ContextBatch:
        """Centres `centers` with their windows and negatives; centres without a context word are left out."""
        context = windows(tokens, sentences, centers, reach[centers], self.cfg.window)
        has = (context != PAD).any(1)
        center, context = tokens[centers[has]], context[has]
        n = context.numel() * self.cfg.negatives
        negatives = torch.multinomial(self.noise.float(), n, replacement=True, generator=g) if n else \
            torch.zeros(0, dtype=torch.long, device=self.device)
        return ContextBatch(center, context, negatives.view(*context.shape, self.cfg.negatives))

    def next_batch(self) -> ContextBatch:
        """The next `batch_size` kept centre positions (fewer at the end of an epoch) with their windows."""
        for _ in range(EMPTY_EPOCHS * (self.steps_per_epoch + 1)):
            if self._epoch is None:
                self._epoch = self._subsampled(self.tokens, self.sentences, self.epoch)
            tokens, sentences, reach = self._epoch
            centers = torch.arange(self.pos, min(self.pos + self.batch_size, len(tokens)), device=self.device)
            batch = self._batch(tokens, sentences, reach, centers, self._generator(self.epoch, self.pos))
            self.pos += self.batch_size
            if self.pos >= len(tokens):
                self.epoch, self.pos, self._epoch = self.epoch + 1, 0, None
            if len(batch.center):
                return batch
        raise DataError(f"{self.meta.source}: no two words are left near each other after subsampling; raise "
                        "--data.train_limit or lower --data.subsample")

    def validation(self) -> ContextBatch:
        """A fixed batch from the held-out text, subsampled and windowed as training is, with fixed negatives:
        the same every evaluation, so its loss is comparable along a run."""
        if self._validation is None:
            tokens, sentences, reach = self._subsampled(self.valid_tokens, self.valid_sentences, VALIDATION_KEY)
            centers = torch.arange(len(tokens), device=self.device)
            self._validation = self._batch(tokens, sentences, reach, centers, self._generator(VALIDATION_KEY, 0))
        return self._validation

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._epoch = None


def encode_sentences(sentences: list[list[str]], vocab: Vocabulary, limit: int = 0) -> tuple[torch.Tensor,
                                                                                             torch.Tensor]:
    """(word ids, sentence numbers) of tokenised sentences, the first `limit` tokens (0: all), with the words the
    vocabulary does not have removed."""
    ids = [vocab.index.get(w, UNK) for s in sentences for w in s]
    numbers = torch.repeat_interleave(torch.arange(len(sentences)), torch.tensor([len(s) for s in sentences]))
    tokens = torch.tensor(ids, dtype=torch.long)
    if limit:
        tokens, numbers = tokens[:limit], numbers[:limit]
    known = tokens != UNK
    return tokens[known], numbers[known]


def frequency_vocabulary(sentences: list[list[str]], *, skip: tuple[str, ...] = (), min_count: int = 1,
                         max_size: int = 0) -> Vocabulary:
    """The words of `sentences`, most frequent first (ties in first-seen order), without `skip`."""
    from collections import Counter

    counts = Counter(w for s in sentences for w in s)
    kept = [w for w, n in counts.most_common() if n >= min_count and w not in skip]
    return Vocabulary(kept[:max_size] if max_size else kept, "word")


@register_data("ptb-words", config=WordContextConfig)
def build_ptb_words(cfg: WordContextConfig, seed: int) -> WordContextStream:
    """Penn Treebank (Mikolov's split, 887,521 training tokens, 10,000 words with `<unk>`): train on its training
    text, validate on its validation text. The text is already lower-cased and tokenised: words are split on
    spaces, one sentence a line."""
    ptb = corpora.penn_treebank()
    train, valid = ([line.split() for line in ptb[s].splitlines()] for s in ("train", "valid"))
    vocab = frequency_vocabulary(train, skip=("<unk>",))
    return WordContextStream(encode_sentences(train, vocab, cfg.train_limit),
                             encode_sentences(valid, vocab, cfg.test_limit), vocab, cfg, seed, "ptb-words")


@register_data("shakespeare-words", config=WordContextConfig)
def build_shakespeare_words(cfg: WordContextConfig, seed: int) -> WordContextStream:
    """Shakespeare's 42 works (modern spelling) as lower-cased words without punctuation, one line a sentence: the
    last 10% of the lines held out for validation; words seen fewer than 5 times are dropped (word2vec's
    min_count)."""
    lines = [[w for w in tokenize(line, "word") if w[0].isalnum()] for line in corpora.shakespeare().splitlines()]
    lines = [line for line in lines if line]
    cut = int(len(lines) * 0.9)
    train, valid = lines[:cut], lines[cut:]
    vocab = frequency_vocabulary(train, min_count=5)
    return WordContextStream(encode_sentences(train, vocab, cfg.train_limit),
                             encode_sentences(valid, vocab, cfg.test_limit), vocab, cfg, seed,
                             "shakespeare-words")

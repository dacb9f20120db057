"""Text as one long stream of character ids for language modelling (curriculum S5, S9): Shakespeare or a text
file of your own, its last 10% held out for validation.

The token tensor lives on the device and a batch is one gather, in one of two layouts:

- streams (truncated BPTT, Karpathy's char-rnn, d2l's sequential partitioning): the training text is cut into B
  equal contiguous streams; batch k holds chunk k (T tokens) of every stream, so row b of one batch continues row b
  of the batch before and a recurrent model carries its hidden state from one batch to the next. A pass ends when
  the streams run out; the next starts from their beginnings again (`TextBatch.reset`).
- windows (nanoGPT's get_batch): B windows of T + 1 tokens at uniformly random offsets; the offsets of draw k come
  from a generator seeded by (seed, k), so the stream's whole state is a counter.

The vocabulary is the training text's characters, most frequent first, after the special ids of
`neuralab.data.vocab`; a character that appears only in the validation text maps to <unk>.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from neuralab.config import absolute_path, field
from neuralab.data import corpora
from neuralab.data.tensors import DataMeta
from neuralab.data.vocab import SPECIALS, UNK, Vocabulary
from neuralab.errors import DataError
from neuralab.registry import register_data

LAYOUTS = ("streams", "windows")
MIN_CHARS = 3  # the fewest training characters a stream of (input, next character) pairs can be made from


@dataclass(frozen=True)
class TextStreamConfig:
    """A character stream for a language model."""

    batch_size: int = field(64, "Sequences per training step (B): parallel streams or random windows.", ge=1)
    seq_len: int = field(100, "Tokens per sequence (T): the truncated-BPTT chunk (streams) or the window "
                              "(windows; at most a GPT's block_size).", ge=1)
    layout: str = field("streams", "streams: B contiguous streams read T tokens at a time, each batch continuing "
                                   "where the last ended (truncated BPTT with the hidden state carried); windows: "
                                   "B windows at random offsets (nanoGPT's get_batch).", choices=LAYOUTS)
    path: str | None = field(None, "Your own UTF-8 text file instead of Shakespeare (--data.path FILE.txt).")
    val_fraction: float = field(0.1, "Share of the text, taken from its end, held out for validation.",
                                gt=0, le=0.5)
    train_limit: int = field(0, "Train on only the first this many characters of the training text (0: all).",
                             ge=0)
    test_limit: int = field(0, "Evaluate on only the first this many characters of the validation text (0: "
                               "all): quick checks, not results.", ge=0)

    def __post_init__(self) -> None:
        if self.path:  # absolute in config.json, so `eval` finds the file from any folder
            object.__setattr__(self, "path", absolute_path(self.path))


class TextBatch(NamedTuple):
    """Inputs x (B, T) and next-token targets y (B, T); `reset` is True on the first chunk of a pass over the
    streams, where a carried hidden state must start afresh."""

    x: torch.Tensor
    y: torch.Tensor
    reset: bool


def char_ids(text: str, vocab: Vocabulary) -> torch.Tensor:
    """int64 ids of `text`'s characters (unseen ones -> UNK), vectorised: 5M characters in well under a second."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    chars = vocab.tokens[len(SPECIALS):]
    table = np.full(max([int(codes.max(initial=0)), *map(ord, chars)]) + 1, UNK, dtype=np.int64)
    table[[ord(c) for c in chars]] = np.arange(len(SPECIALS), len(vocab.tokens))
    return torch.from_numpy(table[codes])


def char_vocabulary(text: str) -> Vocabulary:
    """The characters of `text`, most frequent first (ties: first seen first), as Vocabulary.build orders them."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    chars, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    return Vocabulary([chr(int(c)) for c in chars[order]], "char")


def streams(tokens: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`tokens` (N,) cut into `count` contiguous rows: inputs and targets (count, L), targets shifted by one."""
    length = (len(tokens) - 1) // count
    x = tokens[:count * length].view(count, length)
    y = tokens[1:count * length + 1].view(count, length)
    return x, y


def windows(tokens: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`tokens` (N,) cut into consecutive non-overlapping windows: inputs and targets (N // length, length)."""
    count = (len(tokens) - 1) // length
    return tokens[:count * length].view(count, length), tokens[1:count * length + 1].view(count, length)


class TextStream:
    """Training and validation ids of one text on one device, served as `TextBatch`es (see the module doc)."""

    def __init__(self, train: torch.Tensor, val: torch.Tensor, meta: DataMeta, *, batch_size: int, seq_len: int,
                 layout: str, seed: int) -> None:
        if len(train) < MIN_CHARS or len(val) < 2:
            raise DataError(f"{meta.source}: too little text ({len(train)} training and {len(val)} validation "
                            "characters); a language model needs at least a few dozen")
        self.train, self.val, self.meta = train, val, meta
        self.layout, self.seed = layout, seed
        self.seq_len = min(seq_len, len(train) - 1)  # a short text gives shorter sequences, not an error
        self.batch_size = batch_size if layout == "windows" else min(batch_size, (len(train) - 1) // self.seq_len)
        self.pos = 0  # streams: next chunk's start; windows: draws made so far
        self.epoch = 0
        self._streams = streams(train, self.batch_size) if layout == "streams" else None

    @property
    def device(self) -> torch.device:
        return self.train.device

    @property
    def steps_per_epoch(self) -> int:
        """Batches in one pass over the training text (windows: as many as cover it once on average)."""
        if self.layout == "streams":
            return self._streams[0].shape[1] // self.seq_len
        return max(1, (len(self.train) - 1) // (self.batch_size * self.seq_len))

    def to(self, device: torch.device | str) -> TextStream:
        self.train, self.val = self.train.to(device), self.val.to(device)
        if self._streams is not None:
            self._streams = streams(self.train, self.batch_size)
        return self

    def next_batch(self) -> TextBatch:
        t = self.seq_len
        if self.layout == "streams":
            x, y = self._streams
            reset = self.pos == 0
            batch = TextBatch(x[:, self.pos:self.pos + t], y[:, self.pos:self.pos + t], reset)
            self.pos += t
            if self.pos + t > x.shape[1]:  # the streams are used up: the next pass starts at their beginnings
                self.pos, self.epoch = 0, self.epoch + 1
            return batch
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.pos)
        self.pos += 1
        starts = torch.randint(len(self.train) - t, (self.batch_size,), generator=g).to(self.device)
        idx = starts[:, None] + torch.arange(t + 1, device=self.device)  # (B, T + 1): one gather
        window = self.train[idx]
        return TextBatch(window[:, :-1], window[:, 1:], False)

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos, self.epoch = int(state["pos"]), int(state["epoch"])


def _read_user_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path}: {'not a file' if path.exists() else 'not found'} (expected a UTF-8 text file)")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def build_text_stream(text: str, cfg: TextStreamConfig, seed: int, source: str) -> TextStream:
    """Split `text` (the last `val_fraction` held out), build the vocabulary from the training part, encode."""
    cut = len(text) - int(len(text) * cfg.val_fraction)
    train_text, val_text = text[:cut], text[cut:]
    if cfg.train_limit:
        train_text = train_text[:cfg.train_limit]
    if cfg.test_limit:
        val_text = val_text[:cfg.test_limit]
    vocab = char_vocabulary(train_text)
    meta = DataMeta(kind="text", input_shape=[cfg.seq_len], num_classes=0, class_names=[], source=source,
                    vocab=vocab.tokens, tokenizer="char")
    return TextStream(char_ids(train_text, vocab), char_ids(val_text, vocab), meta, batch_size=cfg.batch_size,
                      seq_len=cfg.seq_len, layout=cfg.layout, seed=seed)


@register_data("shakespeare-chars", config=TextStreamConfig)
def build_shakespeare_chars(cfg: TextStreamConfig, seed: int) -> TextStream:
    """Shakespeare's 42 works (5.06M characters; `neuralab.data.corpora`), or `--data.path FILE.txt`."""
    if cfg.path:
        path = Path(cfg.path)
        return build_text_stream(_read_user_text(path), cfg, seed, str(path))
    return build_text_stream(corpora.shakespeare(), cfg, seed, "shakespeare")

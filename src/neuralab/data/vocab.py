"""Tokenisers and the vocabulary that maps tokens to ids: the one text layer every sequence recipe shares.

A vocabulary is a list of tokens; a token's id is its index. The first ids are the special tokens, always in
the same places, so every model can rely on them: 0 pads, 1 stands for anything not seen in training, 2 and 3
begin and end a sequence. A run stores its vocabulary in `config.json` (`DataMeta.vocab`, `DataMeta.tokenizer`),
so sampling, translating or classifying new text rebuilds exactly the mapping it was trained with.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import torch

from neuralab.errors import UserError

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")
TOKENIZERS = ("char", "word")
# Words (letters, digits, apostrophes inside words) or single punctuation marks; lower-cased.
_WORD = re.compile(r"[\w]+(?:'[\w]+)*|[^\w\s]")
_SPACE_BEFORE = re.compile(r" ([.,;:!?)\]}%\u00bb\u201d])")  # no space before closing punctuation
_SPACE_AFTER = re.compile(r"([(\[{\u00bf\u00a1\u00ab\u201c]) ")  # nor after opening marks


def tokenize(text: str, kind: str) -> list[str]:
    """`text` as tokens: characters (`char`, case and spaces kept) or lower-cased words and punctuation (`word`)."""
    if kind == "char":
        return list(text)
    if kind == "word":
        return _WORD.findall(text.lower())
    raise ValueError(f"unknown tokenizer {kind!r}; choose from {TOKENIZERS}")


def detokenize(tokens: Iterable[str], kind: str) -> str:
    """Tokens joined back into text: characters as they are, words by spaces, with closing punctuation attached to
    the word before it and opening marks to the word after ("tierra ." -> "tierra.", "¿ que" -> "¿que")."""
    if kind == "char":
        return "".join(tokens)
    return _SPACE_AFTER.sub(r"\1", _SPACE_BEFORE.sub(r"\1", " ".join(tokens)))


class Vocabulary:
    """Token <-> id mapping with the special tokens first (ids PAD, UNK, BOS, EOS)."""

    def __init__(self, tokens: Iterable[str], kind: str) -> None:
        self.tokens = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        if kind not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {kind!r}; choose from {TOKENIZERS}")
        self.kind = kind
        self.index = {t: i for i, t in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("a vocabulary lists each token once")

    @classmethod
    def build(cls, texts: Iterable[str], kind: str, *, min_count: int = 1, max_size: int = 0) -> Vocabulary:
        """The tokens of `texts` seen at least `min_count` times, most frequent first (ties in first-seen order),
        at most `max_size` of them besides the specials (0: no limit)."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(tokenize(text, kind))
        kept = [t for t, n in counts.most_common() if n >= min_count]
        return cls(kept[:max_size] if max_size else kept, kind)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of `text`'s tokens; a token never seen in training maps to UNK."""
        ids = [self.index.get(t, UNK) for t in tokenize(text, self.kind)]
        return ([BOS] if bos else []) + ids + ([EOS] if eos else [])

    def decode(self, ids: Iterable[int], *, strip: bool = True) -> str:
        """Text of `ids`; with `strip`, padding and begin/end marks are left out and decoding stops at EOS."""
        out = []
        for i in ids:
            i = int(i)
            if strip and i == EOS:
                break
            if strip and i in (PAD, BOS):
                continue
            out.append(self.tokens[i])
        return detokenize(out, self.kind)

    def unknown(self, text: str) -> list[str]:
        """The tokens of `text` this vocabulary does not have (they would become <unk>)."""
        return [t for t in tokenize(text, self.kind) if t not in self.index]

    def pad(self, sequences: list[list[int]], length: int = 0) -> torch.Tensor:
        """(N, T) int64 of `sequences`, right-padded with PAD to `length` or the longest; longer ones are cut."""
        length = length or max((len(s) for s in sequences), default=1)
        out = torch.full((len(sequences), length), PAD, dtype=torch.long)
        for i, s in enumerate(sequences):
            s = s[:length]
            out[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        return out

    def encode_prompt(self, text: str, *, what: str = "prompt") -> list[int]:
        """Ids of a user's text: an empty one, or one made only of unknown tokens, is refused in one line."""
        ids = self.encode(text)
        if not ids:
            raise UserError(f"the {what} is empty; give some text")
        if all(i == UNK for i in ids):
            shown = ", ".join(repr(t) for t in sorted(set(self.unknown(text)))[:5])
            raise UserError(f"the {what} has no token this run was trained on ({shown}); use words or characters "
                            "from its training text")
        return ids

"""In-memory supervised data: tensors on the device, batched by index with a resumable order.

Each epoch's order is a permutation drawn from a generator seeded by (seed, epoch), so the whole state
of the stream is two integers and a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from neuralab.data.vocab import SPECIALS, Vocabulary
from neuralab.errors import DataError

IGNORE_INDEX = -100  # a per-step label that counts for nothing (padding); cross-entropy's ignore_index


@dataclass
class DataMeta:
    """What a trained model needs to know about its data to predict on new inputs."""

    kind: str  # "images", "features" or "text" (token ids, see neuralab.data.vocab)
    input_shape: list[int]
    num_classes: int
    class_names: list[str]
    feature_names: list[str] = field(default_factory=list)
    mean: float | list[float] = 0.0  # subtracted after scaling pixels to [0, 1]
    std: float | list[float] = 1.0
    pixel_scale: float = 1.0  # raw inputs are divided by this before `mean`/`std` apply
    source: str = ""
    fill: list[float] = field(default_factory=list)  # per feature: the value of a missing CSV cell (NaN), else []
    notes: list[str] = field(default_factory=list)  # what reading the data changed (rows dropped, cells filled)
    vocab: list[str] = field(default_factory=list)  # text: the tokens, a token's id is its index (data.vocab)
    tokenizer: str = ""  # text: "char" or "word"
    target_vocab: list[str] = field(default_factory=list)  # translation: the target language's tokens, when separate
    target_shape: list[int] = field(default_factory=list)  # regression: one target's shape ([horizon], [steps])

    def vocabulary(self) -> Vocabulary:
        """The run's token <-> id mapping; only text data has one."""
        if not self.vocab:
            raise DataError(f"{self.source or 'this data'} is not text: it has no vocabulary")
        return Vocabulary(self.vocab[len(SPECIALS):], self.tokenizer)

    def target_vocabulary(self) -> Vocabulary:
        """The target side's mapping of a translation set with its own vocabulary, else the source's."""
        if not self.target_vocab:
            return self.vocabulary()
        return Vocabulary(self.target_vocab[len(SPECIALS):], self.tokenizer)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataMeta:
        return cls(**d)


class SupervisedData:
    """Train/val/test splits as tensors on one device, served in shuffled mini-batches.

    `x_*` are float tensors already normalised; `y_*` are int64 class labels (or float targets).
    """

    def __init__(self, train: tuple[torch.Tensor, torch.Tensor], test: tuple[torch.Tensor, torch.Tensor],
                 meta: DataMeta, *, batch_size: int, seed: int, val: tuple[torch.Tensor, torch.Tensor] | None = None,
                 shuffle: bool = True, drop_last: bool = False) -> None:
        for name, (x, y) in {"train": train, "test": test, **({"val": val} if val else {})}.items():
            if len(x) != len(y):
                raise DataError(f"{meta.source or 'data'}: {name} split has {len(x)} inputs but {len(y)} labels")
            if len(x) == 0:
                raise DataError(f"{meta.source or 'data'}: {name} split is empty")
        self.x_train, self.y_train = train
        self.x_test, self.y_test = test
        self.x_val, self.y_val = val if val else (None, None)
        self.meta = meta
        self.batch_size = min(batch_size, len(self.x_train))
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.epoch = 0
        self.pos = 0
        self._order: torch.Tensor | None = None
        self.is_shape_only = False  # True: stands in for data that was not loaded (`shape_only`)

    @classmethod
    def shape_only(cls, meta: DataMeta) -> SupervisedData:
        """One all-zero example of the saved input shape per split: enough to rebuild a trained model and
        its method for predicting, without the training data."""
        x = torch.zeros(1, *meta.input_shape, dtype=torch.long if meta.kind == "text" else torch.float)
        y = torch.zeros(1, dtype=torch.long) if meta.num_classes else torch.zeros(1, 1)
        data = cls((x, y), (x, y), meta, batch_size=1, seed=0)
        data.is_shape_only = True
        return data

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def steps_per_epoch(self) -> int:
        n = len(self.x_train)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def to(self, device: torch.device | str) -> SupervisedData:
        for name in ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.to(device))
        self._order = None
        return self

    def _epoch_order(self) -> torch.Tensor:
        if self._order is None:
            n = len(self.x_train)
            if self.shuffle:
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
                self._order = torch.randperm(n, generator=g).to(self.device)
            else:
                self._order = torch.arange(n, device=self.device)
        return self._order

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next mini-batch (x, y); a new shuffled epoch starts when this one is used up."""
        order = self._epoch_order()
        idx = order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        if self.pos >= len(order) or (self.drop_last and self.pos + self.batch_size > len(order)):
            self.epoch += 1
            self.pos = 0
            self._order = None
        return self.x_train[idx], self.y_train[idx]

    def split(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        x = getattr(self, f"x_{name}")
        return None if x is None else (x, getattr(self, f"y_{name}"))

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.pos = int(state["epoch"]), int(state["pos"])
        self._order = None


def split_validation(x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int):
    """Hold out a seeded random `fraction` of (x, y) for validation -> (train, val or None)."""
    if fraction <= 0:
        return (x, y), None
    g = torch.Generator().manual_seed(seed + 7919)
    order = torch.randperm(len(x), generator=g)
    n_val = max(1, int(round(len(x) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])

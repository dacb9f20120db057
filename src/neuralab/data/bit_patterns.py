"""A few binary patterns, each equally likely: the toy distributions a Boltzmann machine learns exactly (curriculum
E5), such as the 2-bit XOR (v3 = v1 xor v2: 000, 011, 101, 110), which no machine without hidden units can
represent, since every pair of its bits is independent and uniform.

The patterns are strings of 0 and 1 of one length V. The training set repeats them in turn to `n_train` rows, so
its empirical distribution is exactly uniform over them (a pattern given twice counts twice); the test set holds
each pattern once. A row's label is the index of its pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.errors import UserError
from neuralab.registry import register_data

XOR = ("000", "011", "101", "110")


@dataclass(frozen=True)
class BitPatternsConfig:
    patterns: tuple[str, ...] = field(XOR, "The patterns, strings of 0 and 1 of one length (e.g. 000,011,101,110: "
                                           "the 2-bit XOR).", nonempty=True)
    n_train: int = field(1000, "Training rows: the patterns repeated in turn.", ge=1)
    batch_size: int = field(100, "Rows per training step.", ge=1)


def pattern_tensor(patterns: tuple[str, ...]) -> torch.Tensor:
    """The patterns as rows (P, V) of 0.0 and 1.0; a malformed pattern is the user's mistake."""
    if any(set(p) - {"0", "1"} or not p for p in patterns):
        raise UserError(f"--data.patterns {','.join(patterns)}: each pattern is a string of 0 and 1")
    if len({len(p) for p in patterns}) != 1:
        raise UserError(f"--data.patterns {','.join(patterns)}: the patterns have different lengths")
    return torch.tensor([[float(bit) for bit in p] for p in patterns])


@register_data("bit-patterns", config=BitPatternsConfig)
def build_bit_patterns(cfg: BitPatternsConfig, seed: int) -> SupervisedData:
    x = pattern_tensor(cfg.patterns)
    labels = torch.arange(len(x))
    index = torch.arange(cfg.n_train) % len(x)
    meta = DataMeta(kind="features", input_shape=[x.shape[1]], num_classes=len(x), class_names=list(cfg.patterns),
                    feature_names=[f"v{i + 1}" for i in range(x.shape[1])], source="bit-patterns")
    return SupervisedData((x[index], labels[index]), (x, labels), meta, batch_size=cfg.batch_size, seed=seed)

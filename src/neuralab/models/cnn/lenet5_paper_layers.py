"""The three layers of LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998, section II.B) that modern re-implementations
replace: the sparse C3 connection table (their Table I), the trainable subsampling of S2 and S4, and the
Euclidean RBF output units with fixed codes. With all three the network has the paper's 60,000 trainable
parameters (`LeNet5Config(c3="table", pool="trainable", output="rbf")`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Table I: the S2 maps each C3 map reads. Maps 0-5 read three neighbouring maps, 6-11 four neighbouring maps,
# 12-14 four maps in two pairs, and 15 all six; the paper's reasons: fewer connections, and broken symmetry.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


class SparseC3(nn.Module):
    """C3 with Table I's connections: 16 maps of 5x5 kernels over 3, 4 or 6 of the six S2 maps, 1,516 parameters
    (a full connection has 2,416). The maps that read the same number of inputs are one grouped convolution over
    the gathered inputs, so the layer is three convolutions, not sixteen."""

    def __init__(self, kernel_size: int = 5) -> None:
        super().__init__()
        self.sizes = sorted({len(inputs) for inputs in C3_TABLE})  # [3, 4, 6]
        self.convs = nn.ModuleList()
        grouped = []  # the C3 maps in the order the grouped convolutions produce them
        for size in self.sizes:
            maps = [j for j, inputs in enumerate(C3_TABLE) if len(inputs) == size]
            grouped += maps
            gather = torch.tensor([i for j in maps for i in C3_TABLE[j]])
            self.register_buffer(f"gather_{size}", gather, persistent=False)
            self.convs.append(nn.Conv2d(size * len(maps), len(maps), kernel_size, groups=len(maps)))
        # puts the groups' outputs back in map order
        self.register_buffer("order", torch.tensor(grouped).argsort(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 6, H, W) -> (B, 16, H - 4, W - 4)
        parts = [conv(x.index_select(1, getattr(self, f"gather_{size}")))
                 for size, conv in zip(self.sizes, self.convs, strict=True)]
        return torch.cat(parts, 1).index_select(1, self.order)


class TrainableSubsampling(nn.Module):
    """S2/S4: each map's 2x2 sums times a trainable coefficient plus a trainable bias (two parameters a map)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.coefficient = nn.Parameter(torch.full((channels,), 0.25))  # starts as the 2x2 average
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H/2, W/2)
        sums = 4 * F.avg_pool2d(x, 2)
        return sums * self.coefficient[:, None, None] + self.bias[:, None, None]


class EuclideanRBF(nn.Module):
    """Output units y_i = sum_j (x_j - w_ij)^2 with fixed codes w_i in {-1, +1}^84 (paper equation 7), returned
    negated as logits: cross-entropy on -y is then the paper's MAP criterion (equation 9) without its constant j.
    The paper drew its codes as stylised 7x12 bitmaps of the characters; these are fixed pseudo-random +-1 codes
    (seeded, so every run and every checkpoint has the same ones). They are a buffer, not parameters."""

    def __init__(self, in_features: int, num_classes: int, seed: int = 1998) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        codes = torch.randint(0, 2, (num_classes, in_features), generator=g).float() * 2 - 1
        self.register_buffer("codes", codes)  # (num_classes, in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, in_features) -> (B, num_classes)
        return -(x[:, None, :] - self.codes).pow(2).sum(-1)

"""CPU inference latency: the median wall time of one forward pass over repeated calls.

The median, not the mean, because other processes on a shared machine add rare long stalls. Calls run
under `torch.inference_mode` after untimed warm-up calls (oneDNN and fbgemm pick and cache kernels on the
first calls), with a fixed number of torch threads that the caller states next to the figure.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

WARMUP = 5


@contextmanager
def threads(n: int) -> Iterator[None]:
    """torch uses `n` CPU threads inside the block, its previous number after."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def median_ms(model: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median milliseconds of `model(x)` over `repeats` timed calls, in evaluation mode."""
    model.eval()
    with torch.inference_mode():
        for _ in range(WARMUP):
            model(x)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def batch_of(x: torch.Tensor, size: int) -> torch.Tensor:
    """The first `size` examples of `x`, cycled when `x` has fewer."""
    reps = -(-size // len(x))
    return x.repeat(reps, *([1] * (x.dim() - 1)))[:size].contiguous()

"""Data-parallel sharding (neuralab.distributed) without a process group: shards, weights, refusals."""

from __future__ import annotations

import pytest
import torch

from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.distributed import Processes
from neuralab.errors import UserError


def toy_data(n: int, batch_size: int) -> SupervisedData:
    meta = DataMeta(kind="features", input_shape=[2], num_classes=2, class_names=["a", "b"])
    x, y = torch.randn(n, 2), torch.arange(n) % 2
    return SupervisedData((x, y), (x, y), meta, batch_size=batch_size, seed=0)


def test_shards_partition_the_global_batch_and_weights_sum_to_one():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    ranks = [Processes(rank=r, world_size=3, active=True) for r in range(3)]
    shards = [p.shard((x, y)) for p in ranks]
    assert [len(sx) for sx, _ in shards] == [4, 3, 3]
    assert [p.weight for p in ranks] == [0.4, 0.3, 0.3]
    assert sorted(torch.cat([sy for _, sy in shards]).tolist()) == list(range(10))
    for sx, sy in shards:
        assert torch.equal(sx.squeeze(1).long(), sy)  # inputs and labels stay paired
    # Weighted shard means add up to the global mean, which is what the gradient hook relies on.
    weighted = sum(p.weight * (sx ** 2).mean() for p, (sx, _) in zip(ranks, shards, strict=True))
    assert weighted.item() == pytest.approx((x ** 2).mean().item())


def test_single_process_passes_batches_through():
    batch = (torch.randn(5, 2), torch.zeros(5))
    assert Processes().shard(batch) is batch


def test_batch_size_not_divisible_by_processes_is_refused():
    with pytest.raises(UserError, match=r"^--data.batch_size 63 is not divisible by the 2 processes"):
        Processes(world_size=2, active=True).check_data(toy_data(200, 63))


def test_last_batch_smaller_than_the_number_of_processes_is_refused():
    Processes(world_size=4, active=True).check_data(toy_data(100, 8))  # last batch of 4: one row per rank
    with pytest.raises(UserError, match="last batch of each epoch has 3 examples, fewer than the 4 processes"):
        Processes(world_size=4, active=True).check_data(toy_data(99, 8))

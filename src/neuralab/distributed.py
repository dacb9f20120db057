"""Data-parallel training over several processes (Li et al., "PyTorch Distributed: Experiences on
Accelerating Data Parallel Training", 2020; curriculum H1): torch.distributed DDP started by `torchrun`.

`torchrun --nproc_per_node=N -m neuralab train RECIPE` starts N copies of one run. Every copy (rank) builds
the same data, model and seeds; at each step every rank draws the same global batch from the identically
seeded order and keeps its own shard of it (examples rank, rank + N, ...). DDP adds the ranks' gradients,
each weighted by its shard's share of the global batch, so N processes make the same update one process
makes on the whole batch (also for the smaller last batch of an epoch). Training metrics are averaged the
same way, evaluation runs on every rank and rank 0's numbers are used, so all ranks take the same
decisions (stop, early stopping, divergence); rank 0 alone writes files.
"""

# No `from __future__ import annotations`: DDP checks the comm hook's annotations as real types.
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from neuralab.errors import UserError


def launched() -> bool:
    """True in a process started by torchrun (or any launcher that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


@dataclass
class Processes:
    """This process's place in the data-parallel group; the defaults describe a single process."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world_size: int = 1
    active: bool = False  # a process group exists
    weight: float = 1.0  # this rank's share of the current global batch

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wait_for_all(self) -> None:
        """Return once every rank gets here, so no process leaves the group while rank 0 still writes."""
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()
        self.active = False

    def check_data(self, data: Any) -> None:
        """Refuse data whose global batches cannot be cut into one non-empty shard per rank."""
        if not self.active:
            return
        batch = getattr(data, "batch_size", None)
        train = data.split("train") if hasattr(data, "split") else None
        if batch is None or train is None:
            raise UserError(f"data-parallel training needs a batched supervised data source; "
                            f"{type(data).__name__} is not one")
        if batch % self.world_size:
            raise UserError(f"--data.batch_size {batch} is not divisible by the {self.world_size} processes; "
                            f"choose a multiple of {self.world_size}")
        last = len(train[0]) % batch
        if last and last < self.world_size and not getattr(data, "drop_last", False):
            raise UserError(f"the last batch of each epoch has {last} examples, fewer than the "
                            f"{self.world_size} processes; change --data.batch_size or --data.train_limit")

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model as the method should train it: DDP over the group, or the model itself alone."""
        if not self.active:
            return model
        ddp = _DataParallel(model, device_ids=[self.device] if self.device.type == "cuda" else None)
        ddp.register_comm_hook(self, _weighted_allreduce)
        return ddp

    def shard(self, batch: Any) -> Any:
        """This rank's examples of a global batch (x, y, ...): rows rank, rank + N, rank + 2N, ..."""
        if not self.active:
            return batch
        if not isinstance(batch, Sequence) or not all(isinstance(t, torch.Tensor) for t in batch):
            raise UserError("data-parallel training needs batches that are tuples of tensors")
        n = len(batch[0])
        self.weight = len(range(self.rank, n, self.world_size)) / n
        return type(batch)(t[self.rank::self.world_size] for t in batch)

    def agree(self, metrics: dict[str, float], *flags: bool) -> tuple[dict[str, float], list[bool]]:
        """Global-batch means of this step's shard metrics, and each flag raised on any rank."""
        if not self.active:
            return metrics, list(flags)
        values = [self.weight * v for v in metrics.values()] + [float(f) for f in flags]
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        out = t.tolist()
        return dict(zip(metrics, out[:len(metrics)], strict=True)), [v > 0 for v in out[len(metrics):]]

    def from_main(self, metrics: dict[str, float]) -> dict[str, float]:
        """Rank 0's values of metrics that every rank computed (evaluation), so decisions agree exactly."""
        if not self.active or not metrics:
            return metrics
        t = torch.tensor(list(metrics.values()), dtype=torch.float64, device=self.device)
        dist.broadcast(t, src=0)
        return dict(zip(metrics, t.tolist(), strict=True))

    def same_text(self, text: str) -> str:
        """Rank 0's `text` on every rank (e.g. a default run directory named after the clock)."""
        if not self.active:
            return text
        raw = torch.tensor(list(text.encode()), dtype=torch.uint8, device=self.device)
        size = torch.tensor([len(raw)], device=self.device)
        dist.broadcast(size, src=0)
        buf = raw if self.is_main else torch.empty(int(size), dtype=torch.uint8, device=self.device)
        dist.broadcast(buf, src=0)
        return bytes(buf.tolist()).decode()


def leave(code: int) -> None:
    """End a data-parallel process now that its run is written and its process group destroyed.

    The DDP wrapper, still referenced, keeps the gloo group's worker threads alive; torn down during interpreter
    finalisation they can abort the process ("terminate called without an active exception", SIGABRT; see
    pytorch/pytorch#179291), which torchrun reports as a failed run after a good one. os._exit skips finalisation.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def start(device: torch.device) -> Processes:
    """Join the process group when started by torchrun (gloo on CPU, NCCL on CUDA); else one process."""
    if not launched():
        return Processes(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if device.type == "cuda":
        if device.index is not None and world > 1:
            raise UserError(f"--device {device}: under torchrun each process uses cuda:LOCAL_RANK; "
                            f"use --device cuda or auto")
        if local >= torch.cuda.device_count():
            raise UserError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA GPUs here; "
                            f"start at most that many processes per node")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    elif device.type == "cpu":
        dist.init_process_group("gloo")
    else:
        raise UserError(f"--device {device}: data-parallel training runs on cpu or cuda")
    return Processes(device=device, rank=rank, world_size=world, active=True)


class _DataParallel(DistributedDataParallel):
    """DDP whose state dict is the wrapped model's own: checkpoints read the same with or without it."""

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.module.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        return self.module.load_state_dict(state_dict, strict=strict, assign=assign)


def _weighted_allreduce(procs: Processes, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """Sum over ranks of each shard's mean gradient times its share of the batch: the global-batch mean."""
    buffer = bucket.buffer().mul_(procs.weight)
    return dist.all_reduce(buffer, async_op=True).get_future().then(lambda fut: fut.value()[0])

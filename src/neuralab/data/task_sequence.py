"""Task sequences for continual learning (curriculum R6): permuted MNIST (Goodfellow, Mirza, Xiao, Courville,
Bengio, "An empirical investigation of catastrophic forgetting in gradient-based neural networks", 2013; the
benchmark of Kirkpatrick et al. 2017) and split MNIST (Zenke, Poole, Ganguli, "Continual learning through synaptic
intelligence", 2017).

One network meets the tasks one after another, `steps_per_task` mini-batches each, and never sees an earlier task's
stream again. Both sources reuse the registered `mnist` source's tensors (normalised once, on the run's device):

- **permuted-mnist**: every task is the whole of MNIST with its 784 pixels shuffled by one fixed permutation, drawn
  from a generator seeded by (run seed, task). The classes stay the digits 0-9, so one 10-way output serves every
  task; what changes from task to task is the input distribution (the "domain-incremental" scenario of van de Ven
  & Tolias, "Three scenarios for continual learning", 2019). A permutation is a bijection of the pixels, so each
  task is exactly as hard as MNIST for a fully connected net, and the tasks interfere because they share weights.
- **split-mnist**: five tasks of two digits each, (0, 1), (2, 3), ..., (8, 9). `scenario` says what the network is
  told: `task` (task-incremental, the default) gives it the task's identity at training and test time, so it picks
  between the two digits of that task only (its other outputs are masked: the "multi-headed" split MNIST of Zenke
  et al.); `class` (class-incremental) asks it to tell all ten digits apart without being told the task, where a
  regulariser such as EWC is known not to help and only replay does (van de Ven & Tolias 2019).

A batch is a `TaskBatch` (inputs, labels, task index, whether it is the task's last). A task's training examples
come in shuffled epochs, each order drawn from a generator seeded by (run seed, task, epoch within the task), so the
stream's whole state is the number of batches served: a resumed run sees exactly the batches it would have seen.
Past the last task's steps the stream keeps serving the last task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from neuralab.config import field
from neuralab.data.sources import MnistConfig, build_mnist
from neuralab.data.tensors import DataMeta
from neuralab.errors import DataError
from neuralab.registry import register_data

SCENARIOS = ("task", "class")
PIXELS = 28 * 28


class TaskBatch(NamedTuple):
    """One training batch of a task sequence: x (B, 1, 28, 28), y (B,), the task it belongs to, and whether it is
    that task's last batch (the method consolidates after it: Fisher information, replay memory, accuracy row)."""

    x: torch.Tensor
    y: torch.Tensor
    task: int
    last: bool


@dataclass(frozen=True)
class Task:
    """One task: which examples of the MNIST splits it uses, how it permutes their pixels and which classes it
    may answer."""

    name: str
    train: torch.Tensor  # (N_t,) indices into the training split
    test: torch.Tensor  # (M_t,) indices into the test split
    permutation: torch.Tensor | None  # (784,) new pixel order, None: pixels as they are
    classes: torch.Tensor | None  # labels this task's outputs are restricted to (task-incremental), None: all


@dataclass(frozen=True)
class TaskSequenceConfig:
    """Fields shared by the task-sequence sources."""

    tasks: int = field(5, "Number of tasks in the sequence (split-mnist has at most 5).", ge=1)
    steps_per_task: int = field(500, "Training mini-batches per task; an epoch of the run is one task.", ge=1)
    batch_size: int = field(128, "Examples per training step.", ge=1)
    train_limit: int = field(0, "Use only the first this many MNIST training images (0: all 60,000).", ge=0)
    test_limit: int = field(0, "Evaluate on only the first this many MNIST test images (0: all 10,000).", ge=0)
    root: str | None = field(None, "Folder with the four MNIST IDX files (else env var, cache, packaged copy, "
                                   "download).")


@dataclass(frozen=True)
class PermutedMnistConfig(TaskSequenceConfig):
    """Permuted MNIST: every task shuffles the pixels by its own fixed permutation."""


@dataclass(frozen=True)
class SplitMnistConfig(TaskSequenceConfig):
    scenario: str = field("task", "task: the network is told the task and answers between its two digits "
                                  "(task-incremental); class: it must tell all ten digits apart without being told "
                                  "(class-incremental).", choices=SCENARIOS)


def permutation(seed: int, task: int) -> torch.Tensor:
    """The fixed pixel order (784,) of permuted task `task` under run seed `seed`."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + 7_777 + task)
    return torch.randperm(PIXELS, generator=g)


class TaskSequence:
    """Train and test tensors of MNIST on one device and the tasks cut from them, served task after task."""

    def __init__(self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                 tasks: list[Task], meta: DataMeta, *, steps_per_task: int, batch_size: int, seed: int) -> None:
        for task in tasks:
            if len(task.train) == 0 or len(task.test) == 0:
                raise DataError(f"{meta.source}: task {task.name} has no training or no test examples; raise "
                                "--data.train_limit/--data.test_limit")
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.tasks, self.meta = tasks, meta
        self.steps_per_task, self.batch_size, self.seed = steps_per_task, batch_size, seed
        self.served = 0  # batches served so far: the whole position in the stream
        self._order: tuple[int, int, torch.Tensor] | None = None  # (task, epoch, order) of the current epoch

    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    @property
    def steps_per_epoch(self) -> int:
        """One epoch of the run is one task: `--run.epochs N` trains the first N tasks."""
        return self.steps_per_task

    @property
    def device(self) -> torch.device:
        return self.x_train.device

    @property
    def task(self) -> int:
        """The task the next batch belongs to."""
        return min(self.served // self.steps_per_task, self.num_tasks - 1)

    def to(self, device: torch.device | str) -> TaskSequence:
        self.x_train, self.y_train = self.x_train.to(device), self.y_train.to(device)
        self.x_test, self.y_test = self.x_test.to(device), self.y_test.to(device)
        self.tasks = [Task(t.name, t.train.to(device), t.test.to(device),
                           None if t.permutation is None else t.permutation.to(device),
                           None if t.classes is None else t.classes.to(device)) for t in self.tasks]
        self._order = None
        return self

    def _inputs(self, task: int, x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Images x[idx] (n, 1, 28, 28) as task `task` shows them: pixels permuted by its order, if it has one."""
        perm = self.tasks[task].permutation
        if perm is None:
            return x[idx]
        return x.view(len(x), PIXELS)[idx[:, None], perm[None, :]].view(len(idx), 1, 28, 28)

    def next_batch(self) -> TaskBatch:
        task = self.task
        t = self.tasks[task]
        k = self.served - task * self.steps_per_task  # batches of this task served so far
        per_epoch = -(-len(t.train) // self.batch_size)
        epoch, b = divmod(k, per_epoch)
        if self._order is None or self._order[:2] != (task, epoch):
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + task) * 10_007 + epoch)
            self._order = (task, epoch, t.train[torch.randperm(len(t.train), generator=g).to(self.device)])
        idx = self._order[2][b * self.batch_size:(b + 1) * self.batch_size]
        self.served += 1
        last = self.served == (task + 1) * self.steps_per_task
        return TaskBatch(self._inputs(task, self.x_train, idx), self.y_train[idx], task, last)

    def test_split(self, task: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Task `task`'s test examples (x, y) as it shows them."""
        idx = self.tasks[task].test
        return self._inputs(task, self.x_test, idx), self.y_test[idx]

    def train_sample(self, task: int, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`n` distinct training examples of task `task` (all of them when it has fewer), drawn with `generator`
        (a CPU generator): what a method keeps or measures at the end of that task."""
        train = self.tasks[task].train
        pick = torch.randperm(len(train), generator=generator)[:n].to(self.device)
        return self._inputs(task, self.x_train, train[pick]), self.y_train[train[pick]]

    def class_masks(self) -> torch.Tensor:
        """(T, K) bool: which outputs each task may answer with (all of them unless task-incremental)."""
        masks = torch.ones(self.num_tasks, self.meta.num_classes, dtype=torch.bool, device=self.device)
        for i, t in enumerate(self.tasks):
            if t.classes is not None:
                masks[i] = False
                masks[i, t.classes] = True
        return masks

    def state_dict(self) -> dict[str, Any]:
        return {"served": self.served}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.served = int(state["served"])
        self._order = None


def _mnist(cfg: TaskSequenceConfig, seed: int, source: str):
    """The registered `mnist` source's normalised tensors, and a DataMeta naming this source."""
    base = build_mnist(MnistConfig(batch_size=cfg.batch_size, train_limit=cfg.train_limit,
                                   test_limit=cfg.test_limit, root=cfg.root), seed)
    meta = DataMeta(**{**base.meta.to_dict(), "source": source})
    return base.x_train, base.y_train, base.x_test, base.y_test, meta


@register_data("permuted-mnist", config=PermutedMnistConfig)
def build_permuted_mnist(cfg: PermutedMnistConfig, seed: int) -> TaskSequence:
    x_tr, y_tr, x_te, y_te, meta = _mnist(cfg, seed, "permuted-mnist")
    every_train, every_test = torch.arange(len(x_tr)), torch.arange(len(x_te))
    tasks = [Task(f"permutation {i + 1}", every_train, every_test, permutation(seed, i), None)
             for i in range(cfg.tasks)]
    return TaskSequence(x_tr, y_tr, x_te, y_te, tasks, meta, steps_per_task=cfg.steps_per_task,
                        batch_size=cfg.batch_size, seed=seed)


@register_data("split-mnist", config=SplitMnistConfig)
def build_split_mnist(cfg: SplitMnistConfig, seed: int) -> TaskSequence:
    if cfg.tasks > 5:
        raise DataError(f"--data.tasks {cfg.tasks}: split-mnist has 5 tasks of two digits each")
    x_tr, y_tr, x_te, y_te, meta = _mnist(cfg, seed, "split-mnist")
    tasks = []
    for i in range(cfg.tasks):
        pair = torch.tensor([2 * i, 2 * i + 1])
        tasks.append(Task(f"digits {2 * i}/{2 * i + 1}", torch.isin(y_tr, pair).nonzero().squeeze(1),
                          torch.isin(y_te, pair).nonzero().squeeze(1), None,
                          pair if cfg.scenario == "task" else None))
    return TaskSequence(x_tr, y_tr, x_te, y_te, tasks, meta, steps_per_task=cfg.steps_per_task,
                        batch_size=cfg.batch_size, seed=seed)

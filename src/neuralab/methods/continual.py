"""Continual learning (curriculum R6): one network trained on a sequence of tasks, plainly (catastrophic forgetting),
with replay of earlier tasks' examples, or with elastic weight consolidation (Kirkpatrick et al., "Overcoming
catastrophic forgetting in neural networks", PNAS 2017).

The data is a task sequence (`data/task_sequence.py`): batches of one task at a time, the last of each flagged. The
strategies differ only in what the step adds to the cross-entropy of the current batch:

- `none`: nothing. Gradient descent on the new task moves the shared weights wherever that task wants them, and
  the old tasks' accuracy falls (McCloskey & Cohen 1989's catastrophic interference).
- `replay`: at the end of each task, `replay_per_task` of its training examples, drawn at random, are copied into
  a memory (a per-task quota, as in the episodic memories of Lopez-Paz & Ranzato 2017 and Chaudhry et al. 2019);
  every later step draws `replay_batch` of them uniformly and trains on them with the new batch (one forward pass
  over the concatenation, the loss averaged over both).
- `ewc`: at the end of each task t, the diagonal of the Fisher information F_t of the network's predictive
  distribution is estimated on `fisher_samples` of its training examples, and the weights theta*_t are kept;
  every later step adds `lambda / 2 * sum_t sum_i F_t,i (theta_i - theta*_t,i)^2`, one quadratic anchor per
  finished task, as in the paper (eq. 3 and its multi-task form; their sum is kept as one quadratic of the same
  value and gradient, `Consolidation`). F is the exact expectation over the model's own labels,
  F_i = 1/N sum_n sum_k p(k | x_n) (d log p(k | x_n) / d theta_i)^2, computed from per-example gradients with
  torch.func (no sampling noise; `diagonal_fisher`). No Fisher is computed after the last task: nothing follows
  that it would protect.

At the end of each task the method also measures the accuracy on every task's test set: row i of the accuracy
matrix R[i, j] (accuracy on task j after training task i), which `report()` prints. Everything (weights, optimiser,
generator, memory, the EWC quadratic, R) is in `state_dict`, so a killed run resumes bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.task_sequence import TaskBatch, TaskSequence
from neuralab.errors import UserError
from neuralab.methods.optim import OPTIMIZERS, make_optimizer
from neuralab.registry import register_method

STRATEGIES = ("none", "replay", "ewc")
GRADIENT_FLOATS = 1 << 23  # per-example gradient entries `diagonal_fisher` holds at once (32 MB in float32)


@dataclass(frozen=True)
class ContinualConfig:
    strategy: str = field("none", "none: plain fine-tuning, task after task; replay: train on a memory of earlier "
                                  "tasks' examples with each batch; ewc: elastic weight consolidation, a Fisher-"
                                  "weighted quadratic pull towards each finished task's weights.", choices=STRATEGIES)
    optimizer: str = field("adam", "Optimiser from torch.optim; its state carries over from task to task.",
                           choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate.", gt=0)
    momentum: float = field(0.9, "Momentum for the momentum and nesterov optimisers.", ge=0, le=1)
    ewc_lambda: float = field(100.0, "EWC: lambda of the penalty lambda/2 * sum F (theta - theta*)^2, how much the "
                                     "old tasks' weights count against the new task's loss.", ge=0)
    fisher_samples: int = field(200, "EWC: training examples of a finished task its Fisher information is "
                                      "averaged over.", ge=1)
    replay_per_task: int = field(500, "Replay: examples of each finished task kept in memory.", ge=1)
    replay_batch: int = field(0, "Replay: memory examples mixed into each training batch (0: as many as the batch "
                                 "has).", ge=0)
    eval_batch_size: int = field(2000, "Examples per forward pass when evaluating.", ge=1)


def masked_logits(out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Outputs (B, K) with the classes a task may not answer with (mask False, (B, K) or (K,)) set to -inf: a
    task-incremental network picks among its task's classes only; with every mask True nothing changes."""
    return out.masked_fill(~mask, float("-inf"))


def diagonal_fisher(model: nn.Module, x: torch.Tensor, classes: torch.Tensor | None = None,
                    max_floats: int = GRADIENT_FLOATS) -> dict[str, torch.Tensor]:
    """The diagonal of the Fisher information of `model`'s predictive distribution on inputs x (N, ...):
    F_i = 1/N sum_n sum_k p(k | x_n) (d log p(k | x_n) / d theta_i)^2, for each trainable parameter, by name.

    `classes` (indices) restricts the distribution to those outputs (a task-incremental task's). The gradient of
    every (example, class) pair's log-probability comes from torch.func (vmap of grad), a chunk of pairs at a time
    so that at most `max_floats` gradient entries are held; each is squared and weighted by its probability. The
    model is read in evaluation mode (dropout off, batch norm on its running statistics)."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())
    was_training = model.training
    model.eval()

    def log_probs(p: dict[str, torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, (p, buffers), (inputs,))  # (n, K)
        return (out if classes is None else out[:, classes]).log_softmax(-1)

    def log_prob(p: dict[str, torch.Tensor], one: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return log_probs(p, one[None])[0].gather(0, k[None])[0]

    per_pair = vmap(grad(log_prob), in_dims=(None, 0, 0))  # name -> (pairs, *shape)
    with torch.no_grad():
        prob = torch.cat([log_probs(params, part).exp() for part in x.split(1024)])  # (N, K')
    n, width = prob.shape
    example = torch.arange(n, device=x.device).repeat_interleave(width)  # pairs (example, class), example-major
    label = torch.arange(width, device=x.device).repeat(n)
    weight = prob.reshape(-1)
    fisher = {name: torch.zeros_like(p) for name, p in params.items()}
    chunk = max(1, max_floats // sum(p.numel() for p in params.values()))
    for start in range(0, n * width, chunk):
        pairs = slice(start, start + chunk)
        grads = per_pair(params, x[example[pairs]], label[pairs])
        with torch.no_grad():
            for name, g in grads.items():
                fisher[name] += torch.tensordot(weight[pairs], g.square(), dims=1)
    model.train(was_training)
    return {name: f / n for name, f in fisher.items()}


class Consolidation:
    """EWC's sum over finished tasks of F_t (theta - theta*_t)^2, kept as one quadratic of the same value and gradient:
    sum_t F_t (theta - theta*_t)^2 = A (theta - mu)^2 + r, with A = sum_t F_t, B = sum_t F_t theta*_t, mu = B / A
    (0 where A = 0) and the constant r = sum_t F_t theta*_t^2 - B^2 / A >= 0, summed over the parameters. A step
    then costs one quadratic whatever the number of tasks (a sum of per-task terms costs one per task)."""

    def __init__(self) -> None:
        self.fisher: dict[str, torch.Tensor] = {}  # A
        self.weighted: dict[str, torch.Tensor] = {}  # B
        self.square = 0.0  # sum_t sum_i F_t,i theta*_t,i^2, in float64
        self.tasks = 0
        self.center: dict[str, torch.Tensor] = {}
        self.offset = 0.0

    def add(self, fisher: dict[str, torch.Tensor], params: dict[str, torch.Tensor]) -> None:
        """One more finished task: its Fisher diagonal and weights, by parameter name."""
        for n, f in fisher.items():
            self.fisher[n] = self.fisher.get(n, 0) + f
            self.weighted[n] = self.weighted.get(n, 0) + f * params[n]
        self.square += sum(float((f.double() * params[n].double().square()).sum()) for n, f in fisher.items())
        self.tasks += 1
        self._derive()

    def _derive(self) -> None:
        """mu and r from A, B and the sum of squares (r in float64: a difference of like numbers)."""
        self.center = {n: torch.where(a > 0, self.weighted[n] / a, torch.zeros_like(a)) for n, a in self.fisher.items()}
        explained = sum(float(torch.where(a > 0, self.weighted[n].double().square() / a.double(), 0).sum())
                        for n, a in self.fisher.items())
        self.offset = max(self.square - explained, 0.0)

    def penalty(self, model: nn.Module, lam: float) -> torch.Tensor:
        """lam / 2 * sum_t sum_i F_t,i (theta_i - theta*_t,i)^2 for the model's current weights."""
        params = dict(model.named_parameters())
        total = sum((a * (params[n] - self.center[n]).square()).sum() for n, a in self.fisher.items())
        return lam / 2 * (total + self.offset)

    def state_dict(self) -> dict[str, Any]:
        return {"fisher": self.fisher, "weighted": self.weighted, "square": self.square, "tasks": self.tasks}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.fisher = {n: t.to(device) for n, t in state["fisher"].items()}
        self.weighted = {n: t.to(device) for n, t in state["weighted"].items()}
        self.square, self.tasks = float(state["square"]), int(state["tasks"])
        if self.tasks:
            self._derive()


@register_method("continual", config=ContinualConfig)
class Continual(Method):
    def __init__(self, cfg: ContinualConfig, model: nn.Module, data: TaskSequence, ctx: RunContext) -> None:
        if not isinstance(data, TaskSequence):
            raise UserError("the continual method trains on a task sequence (data permuted-mnist or split-mnist)")
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr, cfg.momentum)
        self.generator = torch.Generator().manual_seed(ctx.seed)  # memory draws, Fisher and replay examples
        self.masks = data.class_masks()  # (T, K)
        self.task = 0  # the task of the latest training batch
        self.tasks_done = 0
        self.accuracy = torch.zeros(data.num_tasks, data.num_tasks, dtype=torch.float64)  # R[i, j], rows < tasks_done
        self.memory: dict[str, torch.Tensor] | None = None  # replay: {"x", "y", "task"} of finished tasks
        self.consolidation = Consolidation()  # ewc: the finished tasks' Fisher-weighted anchors

    def _plain_model(self) -> nn.Module:
        return self.model.module if self.ctx.procs is not None else self.model

    def step(self, batch: TaskBatch) -> dict[str, Any]:
        x, y, task, last = batch
        self.task = task
        self.model.train()
        n_new = len(y)
        tasks = torch.full((n_new,), task, device=y.device)
        if self.cfg.strategy == "replay" and self.memory is not None:
            size = self.cfg.replay_batch or n_new
            pick = torch.randint(len(self.memory["y"]), (size,), generator=self.generator).to(y.device)
            x = torch.cat([x, self.memory["x"][pick]])
            y = torch.cat([y, self.memory["y"][pick]])
            tasks = torch.cat([tasks, self.memory["task"][pick]])
        with self.ctx.autocast():
            out = self.model(x)
        logits = masked_logits(out.float(), self.masks[tasks])
        losses = F.cross_entropy(logits, y, reduction="none")
        objective = losses.mean()
        metrics = {"train/loss": losses[:n_new].mean().detach(), "train/task": float(task + 1)}
        if len(y) > n_new:
            metrics["train/replay_loss"] = losses[n_new:].mean().detach()
        if self.consolidation.tasks:
            penalty = self.consolidation.penalty(self._plain_model(), self.cfg.ewc_lambda)
            objective = objective + penalty
            metrics["train/ewc_penalty"] = penalty.detach()
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()
        metrics["train/acc"] = (logits[:n_new].argmax(-1) == y[:n_new]).float().mean().detach()
        if last:
            self._consolidate(task)
        return metrics

    def _consolidate(self, task: int) -> None:
        """After a task's last step: its row of the accuracy matrix, then what the strategy keeps of the task."""
        self.accuracy[task] = torch.tensor([self._task_accuracy(j) for j in range(self.data.num_tasks)],
                                           dtype=torch.float64)
        self.tasks_done = task + 1
        self.done = self.tasks_done == self.data.num_tasks  # the sequence is over, whatever --run.epochs says
        if self.cfg.strategy == "ewc" and not self.done:  # after the last task there is nothing left to protect it from
            x, _ = self.data.train_sample(task, self.cfg.fisher_samples, self.generator)
            classes = self.masks[task].nonzero().squeeze(1)
            model = self._plain_model()
            fisher = diagonal_fisher(model, x, None if bool(self.masks[task].all()) else classes)
            self.consolidation.add(fisher, {n: p.detach() for n, p in model.named_parameters() if n in fisher})
        elif self.cfg.strategy == "replay":
            x, y = self.data.train_sample(task, self.cfg.replay_per_task, self.generator)
            kept = {"x": x, "y": y, "task": torch.full_like(y, task)}
            self.memory = kept if self.memory is None else {k: torch.cat([self.memory[k], v]) for k, v in kept.items()}

    @torch.no_grad()
    def _task_accuracy(self, task: int) -> float:
        """Accuracy on task `task`'s test set, answering among its classes only."""
        x, y = self.data.test_split(task)
        was_training = self.model.training
        self.model.eval()
        correct = 0
        for i in range(0, len(y), self.cfg.eval_batch_size):
            with self.ctx.autocast():
                out = self.model(x[i:i + self.cfg.eval_batch_size])
            correct += int((masked_logits(out.float(), self.masks[task]).argmax(-1)
                            == y[i:i + self.cfg.eval_batch_size]).sum())
        self.model.train(was_training)
        return correct / len(y)

    def evaluate(self) -> dict[str, float]:
        """Test accuracy on every task seen so far (test/acc_taskJ), their mean (test/acc), the latest task's
        (test/new_acc) and the mean over the earlier ones (test/old_acc, once there are any)."""
        accs = [self._task_accuracy(j) for j in range(self.task + 1)]
        metrics = {f"test/acc_task{j + 1}": a for j, a in enumerate(accs)}
        metrics["test/acc"] = sum(accs) / len(accs)
        metrics["test/new_acc"] = accs[-1]
        if len(accs) > 1:
            metrics["test/old_acc"] = sum(accs[:-1]) / (len(accs) - 1)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        """The accuracy matrix R[i, j] (test accuracy on task j after training task i) as a markdown table, with
        the average over the tasks trained so far and the backward transfer (Lopez-Paz & Ranzato 2017)."""
        done, tasks = self.tasks_done, self.data.tasks
        if not done:
            return (f"Strategy {self.cfg.strategy}: no task finished yet ({self.data.steps_per_task} steps each), "
                    "so no accuracy matrix.")
        R = self.accuracy.tolist()
        names = [t.name for t in tasks]
        lines = [f"Test accuracy on each task after training each task in turn, strategy `{self.cfg.strategy}` "
                 f"({self.data.meta.source}, {self.data.steps_per_task} steps per task). Row: after training task i; "
                 "column: task j; in parentheses, tasks not trained yet.", "",
                 "| after training | " + " | ".join(f"task {j + 1} ({n})" for j, n in enumerate(names))
                 + " | average over trained tasks |", "|---" * (len(tasks) + 2) + "|"]
        for i in range(done):
            cells = [f"{R[i][j]:.3f}" if j <= i else f"({R[i][j]:.3f})" for j in range(len(tasks))]
            lines.append(f"| task {i + 1} | " + " | ".join(cells) + f" | {sum(R[i][:i + 1]) / (i + 1):.3f} |")
        if done > 1:
            last = done - 1
            bwt = sum(R[last][j] - R[j][j] for j in range(last)) / last
            lines += ["", f"Backward transfer after task {done}: mean over tasks 1..{last} of R[{done}, j] - R[j, j] = "
                          f"{bwt:+.3f} (negative: forgetting)."]
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/task_accuracy.png: each task's test accuracy over training, task boundaries marked."""
        from neuralab.viz.continual import plot_task_accuracy

        made = plot_task_accuracy(plots_dir.parent / "metrics.jsonl", plots_dir / "task_accuracy.png",
                                  [t.name for t in self.data.tasks], self.data.steps_per_task,
                                  f"{self.data.meta.source}, strategy {self.cfg.strategy}")
        return [made] if made else []

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "task": self.task, "tasks_done": self.tasks_done,
                "accuracy": self.accuracy.clone(), "memory": self.memory,
                "ewc": self.consolidation.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        device = self.ctx.device
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.task, self.tasks_done = int(state["task"]), int(state["tasks_done"])
        self.done = self.tasks_done == self.data.num_tasks
        self.accuracy = state["accuracy"].clone()
        memory = state.get("memory")
        self.memory = None if memory is None else {k: v.to(device) for k, v in memory.items()}
        self.consolidation.load_state_dict(state["ewc"], device)

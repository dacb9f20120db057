"""The contracts between the engine and what it runs: a method (a learning rule), a data source and the run
context that prepares every network a method trains.

A method implements `step(batch) -> metrics`, `evaluate() -> metrics`, `state_dict()` and
`load_state_dict()`; it owns its optimisers and its backward pass (or has none: Hebbian storage, CD-k,
tabular updates). The optional hooks below have documented defaults, so the engine, the CLI and the API
call them on every method without asking whether they exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import torch
from torch import nn

from neuralab.errors import UserError

if TYPE_CHECKING:
    from neuralab.data.tensors import DataMeta
    from neuralab.distributed import Processes


class DataSource(Protocol):
    """What the engine asks of a data source: supervised tensors, a text stream or an environment stream.

    `meta` describes inputs and classes for sources a model is sized from and predicts on (None for
    environments). `state_dict`/`load_state_dict` hold the position in the stream, so a resumed run sees
    exactly the batches it would have seen.
    """

    meta: DataMeta | None

    @property
    def steps_per_epoch(self) -> int: ...

    def next_batch(self) -> Any: ...

    def to(self, device: torch.device) -> DataSource: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class RunContext:
    """What a method needs to know about the run, and `prepare` for every network it trains."""

    total_steps: int
    device: torch.device
    seed: int
    run_dir: Path | None
    amp: bool = False  # --run.amp: bfloat16 autocast around forward passes and losses
    channels_last: bool = False  # --run.channels_last
    compile: bool = False  # --run.compile
    procs: Processes | None = field(default=None, compare=False)  # the data-parallel group, if any
    model_name: str = ""  # the recipe's registered model and its config sized by the data, from which
    model_config: Any = None  # a method that trains variants or extra networks builds them

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run's files (always, unless data-parallel and not rank 0)."""
        return self.procs is None or self.procs.is_main

    def write_samples(self, step: int, drawn: Drawn) -> Path | None:
        """Write a generative method's evaluation grid as RUN_DIR/samples/step-NNNNNN.png (rank 0 only; nothing when
        the run has no directory); every generative method calls it from `evaluate`."""
        if self.run_dir is None or not self.is_main:
            return None
        from neuralab.viz.grid import save_grid

        return save_grid(drawn.images, self.run_dir / "samples" / f"step-{step:06d}.png", drawn.nrow)

    def autocast(self) -> torch.autocast:
        """Context for a method's forward pass and loss: bf16 autocast under --run.amp, else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def prepare(self, net: nn.Module) -> nn.Module:
        """`net` as the method should train it: on the run's device, in channels-last order and compiled when
        asked, and wrapped for data-parallel training, whose gradients every rank then averages. A method
        that trains several networks (generator and discriminator, online and target nets, actor and critic)
        prepares each one; the returned module's state dict is the plain network's."""
        net = net.to(self.device)
        if self.channels_last:  # conv outputs follow the weights' memory order
            net = net.to(memory_format=torch.channels_last)
        if self.compile:
            net.compile()  # in place: the references and the checkpoint keys stay the same
        return net if self.procs is None else self.procs.wrap(net)


class AuxiliaryOutputs(NamedTuple):
    """What a network with auxiliary classifiers (GoogLeNet) returns in training mode: its main outputs, each
    auxiliary head's outputs (same shape) and the weight of each head's loss in the training objective.

    In evaluation mode such a network returns its main outputs alone, so evaluation, prediction and export
    never see the heads. A method that trains it adds the heads' losses through `auxiliary_loss`.
    """

    main: torch.Tensor
    auxiliary: tuple[torch.Tensor, ...]
    weight: float


def auxiliary_loss(out: torch.Tensor | AuxiliaryOutputs,
                   loss: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(main outputs, weighted sum of `loss` over the auxiliary heads, or None) of a forward pass's output."""
    if not isinstance(out, AuxiliaryOutputs):
        return out, None
    return out.main, out.weight * sum(loss(head) for head in out.auxiliary)


class Generated(NamedTuple):
    """Text a method generated (`Method.sample`): the prompt and its continuation, and notes on how the prompt was
    read (unknown characters, a prompt cut to the model's context) for the user's stderr."""

    text: str
    notes: list[str]


class Drawn(NamedTuple):
    """Images a generative method drew (`Method.draw`): (N, C, H, W) with values in [0, 1] (pixels / 255), laid out
    `nrow` to a row (an interpolation: one path per row), and notes on how the request was read."""

    images: torch.Tensor
    nrow: int
    notes: list[str]


class Method(ABC):
    """A learning rule. Subclasses implement the four abstract methods and may override the hooks."""

    done: bool = False  # set True to end training before the planned steps (a converged perceptron)

    @abstractmethod
    def step(self, batch: Any) -> dict[str, Any]:
        """One training step on `batch`; returns namespaced metrics (`train/loss`, ...)."""

    @abstractmethod
    def evaluate(self) -> dict[str, Any]:
        """Metrics of the current model (`test/acc`, `val/loss`, `eval/return`, ...)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimiser, schedule, counters."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def report(self, run_dir: Path | None = None) -> str:
        """A markdown table or text written to summary.json and printed at the end of a run; "" for none."""
        return ""

    def plot(self, plots_dir: Path) -> list[Path]:
        """Plots of the method's own (beside the learning curves), written into `plots_dir`."""
        return []

    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, K) for preprocessed inputs (N, ...); methods that classify override it."""
        raise UserError(f"{type(self).__name__}: this kind of run does not predict class probabilities")

    def translate(self, text: str, beam: int = 0) -> tuple[str, list[str]]:
        """(the output sequence for the input `text`, notes for the user such as words read as <unk>), decoded by
        beam search of width `beam` (0: the method's default); methods that map sequences to sequences override it."""
        raise UserError(f"{type(self).__name__}: this kind of run does not translate text (train a seq2seq recipe, "
                        "e.g. translation-bahdanau)")

    @classmethod
    def translates(cls) -> bool:
        """Whether this method maps a text to a text (overrides `translate`); asked before building a run."""
        return cls.translate is not Method.translate

    @classmethod
    def predicts(cls) -> bool:
        """Whether this method classifies new inputs (overrides `predict_proba`); asked before building a run."""
        return cls.predict_proba is not Method.predict_proba

    def sample(self, prompt: str, length: int, *, temperature: float = 1.0, top_k: int = 0,
               seed: int = 0) -> Generated:
        """`prompt` continued by `length` tokens drawn from the model at `temperature` (from the `top_k` likeliest
        only, when > 0), seeded; language models override it, others refuse in one line."""
        raise UserError(f"{type(self).__name__}: this kind of run does not generate text; sample from a language "
                        "model run (e.g. lstm-shakespeare)")

    @classmethod
    def generates(cls) -> bool:
        """Whether this method generates text (overrides `sample`); asked before building a run."""
        return cls.sample is not Method.sample

    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        """`n` images drawn from the model, seeded (`neuralab sample RUN_DIR --n N`); of class `label` for a
        conditional model; with `interpolate`, rows that walk the latent space in equal steps from one draw to another.
        Image generators override it; others refuse in one line."""
        raise UserError(f"{type(self).__name__}: this kind of run does not draw images; sample from a generative "
                        "run (e.g. vae-mnist)")

    @classmethod
    def draws(cls) -> bool:
        """Whether this method draws images (overrides `draw`); asked before building a run."""
        return cls.draw is not Method.draw

    def log_likelihood(self, samples: int) -> dict[str, float]:
        """Test-set negative log-likelihood estimated with `samples` importance samples per example, and the bound
        it is compared with (`neuralab eval RUN_DIR --nll`), as namespaced metrics (`test/nll`, `test/elbo`). Models
        with a tractable or estimable likelihood override it; others refuse in one line."""
        raise UserError(f"{type(self).__name__}: this kind of run has no likelihood to estimate (--nll applies to "
                        "likelihood models such as vae-mnist)")

    @classmethod
    def scores_likelihood(cls) -> bool:
        """Whether this method estimates a test log-likelihood (overrides `log_likelihood`)."""
        return cls.log_likelihood is not Method.log_likelihood

    def similar(self, word: str, top: int) -> list[tuple[str, float]]:
        """The `top` words nearest `word` with their cosine similarity (`neuralab similar`); methods that learn word
        embeddings override it."""
        raise UserError(f"{type(self).__name__}: this kind of run learns no word embeddings to query")

    def analogy(self, positive: str, negative: str, other: str, top: int) -> list[tuple[str, float]]:
        """The `top` words nearest positive - negative + other with their cosine (`neuralab analogy`); methods that
        learn word embeddings override it."""
        raise UserError(f"{type(self).__name__}: this kind of run learns no word embeddings to query")

    @classmethod
    def embeds(cls) -> bool:
        """Whether this method learns word embeddings (overrides `similar`); asked before building a run."""
        return cls.similar is not Method.similar

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Greedy actions (N, *action_shape) for observations (N, *obs_shape) of the run's environment (`neuralab play
        RUN_DIR`); agents override it, others refuse in one line."""
        raise UserError(f"{type(self).__name__}: this kind of run does not act in an environment; play a reinforcement-"
                        "learning run (e.g. dqn-cartpole)")

    @classmethod
    def acts(cls) -> bool:
        """Whether this method acts in an environment (overrides `act`); asked before building a run."""
        return cls.act is not Method.act

    def detect(self, images: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """Objects found in images (B, C, H, W) on [0, 1] of the run's size, as torchvision's detection models return
        them: one dict per image with "boxes" (n, 4) (x1, y1, x2, y2) in pixels, "labels" (n,), "scores" (n,) and,
        where the model segments, "masks" (n, 1, H, W) probabilities (`neuralab detect`); detectors override it,
        others refuse in one line."""
        raise UserError(f"{type(self).__name__}: this kind of run does not detect objects; detect with an object-"
                        "detection run (e.g. faster-rcnn-mnist-scenes)")

    @classmethod
    def detects(cls) -> bool:
        """Whether this method finds objects in images (overrides `detect`); asked before building a run."""
        return cls.detect is not Method.detect

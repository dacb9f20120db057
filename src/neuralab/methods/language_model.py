"""Next-token language modelling by maximum likelihood (curriculum S5, S9; Sutskever, Martens, Hinton,
"Generating Text with Recurrent Neural Networks", 2011; Radford et al. 2018 for the decoder-only transformer).

One step minimises the mean cross-entropy -log p(x_{t+1} | x_<=t) over a batch of sequences (nats per token; bits
per character = nats / ln 2). A recurrent model (one that sets `carries_state` and takes
`forward(x, state, return_state=True)`, e.g. `char-rnn`) trains by truncated backpropagation through time on the
`streams` layout: the hidden state at the end of one chunk starts the next, detached so gradients stop at the chunk
boundary, and starts afresh when a pass over the streams begins. It is part of the method's state, so a resumed
run continues bit for bit. A chunk as long as the whole sequence is plain (full) BPTT.

Evaluation reads the whole held-out text (or its first `--data.test_limit` characters), always the same slice:
a recurrent model as `eval_batch_size` contiguous streams with the state carried over the text, a transformer in
non-overlapping windows of its training length. Sampling draws one token at a time from softmax(logits / T),
optionally from the k most likely tokens only (Fan et al. 2018), with a seeded generator.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Generated, Method, RunContext
from neuralab.data.text_stream import TextBatch, streams, windows
from neuralab.data.vocab import SPECIALS
from neuralab.errors import UserError
from neuralab.methods.muon import MuonAdamW
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, descend, make_optimizer, make_schedule
from neuralab.models.rnn.state import detach_state
from neuralab.registry import register_method

EVAL_CHUNK = 256  # tokens per forward pass when a recurrent model reads the validation streams


@dataclass(frozen=True)
class LanguageModelConfig:
    optimizer: str = field("adam", "Optimiser from torch.optim; muon: Muon on the hidden nn.Linear weights, AdamW "
                                   "at lr on the rest (embeddings, output layer, biases, norms).",
                           choices=OPTIMIZERS + ("muon",))
    lr: float = field(2e-3, "Learning rate (peak rate for onecycle).", gt=0)
    muon_lr: float = field(0.02, "Muon's learning rate on the hidden weights (--method.optimizer muon only).", gt=0)
    weight_decay: float = field(0.0, "Weight decay (decoupled for adamw).", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the whole run.", choices=SCHEDULES)
    clip_grad_norm: float = field(1.0, "Rescale the gradients so their joint L2 norm is at most this; 0 disables.",
                                  ge=0)
    carry_state: bool = field(True, "Recurrent models on the streams layout: start each chunk from the hidden "
                                    "state the last one ended with (truncated BPTT); false: from zeros.")
    eval_batch_size: int = field(64, "Validation streams (recurrent models) or windows (transformers) per forward "
                                     "pass.", ge=1)


def _plain(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def recurrent(model: nn.Module) -> bool:
    """Whether `model` carries a hidden state from one call to the next (see the module doc)."""
    return bool(getattr(_plain(model), "carries_state", False))


@register_method("language_model", config=LanguageModelConfig)
class LanguageModel(Method):
    def __init__(self, cfg: LanguageModelConfig, model: nn.Module, data: Any, ctx: RunContext) -> None:
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.recurrent = recurrent(model)
        block = getattr(_plain(model), "block_size", None)
        seq_len = getattr(data, "seq_len", 0)
        if block is not None and seq_len > block:
            raise UserError(f"--data.seq_len {seq_len} is longer than the model's context (--model.block_size "
                            f"{block}); make it at most {block}")
        self.params = [p for p in model.parameters() if p.requires_grad]
        if cfg.optimizer == "muon":
            self.optimizer = MuonAdamW(_plain(model), self.params, cfg.lr, cfg.muon_lr, cfg.weight_decay)
        else:
            self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr, weight_decay=cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.state: Any = None  # the hidden state carried from the last training chunk
        self._tokens, self._clock = 0, time.perf_counter()  # for tokens/s between evaluations

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())

    def step(self, batch: TextBatch) -> dict[str, Any]:
        x, y, reset = batch
        self.model.train()
        carry = self.recurrent and self.cfg.carry_state
        with self.ctx.autocast():
            if carry:
                logits, state = self.model(x, None if reset else self.state, return_state=True)
                self.state = detach_state(state)  # truncated BPTT: gradients stop at the chunk boundary
            else:
                logits = self.model(x)
            loss = self._loss(logits, y)
        descend(loss, self.optimizer, self.params, self.cfg.clip_grad_norm, self.schedule)
        self._tokens += y.numel()
        return {"train/loss": loss.detach()}

    @torch.no_grad()
    def validation_loss(self, tokens: torch.Tensor) -> float:
        """Mean next-token cross-entropy (nats) of the model on `tokens` (N,), read as the module doc says."""
        model = self.model
        model.eval()
        total, count = torch.zeros((), dtype=torch.float64, device=tokens.device), 0
        with self.ctx.autocast():
            if self.recurrent:
                # Each stream at least one chunk long: its first characters, read without context, are few.
                x, y = streams(tokens, max(1, min(self.cfg.eval_batch_size, (len(tokens) - 1) // EVAL_CHUNK)))
                state = None
                for i in range(0, x.shape[1], EVAL_CHUNK):
                    logits, state = model(x[:, i:i + EVAL_CHUNK], state, return_state=True)
                    yb = y[:, i:i + EVAL_CHUNK]
                    total += self._loss(logits, yb).double() * yb.numel()
                    count += yb.numel()
            else:
                t = max(1, min(getattr(self.data, "seq_len", len(tokens)), len(tokens) - 1))
                x, y = windows(tokens, t)
                for i in range(0, len(x), self.cfg.eval_batch_size):
                    yb = y[i:i + self.cfg.eval_batch_size]
                    total += self._loss(model(x[i:i + self.cfg.eval_batch_size]), yb).double() * yb.numel()
                    count += yb.numel()
        model.train()
        return float(total) / count

    def evaluate(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self._clock
        metrics = {}
        if self._tokens and elapsed > 0:
            metrics["time/tokens_per_s"] = self._tokens / elapsed
        loss = self.validation_loss(self.data.val)
        metrics.update({"val/loss": loss, "val/bpc": loss / math.log(2)})
        self._tokens, self._clock = 0, time.perf_counter()  # training speed only: the evaluation is not counted
        return metrics

    @torch.no_grad()
    def sample(self, prompt: str, length: int, *, temperature: float = 1.0, top_k: int = 0,
               seed: int = 0) -> Generated:
        vocab = self.data.meta.vocabulary()
        ids = vocab.encode_prompt(prompt)  # empty or all-unknown: one line
        notes = []
        unknown = sorted(set(vocab.unknown(prompt)))
        if unknown:
            notes.append(f"the prompt's {', '.join(map(repr, unknown[:10]))} never occurred in training; read as "
                         f"<unk>")
        model = _plain(self.model).eval()
        device = next(model.parameters()).device
        context = torch.tensor([ids], device=device)  # (1, P)
        block = getattr(model, "block_size", None)
        if block is not None and context.shape[1] > block:
            notes.append(f"the prompt has {context.shape[1]} tokens, more than the model's context of {block}; "
                         f"it continues from the last {block}")
            context = context[:, -block:]
        generator = torch.Generator(device=device).manual_seed(seed)
        out: list[int] = []
        state = None
        for _ in range(length):
            if self.recurrent:
                logits, state = model(context, state, return_state=True)
            else:
                logits = model(context[:, -block:] if block else context)
            logits = logits[0, -1].float() / temperature
            logits[:len(SPECIALS)] = -math.inf  # padding, <unk> and the sequence marks are never written
            if top_k:
                kth = logits.topk(min(top_k, len(logits) - len(SPECIALS))).values[-1]
                logits = logits.masked_fill(logits < kth, -math.inf)
            nxt = torch.multinomial(logits.softmax(-1), 1, generator=generator)  # (1,)
            out.append(int(nxt))
            context = nxt[None] if self.recurrent else torch.cat([context, nxt[None]], 1)
        self.model.train()
        return Generated(text=prompt + vocab.decode(out), notes=notes)

    def state_dict(self) -> dict[str, Any]:
        return {"model": _plain(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(),
                "hidden": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _plain(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        hidden = state.get("hidden")
        device = next(self.model.parameters()).device
        self.state = None if hidden is None else (
            hidden.to(device) if isinstance(hidden, torch.Tensor) else tuple(h.to(device) for h in hidden))

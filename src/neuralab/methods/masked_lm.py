"""Masked-language-model pre-training (Devlin, Chang, Lee, Toutanova, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding", 2019), curriculum S9.

Each step picks 15% of the batch's word positions (padding and <unk> are never picked); of those, 80% are
replaced by [MASK], 10% by a random word and 10% are left as they are, and the network is trained to predict
the original word at every picked position (cross-entropy over the vocabulary, at the picked positions only).
The labels of the data are not used. Replacing by random words and keeping some unchanged means the encoder
cannot rely on seeing [MASK] where a prediction is asked for: it has to represent every word well, which is
what fine-tuning then uses (`--run.init_from` of such a run into `transformer-classifier`).

Evaluation masks a fixed slice of the held-out split (`eval_size` texts) the same way with a generator seeded
afresh each time, so every evaluation asks the same questions: SPLIT/mlm_loss and SPLIT/mlm_acc (the share
of picked positions whose original word is the top prediction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.data.vocab import PAD, SPECIALS, UNK
from neuralab.errors import UserError
from neuralab.methods.optim import (
    OPTIMIZERS,
    SCHEDULES,
    descend,
    load_training_state,
    make_optimizer,
    make_schedule,
    training_state,
)
from neuralab.registry import register_method

REPLACE, RANDOM = 0.8, 0.1  # of the picked positions: [MASK], a random word; the rest (0.1) keep their word


@dataclass(frozen=True)
class MaskedLMConfig:
    mask_fraction: float = field(0.15, "Share of word positions picked for prediction in each text (BERT: 0.15); "
                                       "80% of them become [MASK], 10% a random word, 10% stay.", gt=0, le=1)
    optimizer: str = field("adamw", "Optimiser from torch.optim (BERT: Adam with decoupled weight decay).",
                           choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate (peak rate for onecycle).", gt=0)
    weight_decay: float = field(0.01, "Weight decay (BERT: 0.01).", ge=0)
    schedule: str = field("onecycle", "Learning-rate schedule (onecycle: warm up over 30% then decay, as BERT's "
                                      "warm-up and linear decay).", choices=SCHEDULES)
    clip_grad_norm: float = field(1.0, "Rescale the gradients to this joint L2 norm at most (BERT: 1.0); 0 "
                                       "disables.", ge=0)
    eval_size: int = field(2000, "Held-out texts masked and scored at each evaluation (a fixed slice; 0: all).",
                           ge=0)
    eval_batch_size: int = field(500, "Texts per forward pass when evaluating.", ge=1)


def mask_tokens(x: torch.Tensor, mask_id: int, vocab_size: int, fraction: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, picked) for ids x (B, T): `picked` (B, T) marks the positions to predict, `inputs` is x with
    80% of them [MASK], 10% a random word (never a special token) and 10% unchanged. At least one position is
    picked when x has any word, so the loss is always defined."""
    candidates = (x != PAD) & (x != UNK)
    picked = (torch.rand(x.shape, generator=generator, device=x.device) < fraction) & candidates
    if not picked.any():
        if not candidates.any():
            raise UserError("masked_lm: a batch holds no known word to mask; lower --data.min_count or use more text")
        picked.view(-1)[candidates.view(-1).nonzero()[0]] = True
    how = torch.rand(x.shape, generator=generator, device=x.device)
    words = torch.randint(len(SPECIALS), vocab_size, x.shape, generator=generator, device=x.device)
    inputs = x.masked_fill(picked & (how < REPLACE), mask_id)
    random = picked & (how >= REPLACE) & (how < REPLACE + RANDOM)
    return torch.where(random, words, inputs), picked


@register_method("masked_lm", config=MaskedLMConfig)
class MaskedLM(Method):
    """Each step: mask a batch of texts, predict the picked words, one optimiser step."""

    def __init__(self, cfg: MaskedLMConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        plain = model.module if ctx.procs is not None else model
        if not hasattr(plain, "mask_id") or data.meta is None or data.meta.kind != "text":
            raise UserError("masked_lm pre-trains a masked-language model (e.g. transformer-mlm) on text data (e.g. "
                            "tweets)")
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.mask_id, self.vocab_size = plain.mask_id, len(data.meta.vocab)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr, weight_decay=cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.generator = torch.Generator(device=ctx.device).manual_seed(ctx.seed)

    def _scores(self, x: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(mean loss, correct predictions, positions picked) on one masked batch of texts."""
        inputs, picked = mask_tokens(x, self.mask_id, self.vocab_size, self.cfg.mask_fraction, generator)
        target = x[picked]
        with self.ctx.autocast():
            logits = self.model(inputs, where=picked)  # (N picked, V)
            loss = F.cross_entropy(logits.float(), target)
        return loss, (logits.argmax(-1) == target).sum(), len(target)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, _ = batch  # the labels are not used
        self.model.train()
        loss, correct, picked = self._scores(x, self.generator)
        descend(loss, self.optimizer, self.params, self.cfg.clip_grad_norm, self.schedule)
        return {"train/mlm_loss": loss.detach(), "train/mlm_acc": correct / picked}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        metrics = {}
        self.model.eval()
        for split in ("val", "test"):
            pair = self.data.split(split)
            if pair is None:
                continue
            x = pair[0][:self.cfg.eval_size] if self.cfg.eval_size else pair[0]
            generator = torch.Generator(device=self.ctx.device).manual_seed(self.ctx.seed + 1)  # the same masks
            loss_sum, correct, count = 0.0, 0, 0
            for i in range(0, len(x), self.cfg.eval_batch_size):
                loss, right, picked = self._scores(x[i:i + self.cfg.eval_batch_size], generator)
                loss_sum, correct, count = loss_sum + float(loss) * picked, correct + int(right), count + picked
            metrics[f"{split}/mlm_loss"] = loss_sum / count
            metrics[f"{split}/mlm_acc"] = correct / count
        self.model.train()
        return metrics

    def state_dict(self) -> dict[str, Any]:
        return training_state(self.model, self.optimizer, self.schedule, self.generator)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_training_state(state, self.model, self.optimizer, self.schedule, self.generator)

"""Negative sampling (Mikolov, Sutskever, Chen, Corrado, Dean, "Distributed Representations of Words and Phrases
and their Compositionality", 2013), the learning rule of the skip-gram and CBOW models.

For each (input, true word) pair with K noise words w_1..w_K drawn from the unigram distribution to the 3/4,
the objective (the paper's equation 4) is

    log sigma(u_o . h) + sum_k log sigma(-u_{w_k} . h),

maximised; here its negative is the loss, averaged over the batch's pairs, and autograd takes the gradients. The
skip-gram's h is the centre word's input vector v_c and o each context word in turn; CBOW's h is the mean of the
context words' input vectors and o the centre word (Mikolov et al., "Efficient Estimation of Word Representations
in Vector Space", 2013). Only the rows of the words in a batch change: the tables have sparse gradients, and the
optimiser is SparseAdam, or plain SGD whose rate decays linearly to 1e-4 of its start as in word2vec's C code.

Evaluation: the loss on a fixed held-out batch (`val/loss`), accuracy on the analogy questions of
`neuralab.data.word_analogies` by 3CosAdd (the word d nearest b - a + c in cosine over unit vectors, a, b and c
excluded; `eval/analogy_acc`), and the mean cosine of the related pairs of those questions against that of fixed
random pairs of frequent words (`eval/related_cos`, `eval/random_cos`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data import word_analogies
from neuralab.data.vocab import PAD, SPECIALS, Vocabulary
from neuralab.data.word_context import ContextBatch, WordContextStream
from neuralab.errors import UserError
from neuralab.registry import register_method

OPTIMIZERS = ("sparse_adam", "sgd", "adam")
SCHEDULES = ("linear", "none")
MIN_LR_FRACTION = 1e-4  # word2vec.c: the rate never falls below starting_alpha * 0.0001
RANDOM_PAIRS, RANDOM_FROM = 1000, 2000  # eval/random_cos: pairs drawn among the this many most frequent words
EVAL_ROWS = 8192  # rows per forward pass of the validation loss


@dataclass(frozen=True)
class NegativeSamplingConfig:
    optimizer: str = field("sparse_adam", "sparse_adam (torch.optim.SparseAdam: Adam on the rows in the batch), sgd "
                                          "(the paper's) or adam (needs --model.sparse false).", choices=OPTIMIZERS)
    lr: float = field(0.005, "Learning rate at the start (the paper's SGD starts at 0.025 for the skip-gram, 0.05 "
                             "for CBOW, one pair at a time; a batch's loss here is a mean over its pairs).", gt=0)
    schedule: str = field("linear", "linear: decay to 1e-4 of lr at the last step (word2vec's C code); none: "
                                    "constant.", choices=SCHEDULES)
    probes: tuple[str, ...] = field(("king", "man", "money", "company", "monday", "japan", "bought", "good"),
                                    "Words whose nearest neighbours the report lists (those in the vocabulary).")
    neighbours: int = field(8, "Neighbours listed per probe word in the report.", ge=1)
    plot_words: int = field(300, "The most frequent words drawn, labelled, in plots/embedding.png.", ge=3)
    projection: str = field("pca", "How plots/embedding.png projects the vectors to 2-D: pca, or tsne (scikit-learn's "
                                   "t-SNE on cosine distances, seeded; seconds more per plot).",
                            choices=("pca", "tsne"))


def sgns_loss(logits: torch.Tensor) -> torch.Tensor:
    """Negative-sampling loss of logits (N, 1 + K), column 0 the true word's: the mean over rows of
    -(log sigma(s_0) + sum_k log sigma(-s_k))."""
    return -(F.logsigmoid(logits[:, 0]) + F.logsigmoid(-logits[:, 1:]).sum(1)).mean()


def arrange(batch: ContextBatch, arrangement: str) -> torch.Tensor:
    """A batch as the model's rows of word ids: inputs, then the true word and the K noise words.

    skipgram: one row per (centre, context) pair, (P, 1 + 1 + K); cbow: one row per centre with its whole window
    (PAD outside it) and the noise words drawn for its first window slot, (B, 2 window + 1 + K).
    """
    if arrangement == "skipgram":
        valid = batch.context != PAD  # (B, 2W)
        center = batch.center[:, None].expand_as(batch.context)[valid]
        return torch.cat([center[:, None], batch.context[valid][:, None], batch.negatives[valid]], 1)
    if arrangement == "cbow":
        return torch.cat([batch.context, batch.center[:, None], batch.negatives[:, 0]], 1)
    raise ValueError(f"unknown arrangement {arrangement!r}")


def unit_rows(vectors: torch.Tensor) -> torch.Tensor:
    """Each row scaled to length 1 (a zero row stays zero)."""
    return F.normalize(vectors.float(), dim=1)


def three_cos_add(unit: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Cosine (Q, V) of every word with b - a + c for unit vectors `unit` (V, D) and word ids a, b, c (Q,):
    3CosAdd (Levy and Goldberg 2014's name for Mikolov's rule). The query words and the special tokens get -inf,
    so they are never the answer."""
    target = unit_rows(unit[b] - unit[a] + unit[c])
    scores = target @ unit.T
    scores[:, :len(SPECIALS)] = -torch.inf
    rows = torch.arange(len(a), device=unit.device)
    for ids in (a, b, c):
        scores[rows, ids] = -torch.inf
    return scores


def analogy_correct(unit: torch.Tensor, questions: torch.Tensor) -> torch.Tensor:
    """(Q,) bool: whether 3CosAdd answers each question (a, b, c, d) (Q, 4) of word ids with d."""
    a, b, c, d = questions.unbind(1)
    return three_cos_add(unit, a, b, c).argmax(1) == d


def nearest(unit: torch.Tensor, query: torch.Tensor, exclude: list[int], top: int) -> list[tuple[int, float]]:
    """The `top` (word id, cosine) nearest the unit vector direction `query` (D,), leaving out `exclude` and the
    special tokens."""
    scores = unit @ F.normalize(query.float(), dim=0)
    scores[:len(SPECIALS)] = -torch.inf
    scores[exclude] = -torch.inf
    best = scores.topk(min(top, len(scores) - len(SPECIALS) - len(set(exclude))))
    return list(zip(best.indices.tolist(), best.values.tolist(), strict=True))


def word_id(vocab: Vocabulary, word: str) -> int:
    """The id of a word the run was trained on (as given, else lower-cased as word tokens are; Penn Treebank's
    number token is a capital N); one clear UserError, with close matches, for any other."""
    key = word.strip()
    for candidate in (key, key.lower()):
        if vocab.index.get(candidate, 0) >= len(SPECIALS):
            return vocab.index[candidate]
    close = difflib.get_close_matches(key, vocab.tokens[len(SPECIALS):], n=4, cutoff=0.6)
    hint = f"; close ones: {', '.join(close)}" if close else ""
    raise UserError(f"{word!r} is not in this run's vocabulary ({len(vocab) - len(SPECIALS):,} words){hint}")


@register_method("negative-sampling", config=NegativeSamplingConfig)
class NegativeSampling(Method):
    """Skip-gram or CBOW (the model's `arrangement`) trained on `ContextBatch`es of a word-context stream."""

    def __init__(self, cfg: NegativeSamplingConfig, model: nn.Module, data: Any, ctx: RunContext) -> None:
        plain = model.module if ctx.procs is not None else model
        if getattr(plain, "arrangement", "") not in ("skipgram", "cbow"):
            raise UserError("negative-sampling trains the word2vec models (skipgram, cbow)")
        self.cfg, self.model, self.data, self.ctx, self.plain = cfg, model, data, ctx, plain
        self.vocab = data.meta.vocabulary()
        if cfg.optimizer == "sparse_adam" and not plain.cfg.sparse:
            raise UserError("--method.optimizer sparse_adam needs sparse gradients: keep --model.sparse true, or "
                            "choose adam")
        if cfg.optimizer == "adam" and plain.cfg.sparse:
            raise UserError("--method.optimizer adam needs dense gradients: add --model.sparse false, or choose "
                            "sparse_adam")
        params = list(model.parameters())
        self.optimizer = {"sparse_adam": lambda: torch.optim.SparseAdam(params, lr=cfg.lr),
                          "sgd": lambda: torch.optim.SGD(params, lr=cfg.lr),
                          "adam": lambda: torch.optim.Adam(params, lr=cfg.lr)}[cfg.optimizer]()
        total = max(ctx.total_steps, 1)
        self.schedule = (torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                           lambda s: max(MIN_LR_FRACTION, 1 - s / total))
                         if cfg.schedule == "linear" else None)

    def step(self, batch: ContextBatch) -> dict[str, Any]:
        self.model.train()
        rows = arrange(batch, self.plain.arrangement)
        with self.ctx.autocast():
            loss = sgns_loss(self.model(rows).float())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.schedule is not None:
            self.schedule.step()
        return {"train/loss": loss.detach(), "train/pairs": len(rows)}

    def _unit(self) -> torch.Tensor:
        return unit_rows(self.plain.vectors)

    def _questions(self) -> dict[str, torch.Tensor]:
        """{category: (Q, 4) word ids} of the analogy questions whose four words are all in the vocabulary."""
        index = self.vocab.index
        out = {}
        for name, qs in word_analogies.questions().items():
            ids = [[index[w] for w in q] for q in qs if all(w in index for w in q)]
            if ids:
                out[name] = torch.tensor(ids, dtype=torch.long, device=self.plain.vectors.device)
        return out

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if isinstance(self.data, WordContextStream):
            rows = arrange(self.data.validation(), self.plain.arrangement)
            if len(rows):
                self.model.eval()
                total = sum(float(sgns_loss(self.model(rows[i:i + EVAL_ROWS]).float())) * len(rows[i:i + EVAL_ROWS])
                            for i in range(0, len(rows), EVAL_ROWS))
                self.model.train()
                metrics["val/loss"] = total / len(rows)
        unit = self._unit()
        questions = list(self._questions().values())
        if questions:
            correct = analogy_correct(unit, torch.cat(questions))
            metrics["eval/analogy_acc"] = float(correct.float().mean())
            metrics["eval/analogy_questions"] = float(len(correct))
        related = [(self.vocab.index[a], self.vocab.index[b]) for a, b in word_analogies.pairs()
                   if a in self.vocab.index and b in self.vocab.index]
        if related:
            a, b = torch.tensor(related, device=unit.device).unbind(1)
            metrics["eval/related_cos"] = float((unit[a] * unit[b]).sum(1).mean())
        high = min(len(self.vocab), len(SPECIALS) + RANDOM_FROM)
        if high - len(SPECIALS) >= 2:
            g = torch.Generator().manual_seed(0)
            a, b = torch.randint(len(SPECIALS), high, (2, RANDOM_PAIRS), generator=g).to(unit.device)
            keep = a != b
            metrics["eval/random_cos"] = float((unit[a[keep]] * unit[b[keep]]).sum(1).mean())
        return metrics

    def similar(self, word: str, top: int) -> list[tuple[str, float]]:
        """The `top` words whose input vectors are nearest `word`'s in cosine."""
        i = word_id(self.vocab, word)
        unit = self._unit()
        return [(self.vocab.tokens[j], s) for j, s in nearest(unit, unit[i], [i], top)]

    def analogy(self, positive: str, negative: str, other: str, top: int) -> list[tuple[str, float]]:
        """The `top` words nearest positive - negative + other (king man woman: king - man + woman, i.e. man is to
        king as woman is to ?) by 3CosAdd, the three query words excluded."""
        b, a, c = (word_id(self.vocab, w) for w in (positive, negative, other))
        unit = self._unit()
        return [(self.vocab.tokens[j], s) for j, s in nearest(unit, unit[b] - unit[a] + unit[c], [a, b, c], top)]

    def report(self, run_dir: Path | None = None) -> str:
        """Nearest neighbours of the probe words and analogy accuracy by category, as markdown."""
        unit = self._unit()
        lines = ["Nearest neighbours (cosine of the input vectors):", "", "| word | nearest words |", "|---|---|"]
        for probe in self.cfg.probes:
            if probe in self.vocab.index:
                near = self.similar(probe, self.cfg.neighbours)
                lines.append(f"| {probe} | {', '.join(f'{w} ({s:.2f})' for w, s in near)} |")
        questions = self._questions()
        if questions:
            lines += ["", "Analogies a : b :: c : ? by 3CosAdd (b - a + c, the three words excluded), on "
                      "neuralab.data.word_analogies:", "", "| category | questions | correct | accuracy |",
                      "|---|---|---|---|"]
            total = 0
            for name, qs in questions.items():
                correct = int(analogy_correct(unit, qs).sum())
                total += correct
                lines.append(f"| {name} | {len(qs)} | {correct} | {correct / len(qs):.3f} |")
            n = sum(len(qs) for qs in questions.values())
            lines.append(f"| all | {n} | {total} | {total / n:.3f} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/embedding.png: the most frequent words' vectors projected to 2-D, labelled."""
        from neuralab.viz.embedding import plot_projection

        ids = list(range(len(SPECIALS), min(len(self.vocab), len(SPECIALS) + self.cfg.plot_words)))
        if len(ids) < 3:
            return []
        words = [self.vocab.tokens[i] for i in ids]
        return [plot_projection(self.plain.vectors[ids].cpu(), words, self.cfg.projection,
                                f"{self.plain.arrangement}: the {len(ids)} most frequent words",
                                plots_dir / "embedding.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])

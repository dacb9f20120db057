"""Sequence-to-sequence learning by teacher forcing (Sutskever et al. 2014; Bahdanau et al. 2015), curriculum S3, S8,
S9: the decoder reads the true previous target token and learns the next one by token cross-entropy (padding
ignored), with AdamW and gradient clipping.

Evaluation reads a fixed slice of the test split: loss and token accuracy under teacher forcing, then whole
outputs decoded greedily (`neuralab.models.seq2seq.search`): the share decoded exactly (`test/exact`) and, for word
tokens, corpus BLEU (sacrebleu, on the detokenised decodes against the reference text). The report tabulates
these by source length, the way Bahdanau et al. (Fig. 2) plot BLEU against sentence length, and compares greedy
with beam search; `plot` draws that curve and the attention weights of a few test sentences. `translate` decodes
new text for `neuralab translate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.data.vocab import EOS, PAD, Vocabulary
from neuralab.errors import UserError
from neuralab.methods.optim import SCHEDULES, descend, make_optimizer, make_schedule
from neuralab.models.seq2seq.search import beam_search, greedy
from neuralab.registry import register_method

HEATMAP_SENTENCES = 4  # test sentences in plots/attention.png


@dataclass(frozen=True)
class Seq2SeqConfig:
    lr: float = field(1e-3, "AdamW learning rate (peak rate for onecycle).", gt=0)
    weight_decay: float = field(0.01, "AdamW's decoupled weight decay.", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the whole run.", choices=SCHEDULES)
    clip_grad_norm: float = field(1.0, "Rescale the gradients so their joint L2 norm is at most this; 0 disables.",
                                  ge=0)
    label_smoothing: float = field(0.0, "Label smoothing of the token cross-entropy (Vaswani et al.: 0.1).", ge=0,
                                   le=0.5)
    reverse_source: bool = field(False, "Read every source backwards, its EOS kept last (the Keras addition "
                                        "example; Sutskever et al. 2014); `translate` reverses typed text too.")
    eval_size: int = field(2000, "Test pairs for the loss and token accuracy at each evaluation (0: all).", ge=0)
    decode_size: int = field(1000, "Test pairs decoded whole for exact match and BLEU at each evaluation and in the "
                                   "report (0: all).", ge=0)
    beam: int = field(4, "Beam width of the report's beam-search row and of `neuralab translate` by default.", ge=1)
    beam_size: int = field(200, "Test pairs (the first of the decode slice) the report decodes both greedily and by "
                                "beam search, to compare the two.", ge=1)
    length_penalty: float = field(1.0, "Beam search ranks finished outputs by log-probability / length^this.", ge=0)
    bucket_width: int = field(5, "Source tokens per length bucket in the report and plots/length.png.", ge=1)
    eval_batch_size: int = field(500, "Pairs per forward pass when evaluating and decoding.", ge=1)


def reverse_sources(x: torch.Tensor) -> torch.Tensor:
    """Sources (B, S) (tokens, EOS, PAD...) with the tokens before EOS in reverse order."""
    n = ((x != PAD).sum(1) - 1).clamp_min(0)[:, None]  # tokens before EOS
    j = torch.arange(x.shape[1], device=x.device)[None]
    return x.gather(1, torch.where(j < n, n - 1 - j, j))


def trim(x: torch.Tensor) -> torch.Tensor:
    """Token ids (B, L) without the columns that are padding in every row."""
    return x[:, :max(1, int((x != PAD).sum(1).max()))]


def until_eos(ids: torch.Tensor) -> list[list[int]]:
    """Each row of ids (B, L) as a list up to and including its first EOS (all of it when there is none)."""
    out = []
    for row in ids.tolist():
        out.append(row[:row.index(EOS) + 1] if EOS in row else [i for i in row if i != PAD])
    return out


@register_method("seq2seq", config=Seq2SeqConfig)
class Seq2Seq(Method):
    def __init__(self, cfg: Seq2SeqConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = make_optimizer("adamw", self.params, cfg.lr, weight_decay=cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.src_vocab: Vocabulary = data.meta.vocabulary()
        self.tgt_vocab: Vocabulary = data.meta.target_vocabulary()
        self._tables: dict[tuple[int, int], list[dict[str, Any]]] = {}  # (beam, pairs) -> table of these weights
        self.done = False

    @property
    def net(self) -> nn.Module:
        """The network without its data-parallel wrapper: decoding calls its encode/step methods."""
        return self.model.module if self.ctx.procs is not None else self.model

    def _source(self, x: torch.Tensor) -> torch.Tensor:
        x = trim(x)
        return reverse_sources(x) if self.cfg.reverse_source else x

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mean token cross-entropy, correct tokens, real tokens) of pairs (x, y) under teacher forcing."""
        y = trim(y)
        target = y[:, 1:]
        with self.ctx.autocast():
            logits = self.model(self._source(x), y[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), target.reshape(-1),
                                   ignore_index=PAD, label_smoothing=self.cfg.label_smoothing)
        real = target != PAD
        correct = ((logits.argmax(-1) == target) & real).sum()
        return loss, correct, real.sum()

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        self.model.train()
        self._tables.clear()
        loss, correct, real = self._loss(x, y)
        descend(loss, self.optimizer, self.params, self.cfg.clip_grad_norm, self.schedule)
        return {"train/loss": loss.detach(), "train/token_acc": correct / real}

    def _slice(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.data.split("test")
        return (x, y) if not size else (x[:size], y[:size])

    def decode(self, x: torch.Tensor, max_len: int, beam: int = 1,
               keep_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(output ids (N, <= max_len), attention (N, steps, S) or None) of sources x, greedy or by beam search."""
        self.net.eval()
        outs, weights = [], []
        for i in range(0, len(x), self.cfg.eval_batch_size):
            src = self._source(x[i:i + self.cfg.eval_batch_size])
            with self.ctx.autocast():
                if beam > 1:
                    out, w = beam_search(self.net, src, max_len, beam, self.cfg.length_penalty)[0], None
                else:
                    out, w = greedy(self.net, src, max_len, keep_attention)
            outs.append(F.pad(out, (0, max_len - out.shape[1]), value=PAD))
            if w is not None:
                weights.append(F.pad(w, (0, x.shape[1] - w.shape[2], 0, max_len - w.shape[1])))
        return torch.cat(outs), (torch.cat(weights) if weights else None)

    def _scores(self, x: torch.Tensor, y: torch.Tensor, refs: list[str] | None, beam: int = 1) -> dict[str, Any]:
        """Per pair: source length, exact match and decoded text; with word tokens also the references for BLEU."""
        out, _ = self.decode(x, y.shape[1] - 1, beam)
        hyp, truth = until_eos(out), until_eos(y[:, 1:])
        return {"length": ((x != PAD).sum(1) - 1).tolist(),
                "exact": [h == t for h, t in zip(hyp, truth, strict=True)],
                "hyp": [self.tgt_vocab.decode(h) for h in hyp],
                "ref": refs if refs is not None else [self.tgt_vocab.decode(t) for t in truth]}

    def _references(self, n: int) -> list[str] | None:
        refs = getattr(self.data, "references", None)
        return None if refs is None else refs[:n]

    @property
    def words(self) -> bool:
        """BLEU is measured on word tokens (translation), exact match on any."""
        return self.tgt_vocab.kind == "word"

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        x, y = self._slice(self.cfg.eval_size)
        self.model.eval()
        loss_sum, correct, real = 0.0, 0, 0
        for i in range(0, len(x), self.cfg.eval_batch_size):
            loss, c, n = self._loss(x[i:i + self.cfg.eval_batch_size], y[i:i + self.cfg.eval_batch_size])
            loss_sum, correct, real = loss_sum + float(loss) * int(n), correct + int(c), real + int(n)
        metrics = {"test/loss": loss_sum / max(real, 1), "test/token_acc": correct / max(real, 1)}
        decoded = self.length_table()[-1]  # greedy decodes of the decode slice, all lengths
        metrics["test/exact"] = decoded["exact"]
        if self.words:
            metrics["test/bleu"] = decoded["bleu"]
        self.model.train()
        return metrics

    def _buckets(self, scores: dict[str, Any]) -> list[tuple[str, list[int]]]:
        """(label, indices) of each source-length bucket of width `bucket_width` that has pairs."""
        w = self.cfg.bucket_width
        groups: dict[int, list[int]] = {}
        for i, n in enumerate(scores["length"]):
            groups.setdefault(max(n - 1, 0) // w, []).append(i)
        return [(f"{b * w + 1}-{(b + 1) * w}", groups[b]) for b in sorted(groups)]

    def length_table(self, beam: int = 1, size: int = 0) -> list[dict[str, Any]]:
        """Per source-length bucket of the decoded test slice: pairs, exact match and (word tokens) BLEU; the last
        row is all pairs. Kept until the weights change: the report and the plots read the same decodes."""
        key = (beam, size)
        if key not in self._tables:
            self._tables[key] = self._length_table(beam, size or self.cfg.decode_size)
        return self._tables[key]

    def _length_table(self, beam: int, size: int) -> list[dict[str, Any]]:
        x, y = self._slice(size)
        scores = self._scores(x, y, self._references(len(x)), beam)
        rows = []
        for label, idx in self._buckets(scores):
            row = {"bucket": label, "pairs": len(idx), "exact": sum(scores["exact"][i] for i in idx) / len(idx)}
            if self.words:
                row["bleu"] = bleu([scores["hyp"][i] for i in idx], [scores["ref"][i] for i in idx])
            rows.append(row)
        total = {"bucket": "all", "pairs": len(x), "exact": sum(scores["exact"]) / len(x)}
        if self.words:
            total["bleu"] = bleu(scores["hyp"], scores["ref"])
        return rows + [total]

    def report(self, run_dir: Path | None = None) -> str:
        """Greedy decodes of the test slice by source length, and greedy against beam search over all of it."""
        greedy_rows = self.length_table()
        if self.cfg.beam > 1:  # both searches on the same first beam_size pairs
            compared = [self.length_table(1, self.cfg.beam_size)[-1], self.length_table(self.cfg.beam,
                                                                                        self.cfg.beam_size)[-1]]
        metric = "bleu" if self.words else "exact"
        name = "BLEU" if self.words else "exact match"
        lines = [f"{name[0].upper() + name[1:]} of greedy decodes by source length "
                 f"({greedy_rows[-1]['pairs']} test pairs; {type(self.net).__name__}"
                 f"{self._attention_label()}):", "",
                 f"| source tokens | pairs | {name} |" + (" exact match |" if self.words else ""),
                 "|---|---|---|" + ("---|" if self.words else "")]
        for r in greedy_rows:
            lines.append(f"| {r['bucket']} | {r['pairs']} | {r[metric]:.3f} |"
                         + (f" {r['exact']:.3f} |" if self.words else ""))
        if self.cfg.beam > 1:
            lines += ["", f"{name[0].upper() + name[1:]} of the first {compared[0]['pairs']} test pairs: greedy search "
                          f"{compared[0][metric]:.3f}, beam search (width {self.cfg.beam}, length penalty "
                          f"{self.cfg.length_penalty:g}) {compared[1][metric]:.3f}."]
        return "\n".join(lines)

    def _attention_label(self) -> str:
        kind = getattr(getattr(self.net, "cfg", None), "attention", None)
        return f", attention {kind}" if kind else ""

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/length.png (exact match or BLEU against source length) and, for models with attention,
        plots/attention.png (weights of a few test sentences: source tokens across, output tokens down)."""
        from neuralab.viz.seq2seq import plot_attention, plot_length

        rows = self.length_table()[:-1]
        metric = "bleu" if self.words else "exact"
        made = [plot_length(rows, metric, plots_dir / "length.png",
                            title=f"{type(self.net).__name__}{self._attention_label()}")]
        x, y = self._slice(self.cfg.decode_size)
        lengths = (x != PAD).sum(1)
        # A few sentences short enough to read, long enough to show an alignment.
        pick = [i for i in range(len(x)) if 4 <= int(lengths[i]) <= 16][:HEATMAP_SENTENCES] or list(range(min(
            HEATMAP_SENTENCES, len(x))))
        xs = trim(x[pick])
        out, weights = self.decode(xs, y.shape[1] - 1, keep_attention=True)
        if weights is None:
            return made
        maps = []
        for row, src, w in zip(until_eos(out), xs.tolist(), weights, strict=True):
            src_tokens = [self.src_vocab.tokens[i] for i in src if i != PAD]
            if self.cfg.reverse_source:  # weights are over the positions as the encoder read them
                src_tokens = src_tokens[:-1][::-1] + src_tokens[-1:]
            maps.append((src_tokens, [self.tgt_vocab.tokens[i] for i in row],
                         w[:len(row), :len(src_tokens)].float().cpu().numpy()))
        made.append(plot_attention(maps, plots_dir / "attention.png"))
        return made

    def translate(self, text: str, beam: int = 0) -> tuple[str, list[str]]:
        """(the model's output for `text`, notes for the user): word or character tokens never seen in training
        become <unk>, a text longer than the training sources is cut to their length."""
        beam = beam or self.cfg.beam
        if not text.strip():
            raise UserError("the text to translate is empty; give some text")
        ids = self.src_vocab.encode_prompt(text, what="text to translate")
        notes = []
        unknown = sorted(set(self.src_vocab.unknown(text)))
        if unknown:
            notes.append(f"not in this run's source vocabulary, read as <unk>: {', '.join(unknown[:10])}"
                         + (" ..." if len(unknown) > 10 else ""))
        longest = self.data.meta.input_shape[0] - 1  # training sources end with EOS
        if len(ids) > longest:
            notes.append(f"the text has {len(ids)} tokens, this model was trained on at most {longest}: "
                         f"translated the first {longest}")
            ids = ids[:longest]
        x = self.src_vocab.pad([ids + [EOS]]).to(self.ctx.device)
        out, _ = self.decode(x, self.net.cfg.max_length, beam)
        return self.tgt_vocab.decode(until_eos(out)[0]), notes

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._tables.clear()
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU (sacrebleu, 13a tokens, case-insensitive: the decodes are lower-cased words) on a 0-100 scale."""
    from sacrebleu.metrics import BLEU

    return float(BLEU(lowercase=True).corpus_score(hypotheses, [references]).score)

"""word2vec's two models (Mikolov, Chen, Corrado, Dean, "Efficient Estimation of Word Representations in Vector
Space", 2013): the continuous skip-gram, which predicts each context word from the centre word, and the continuous
bag of words (CBOW), which predicts the centre word from the average of its context words.

Both are two tables and a dot product. Every word w has an input vector v_w (the row of `inputs`: the word
embedding that `similar` and `analogy` query) and an output vector u_w (`outputs`). A forward pass takes rows of
word ids: the first `n_inputs` are the input words, whose input vectors are averaged into h (PAD ignored), the
rest are scored words o, each getting the logit u_o . h. The skip-gram has one input word (the centre); CBOW has
the 2 window words around the centre. The learning rule (negative sampling, `neuralab.methods.word2vec`) lays a
batch out for either and turns the logits into its loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from neuralab.config import field, override
from neuralab.data.vocab import PAD, SPECIALS
from neuralab.errors import UserError
from neuralab.models import sizing
from neuralab.registry import register_model

PAPER = "Mikolov, Chen, Corrado, Dean 2013, Efficient Estimation of Word Representations in Vector Space"
SCORED = 6  # scored words per row of the example inputs: a true one and 5 negatives


@dataclass(frozen=True)
class SkipGramConfig:
    vocab_size: int = field(10_002, "Words in the vocabulary, the 4 special tokens included; set from the data.",
                            ge=len(SPECIALS) + 1)
    dim: int = field(100, "Dimension D of every word's input and output vectors.", ge=1)
    sparse: bool = field(True, "Sparse gradients: only the rows of the words in a batch get a gradient (SparseAdam, "
                               "SGD); false for optimisers that need dense gradients (Adam).")
    init_std: float = field(0.1, "Both tables start normal with this standard deviation; 0: as word2vec's C code, "
                                 "input vectors uniform in +-0.5 / dim and output vectors 0 (with mini-batches and "
                                 "Adam that start lets every vector drift along one shared direction).", ge=0)


@dataclass(frozen=True)
class CBOWConfig(SkipGramConfig):
    window: int = field(5, "Context words on each side of the centre (2 window inputs, averaged); set from the "
                           "data.", ge=1)


class Word2Vec(nn.Module):
    """Rows (B, n_inputs + O) of word ids -> (B, O) logits u_o . mean(v_inputs)."""

    arrangement = ""  # how the learning rule lays out a batch for this model: "skipgram" or "cbow"

    def __init__(self, cfg: SkipGramConfig, n_inputs: int) -> None:
        super().__init__()
        self.cfg, self.n_inputs = cfg, n_inputs
        self.inputs = nn.Embedding(cfg.vocab_size, cfg.dim, padding_idx=PAD, sparse=cfg.sparse)
        self.outputs = nn.Embedding(cfg.vocab_size, cfg.dim, sparse=cfg.sparse)
        with torch.no_grad():
            if cfg.init_std:
                self.inputs.weight.normal_(0, cfg.init_std)
                self.outputs.weight.normal_(0, cfg.init_std)
            else:  # word2vec.c
                self.inputs.weight.uniform_(-0.5 / cfg.dim, 0.5 / cfg.dim)
                self.outputs.weight.zero_()
            self.inputs.weight[PAD] = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        words, scored = x[:, :self.n_inputs], x[:, self.n_inputs:]  # (B, I), (B, O)
        h = self.inputs(words).sum(1) / (words != PAD).sum(1, keepdim=True).clamp_min(1)  # (B, D); PAD rows are 0
        return (self.outputs(scored) * h[:, None]).sum(-1)  # (B, O)

    @property
    def vectors(self) -> torch.Tensor:
        """(V, D) the words' input vectors: the embedding."""
        return self.inputs.weight.detach()


@register_model("skipgram", family="embedding", config=SkipGramConfig, sizing=sizing.tokens, paper=PAPER,
                example_input=lambda c: torch.randint(len(SPECIALS), c.vocab_size, (3, 1 + SCORED)))
class SkipGram(Word2Vec):
    """Centre word c and scored words o: logits u_o . v_c. Input rows (B, 1 + O)."""

    arrangement = "skipgram"

    def __init__(self, cfg: SkipGramConfig) -> None:
        super().__init__(cfg, 1)


def context_tokens(cfg: Any, meta: Any, explicit: dict[str, Any]) -> Any:
    """`sizing.tokens`, and `window` from the data's context width (input_shape = [2 window])."""
    cfg = sizing.tokens(cfg, meta, explicit)
    window = meta.input_shape[0] // 2
    if window == cfg.window:
        return cfg
    if "window" in explicit:
        raise UserError(f"--model.window {explicit['window']} does not match the data ({meta.source}: window = "
                        f"{window}); set --data.window instead")
    return override(cfg, {"window": window}, "model")


def _cbow_example(c: CBOWConfig) -> torch.Tensor:
    x = torch.randint(len(SPECIALS), c.vocab_size, (3, 2 * c.window + SCORED))
    x[0, 0] = PAD  # a window cut short by the sentence's start
    return x


@register_model("cbow", family="embedding", config=CBOWConfig, sizing=context_tokens, paper=PAPER,
                example_input=_cbow_example)
class CBOW(Word2Vec):
    """Context words (2 window, PAD where the window is shorter) and scored centre words o: logits
    u_o . mean(v_context). Input rows (B, 2 window + O)."""

    arrangement = "cbow"

    def __init__(self, cfg: CBOWConfig) -> None:
        super().__init__(cfg, 2 * cfg.window)

"""RNN encoder-decoder (Sutskever, Vinyals, Le, "Sequence to Sequence Learning with Neural Networks", 2014; Cho et
al., "Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine Translation", 2014) with
optional additive attention (Bahdanau, Cho, Bengio, "Neural Machine Translation by Jointly Learning to Align and
Translate", 2015), curriculum S3, S8.

The encoder reads the source tokens (B, S) into states h_1..h_S (bidirectional: forward and backward states
concatenated). The decoder state starts at s_0 = tanh(W_init c), c the encoder's summary (its last states);
each step reads the previous target token and a context vector:

    attention none:      c_t = c                                  (one fixed vector: Cho et al.'s bottleneck)
    attention bahdanau:  e_tj = v^T tanh(W s_{t-1} + U h_j),  a_t = softmax_j(e_t) over real tokens,
                         c_t = sum_j a_tj h_j
    s_t = RNN([E y_{t-1}; c_t], s_{t-1}),   logits_t = W_out [s_t; c_t; E y_{t-1}]

Without attention the context is the same at every step, so the whole decoder runs as one fused RNN call; with
attention each step's context depends on s_{t-1}, so the decoder steps one token at a time. The attention
weights of the last forward pass are kept in `attention` (B, T, S) for heat maps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from neuralab.config import field
from neuralab.data.vocab import PAD
from neuralab.models import sizing
from neuralab.registry import register_model

CELLS = ("gru", "lstm")
ATTENTIONS = ("none", "bahdanau")

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # GRU: h (L, B, H); LSTM: (h, c)
Memory = dict[str, torch.Tensor]  # what the encoder hands the decoder; every tensor has the batch first


@dataclass(frozen=True)
class RNNEncoderDecoderConfig:
    vocab_size: int = field(32, "Source vocabulary size (special tokens included); set from the data.", ge=5)
    target_vocab_size: int = field(32, "Target vocabulary size; set from the data.", ge=5)
    cell: str = field("gru", "Recurrent cell of encoder and decoder (torch's fused nn.GRU or nn.LSTM).",
                      choices=CELLS)
    attention: str = field("bahdanau", "none: the decoder sees one fixed summary vector (Cho et al. 2014); "
                                       "bahdanau: additive attention over all encoder states (Bahdanau et al. 2015).",
                           choices=ATTENTIONS)
    bidirectional: bool = field(True, "Read the source in both directions (Bahdanau et al.'s encoder).")
    embed_dim: int = field(64, "Width of the token embeddings.", ge=1)
    hidden: int = field(128, "Width of the decoder state and of each encoder direction.", ge=1)
    attention_dim: int = field(128, "Width of the additive score's hidden layer (W s + U h).", ge=1)
    layers: int = field(1, "Stacked recurrent layers in encoder and decoder.", ge=1)
    dropout: float = field(0.0, "Dropout on embeddings and before the output layer.", ge=0, le=0.9)
    max_length: int = field(64, "Longest output the decoder writes when translating new text.", ge=2)


class BahdanauAttention(nn.Module):
    """Additive attention: weights a_j = softmax_j(v^T tanh(W s + U h_j)) over the unmasked keys."""

    def __init__(self, query_dim: int, key_dim: int, dim: int) -> None:
        super().__init__()
        self.query = nn.Linear(query_dim, dim, bias=False)  # W
        self.key = nn.Linear(key_dim, dim)  # U (its bias is the score's)
        self.v = nn.Linear(dim, 1, bias=False)

    def forward(self, s: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(context (B, Dv), weights (B, S)) for query s (B, Dq), projected keys U h (B, S, A), values h (B, S, Dv)
        and mask (B, S) True at real tokens."""
        scores = self.v(torch.tanh(self.query(s)[:, None] + keys)).squeeze(-1)  # (B, S)
        weights = scores.masked_fill(~mask, float("-inf")).softmax(-1)
        return torch.bmm(weights[:, None], values).squeeze(1), weights


def _example(cfg: RNNEncoderDecoderConfig) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.randint(4, cfg.vocab_size, (2, 7))
    src[1, 5:] = PAD  # a shorter second source: padding is masked
    return src, torch.randint(4, cfg.target_vocab_size, (2, 6))


@register_model("rnn-encoder-decoder", family="seq2seq", config=RNNEncoderDecoderConfig, sizing=sizing.tokens,
                example_input=_example,
                paper="Sutskever et al. 2014 / Cho et al. 2014; attention: Bahdanau, Cho, Bengio 2015, Neural Machine "
                      "Translation by Jointly Learning to Align and Translate")
class RNNEncoderDecoder(nn.Module):
    """forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V_target); `encode`/`start`/`step` decode a token at a
    time (neuralab.models.seq2seq.search)."""

    def __init__(self, cfg: RNNEncoderDecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        directions = 2 if cfg.bidirectional else 1
        enc_dim = cfg.hidden * directions
        self.src_embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(cfg.target_vocab_size, cfg.embed_dim, padding_idx=PAD)
        self.encoder = rnn(cfg.embed_dim, cfg.hidden, cfg.layers, batch_first=True, bidirectional=cfg.bidirectional)
        self.init = nn.Linear(enc_dim, cfg.hidden * cfg.layers)  # s_0 = tanh(W_init c), one per decoder layer
        self.decoder = rnn(cfg.embed_dim + enc_dim, cfg.hidden, cfg.layers, batch_first=True)
        self.attend = (BahdanauAttention(cfg.hidden, enc_dim, cfg.attention_dim)
                       if cfg.attention == "bahdanau" else None)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden + enc_dim + cfg.embed_dim, cfg.target_vocab_size)
        self.attention: torch.Tensor | None = None  # (B, T, S): the weights of the last forward pass

    def encode(self, src: torch.Tensor) -> Memory:
        """The encoder states of src (B, S), right-padded with PAD: states (B, S, He), their projections U h for
        the attention, the mask (B, S) of real tokens and the summary c (B, He)."""
        mask = src != PAD
        lengths = mask.sum(1).clamp_min(1)
        packed = pack_padded_sequence(self.drop(self.src_embed(src)), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        out, last = self.encoder(packed)
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])  # (B, S, He)
        h = last[0] if isinstance(last, tuple) else last  # (layers * directions, B, H)
        # The top layer's last forward state (and, bidirectional, the backward state at the first token).
        summary = h[-2:].transpose(0, 1).reshape(len(src), -1) if self.cfg.bidirectional else h[-1]
        memory = {"states": states, "mask": mask, "summary": summary}
        if self.attend is not None:
            memory["keys"] = self.attend.key(states)  # U h_j once per source, not once per decoder step
        return memory

    def start(self, memory: Memory) -> State:
        """The decoder's first state s_0 = tanh(W_init c) (an LSTM's cell starts at zero)."""
        b = len(memory["summary"])
        h = torch.tanh(self.init(memory["summary"])).view(b, self.cfg.layers, -1).transpose(0, 1).contiguous()
        return (h, torch.zeros_like(h)) if self.cfg.cell == "lstm" else h

    def _top(self, state: State) -> torch.Tensor:
        return (state[0] if isinstance(state, tuple) else state)[-1]  # (B, H): the query s_{t-1}

    def step(self, memory: Memory, state: State,
             tokens: torch.Tensor) -> tuple[torch.Tensor, State, torch.Tensor | None]:
        """One decoder step: (logits (B, V), next state, attention weights (B, S) or None) for tokens (B,)."""
        emb = self.drop(self.tgt_embed(tokens))  # (B, E)
        weights = None
        if self.attend is None:
            context = memory["summary"]
        else:
            context, weights = self.attend(self._top(state), memory["keys"], memory["states"], memory["mask"])
        out, state = self.decoder(torch.cat([emb, context], -1)[:, None], state)
        logits = self.out(self.drop(torch.cat([out[:, 0], context, emb], -1)))
        return logits, state, weights

    @staticmethod
    def reorder(state: State, index: torch.Tensor) -> State:
        """The decoder state of the batch rows `index` (beam search keeps the best hypotheses)."""
        if isinstance(state, tuple):
            return tuple(s.index_select(1, index) for s in state)
        return state.index_select(1, index)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits (B, T, V) of each next target token given src (B, S) and tgt_in (B, T)."""
        memory = self.encode(src)
        state = self.start(memory)
        if self.attend is None:  # one fixed context: the decoder runs as one fused call
            emb = self.drop(self.tgt_embed(tgt_in))  # (B, T, E)
            context = memory["summary"][:, None].expand(-1, tgt_in.shape[1], -1)
            out, _ = self.decoder(torch.cat([emb, context], -1), state)
            self.attention = None
            return self.out(self.drop(torch.cat([out, context, emb], -1)))
        logits, weights = [], []
        for t in range(tgt_in.shape[1]):
            step_logits, state, w = self.step(memory, state, tgt_in[:, t])
            logits.append(step_logits)
            weights.append(w)
        self.attention = torch.stack(weights, 1).detach()
        return torch.stack(logits, 1)


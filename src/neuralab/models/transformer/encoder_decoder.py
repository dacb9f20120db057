"""Transformer encoder-decoder (Vaswani et al., "Attention Is All You Need", 2017), curriculum S9, built from
`neuralab.nn.transformer.TransformerBlock` (pre-norm).

    memory = Encoder(E_src src * sqrt(D) + P)             (blocks of self-attention over the real source tokens)
    h      = Decoder(E_tgt tgt_in * sqrt(D) + P, memory)  (causal self-attention, then cross-attention on memory)
    logits = W_out LN(h)

Positions are Vaswani et al.'s sinusoids or learned vectors (`neuralab.nn.positions`). Decoding a token at a time
re-reads the prefix written so far (no key/value cache: outputs here are a few dozen tokens). The last decoder
block's cross-attention weights, averaged over heads, are the attention heat map.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.data.vocab import PAD
from neuralab.models import sizing
from neuralab.nn.positions import POSITIONS, Positions
from neuralab.nn.transformer import TransformerBlock
from neuralab.registry import register_model

Memory = dict[str, torch.Tensor]


@dataclass(frozen=True)
class TransformerEncoderDecoderConfig:
    vocab_size: int = field(32, "Source vocabulary size (special tokens included); set from the data.", ge=5)
    target_vocab_size: int = field(32, "Target vocabulary size; set from the data.", ge=5)
    d_model: int = field(128, "Width of tokens inside the network.", ge=1)
    heads: int = field(4, "Attention heads (d_model must divide by it).", ge=1)
    d_ff: int = field(256, "Hidden width of each block's feed-forward layer.", ge=1)
    encoder_layers: int = field(2, "Encoder blocks.", ge=1)
    decoder_layers: int = field(2, "Decoder blocks (causal self-attention and cross-attention).", ge=1)
    dropout: float = field(0.1, "Dropout on embeddings, attention weights and sub-layer outputs.", ge=0, le=0.9)
    positions: str = field("sinusoidal", "Position vectors: sinusoidal (fixed, Vaswani et al.) or learned.",
                           choices=POSITIONS)
    max_length: int = field(64, "Longest source or output sequence (positions table); longer input is refused.",
                            ge=2)


def _example(cfg: TransformerEncoderDecoderConfig) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.randint(4, cfg.vocab_size, (2, 7))
    src[1, 5:] = PAD
    return src, torch.randint(4, cfg.target_vocab_size, (2, 6))


@register_model("transformer-encoder-decoder", family="transformer", config=TransformerEncoderDecoderConfig,
                sizing=sizing.tokens, example_input=_example,
                paper="Vaswani et al. 2017, Attention Is All You Need")
class TransformerEncoderDecoder(nn.Module):
    """forward(src (B, S), tgt_in (B, T)) -> logits (B, T, V_target); `encode`/`start`/`step` decode a token at a
    time (neuralab.models.seq2seq.search)."""

    def __init__(self, cfg: TransformerEncoderDecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.src_embed = nn.Embedding(cfg.vocab_size, d, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(cfg.target_vocab_size, d, padding_idx=PAD)
        self.src_positions = Positions(cfg.positions, cfg.max_length, d)
        self.tgt_positions = Positions(cfg.positions, cfg.max_length, d)
        self.drop = nn.Dropout(cfg.dropout)
        self.encoder = nn.ModuleList(TransformerBlock(d, cfg.heads, cfg.d_ff, cfg.dropout)
                                     for _ in range(cfg.encoder_layers))
        self.encoder_norm = nn.LayerNorm(d)  # pre-norm blocks leave their output unnormalised
        self.decoder = nn.ModuleList(TransformerBlock(d, cfg.heads, cfg.d_ff, cfg.dropout, cross=True)
                                     for _ in range(cfg.decoder_layers))
        self.decoder_norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, cfg.target_vocab_size)

    def _embed(self, tokens: torch.Tensor, embed: nn.Embedding, positions: Positions) -> torch.Tensor:
        return self.drop(positions(embed(tokens) * math.sqrt(self.cfg.d_model)))

    def encode(self, src: torch.Tensor) -> Memory:
        """memory (B, S, D) of src (B, S) and its padding (B, S), True at PAD."""
        padding = src == PAD
        x = self._embed(src, self.src_embed, self.src_positions)
        for block in self.encoder:
            x = block(x, padding=padding)
        return {"memory": self.encoder_norm(x), "padding": padding}

    def _decode(self, memory: Memory, tgt_in: torch.Tensor, need_weights: bool = False) -> torch.Tensor:
        """The decoder's normalised outputs (B, T, D); `need_weights` keeps the last block's cross-attention."""
        x = self._embed(tgt_in, self.tgt_embed, self.tgt_positions)
        for i, block in enumerate(self.decoder):  # target padding follows the real tokens: the causal mask hides it
            x = block(x, causal=True, memory=memory["memory"], memory_padding=memory["padding"],
                      need_weights=need_weights and i == len(self.decoder) - 1)
        return self.decoder_norm(x)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits (B, T, V) of each next target token given src (B, S) and tgt_in (B, T)."""
        return self.out(self._decode(self.encode(src), tgt_in))

    @staticmethod
    def start(memory: Memory) -> torch.Tensor:
        """The decoder's state: the target tokens written so far (B, 0) - the prefix is re-read each step."""
        return memory["padding"].new_zeros(len(memory["padding"]), 0, dtype=torch.long)

    def step(self, memory: Memory, state: torch.Tensor,
             tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits (B, V), prefix with `tokens` (B,) appended, the last block's cross-attention weights of this
        step averaged over heads (B, S))."""
        state = torch.cat([state, tokens[:, None]], 1)
        logits = self.out(self._decode(memory, state, need_weights=True)[:, -1])  # the new position only
        return logits, state, self.decoder[-1].weights[:, :, -1].mean(1)

    @staticmethod
    def reorder(state: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return state.index_select(0, index)

"""Decoding an encoder-decoder's output a token at a time: greedy search and beam search, batched over sources.

Any model with `encode(src) -> memory` (a dict of tensors, batch first), `start(memory) -> state`,
`step(memory, state, tokens) -> (logits, state, attention weights or None)` and `reorder(state, index)` decodes
here (`RNNEncoderDecoder`, `TransformerEncoderDecoder`). A hypothesis ends at EOS; after it only PAD follows.

Beam search keeps the `width` best prefixes of each source by total log-probability; among the finished ones it
returns the best by log-probability / length^alpha (`length_penalty` alpha; 0 compares raw log-probabilities,
which favour short outputs). With width 1 it is greedy search.
"""

from __future__ import annotations

from typing import Any

import torch

from neuralab.data.vocab import BOS, EOS, PAD


def _expand(memory: dict[str, torch.Tensor], k: int) -> dict[str, torch.Tensor]:
    return {name: t.repeat_interleave(k, 0) for name, t in memory.items()}


@torch.no_grad()
def greedy(model: Any, src: torch.Tensor, max_len: int,
           keep_attention: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(tokens (B, <= max_len), attention (B, steps, S) or None) of src (B, S): the likeliest token each step."""
    memory = model.encode(src)
    state = model.start(memory)
    tokens = torch.full((len(src),), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    out, weights = [], []
    for _ in range(max_len):
        logits, state, w = model.step(memory, state, tokens)
        tokens = logits.argmax(-1).masked_fill(done, PAD)
        out.append(tokens)
        if keep_attention and w is not None:
            weights.append(w)
        done |= tokens == EOS
        if done.all():
            break
    return torch.stack(out, 1), (torch.stack(weights, 1) if weights else None)


@torch.no_grad()
def beam_search(model: Any, src: torch.Tensor, max_len: int, width: int,
                length_penalty: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(tokens (B, <= max_len), their log-probabilities (B,)) of the best finished beam of each source in src."""
    b, k = len(src), width
    memory = _expand(model.encode(src), k)
    state = model.start(memory)
    device = src.device
    scores = torch.full((b, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live beam at first, so the k starting copies do not fill the beam with duplicates
    tokens = torch.full((b * k,), BOS, dtype=torch.long, device=device)
    done = torch.zeros(b * k, dtype=torch.bool, device=device)
    lengths = torch.zeros(b * k, device=device)
    history = torch.zeros(b * k, 0, dtype=torch.long, device=device)
    for _ in range(max_len):
        logits, state, _ = model.step(memory, state, tokens)
        logp = logits.float().log_softmax(-1)  # (B*K, V)
        v = logp.shape[-1]
        # A finished beam goes on only with PAD, at no cost: its score stays as it was.
        finished = torch.full_like(logp, float("-inf"))
        finished[:, PAD] = 0.0
        logp = torch.where(done[:, None], finished, logp)
        total = (scores.view(-1, 1) + logp).view(b, k * v)
        scores, flat = total.topk(k, -1)  # (B, K)
        beam, tokens = flat // v, flat % v
        index = (beam + torch.arange(b, device=device)[:, None] * k).view(-1)
        tokens = tokens.view(-1)
        state = model.reorder(state, index)
        history = torch.cat([history.index_select(0, index), tokens[:, None]], 1)
        lengths = lengths.index_select(0, index) + (~done.index_select(0, index)).float()
        done = done.index_select(0, index) | (tokens == EOS)
        if done.all():
            break
    ranked = scores.view(-1) / lengths.clamp_min(1) ** length_penalty
    best = ranked.view(b, k).argmax(-1) + torch.arange(b, device=device) * k
    return history.index_select(0, best), scores.view(-1).index_select(0, best)


def sequence_log_prob(model: Any, src: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(tokens | src) (B,) of output tokens (B, T) ending at EOS (PAD after it), read by teacher forcing."""
    with torch.no_grad():
        tgt_in = torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :-1]], 1)
        logp = model(src, tgt_in).float().log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1)
        return logp.masked_fill(tokens == PAD, 0.0).sum(-1)

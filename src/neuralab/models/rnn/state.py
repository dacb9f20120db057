"""The recurrent state between chunks of a long sequence: truncated backpropagation through time (notes 002
section 3.2; Williams & Peng, "An efficient gradient-based algorithm for on-line training of recurrent network
trajectories", 1990).

A long stream is cut into chunks of T steps; each chunk starts from the state the previous one ended with, so
the forward pass sees the whole past, while the backward pass stops at the chunk's start: `detach_state` keeps the
values and drops the graph. Where a lane of the batch starts a new, unrelated sequence (a new document, a new
episode), `reset_state_where` zeroes that lane's state. A state is what torch's recurrent modules take: a tensor h,
a tuple (h, c) for an LSTM, or None before the first chunk; both functions leave None as None.
"""

from __future__ import annotations

import torch

State = torch.Tensor | tuple[torch.Tensor, ...] | None


def detach_state(state: State) -> State:
    """The same values cut from the graph that made them, so the next chunk's backward pass stops here."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return tuple(s.detach() for s in state)


def reset_state_where(state: State, mask: torch.Tensor, batch_dim: int = 1) -> State:
    """`state` with the batch lanes where `mask` (B,) is True set to zero; `batch_dim` is the batch axis of each
    tensor (1 for torch's (layers * directions, B, H), 0 for one cell's (B, H))."""
    if state is None:
        return None
    if not isinstance(state, torch.Tensor):
        return tuple(reset_state_where(s, mask, batch_dim) for s in state)
    if mask.shape != (state.shape[batch_dim],):
        raise ValueError(f"mask of shape {tuple(mask.shape)} for a state with batch size {state.shape[batch_dim]}")
    shape = [1] * state.dim()
    shape[batch_dim] = -1
    return state.masked_fill(mask.to(state.device).view(shape), 0.0)

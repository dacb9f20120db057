"""torch's fused recurrent layers by name, and the summary a many-to-one model reads from them.

Elman, "Finding structure in time", 1990 (rnn: tanh); Hochreiter and Schmidhuber, "Long short-term memory", 1997
(lstm); Cho et al., "Learning phrase representations using RNN encoder-decoder for statistical machine
translation", 2014 (gru). The models of this package train through these fused modules (cuDNN on a GPU).
"""

from __future__ import annotations

import torch
from torch import nn

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def make_rnn(cell: str, input_size: int, hidden: int, layers: int = 1, bidirectional: bool = False) -> nn.RNNBase:
    """A batch-first fused recurrent layer stack: (B, T, input_size) -> (B, T, hidden * directions)."""
    return CELLS[cell](input_size, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional)


def last_hidden(rnn: nn.RNNBase, state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """The top layer's final hidden state (B, hidden * directions) from a fused layer's returned state (an
    LSTM returns (h, c); h is (layers * directions, B, hidden)). With two directions it joins the forward
    pass's last step with the backward pass's, which ends at the first step."""
    h = state[0] if isinstance(state, tuple) else state
    directions = 2 if rnn.bidirectional else 1
    return torch.cat(list(h[-directions:]), dim=-1)


def as_steps(x: torch.Tensor, in_channels: int) -> torch.Tensor:
    """A sequence batch (B, C, L), or (B, L) when there is one channel, as the steps a recurrent layer reads,
    (B, L, C)."""
    if x.dim() == 2 and in_channels == 1:
        x = x.unsqueeze(1)
    if x.dim() != 3 or x.shape[1] != in_channels:
        raise ValueError(f"expected sequences (B, {in_channels}, L), got {tuple(x.shape)}")
    return x.transpose(1, 2)

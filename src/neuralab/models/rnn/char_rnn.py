"""Character-level recurrent language model (Graves, "Generating Sequences With Recurrent Neural Networks", 2013;
Karpathy's char-rnn, "The Unreasonable Effectiveness of Recurrent Neural Networks", 2015), curriculum S5.

    e_t = Embed(x_t),    h_t = LSTM or GRU(e_t, h_{t-1})  (stacked `layers` deep),    p(x_{t+1}) = softmax(W h_t + b)

The recurrence is torch's fused `nn.LSTM` / `nn.GRU` (Hochreiter and Schmidhuber 1997; Cho et al. 2014). The
hidden state can be passed in and handed back (`return_state`), so truncated BPTT carries it from one chunk of
text to the next and sampling feeds one character at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # GRU: h (layers, B, H); LSTM: (h, c)


@dataclass(frozen=True)
class CharRNNConfig:
    vocab_size: int = field(96, "Tokens in the vocabulary (inputs and output classes); set from the data.", ge=1)
    cell: str = field("lstm", "Recurrent cell: lstm or gru (torch's fused nn.LSTM / nn.GRU).", choices=tuple(CELLS))
    embed_dim: int = field(128, "Width of the character embedding fed to the first layer.", ge=1)
    hidden_size: int = field(512, "Units of each recurrent layer.", ge=1)
    layers: int = field(2, "Stacked recurrent layers.", ge=1)
    dropout: float = field(0.0, "Dropout between recurrent layers and before the output layer.", ge=0, le=0.9)


@register_model("char-rnn", family="rnn", config=CharRNNConfig, sizing=sizing.tokens,
                example_input=lambda cfg: torch.randint(0, cfg.vocab_size, (2, 12)),
                paper="Graves, Generating Sequences With Recurrent Neural Networks, 2013")
class CharRNN(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, V)."""

    carries_state = True  # the language-model method carries the hidden state across chunks (truncated BPTT)

    def __init__(self, cfg: CharRNNConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.rnn = CELLS[cfg.cell](cfg.embed_dim, cfg.hidden_size, cfg.layers, batch_first=True,
                                   dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden_size, cfg.vocab_size)

    def forward(self, x: torch.Tensor, state: State | None = None, *, return_state: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, State]:
        """Logits (B, T, V) for ids x (B, T), starting from `state` (zeros when None); with `return_state`, also
        the state after the last step."""
        out, state = self.rnn(self.embed(x), state)  # (B, T, H)
        logits = self.head(self.drop(out))
        return (logits, state) if return_state else logits

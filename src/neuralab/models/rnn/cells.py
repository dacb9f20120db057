"""Elman RNN, LSTM and GRU cells written from their equations, and a layer that runs them over time (Elman,
"Finding structure in time", 1990; Hochreiter & Schmidhuber, "Long short-term memory", 1997; Cho et al.,
"Learning phrase representations using RNN encoder-decoder for statistical machine translation", 2014; notes 002
sections 3.1 and 3.5).

The default training path everywhere in neuralab uses torch's fused `nn.RNN`, `nn.LSTM` and `nn.GRU`. These cells
are the readable reference: one line per equation, checked against the fused modules to 1e-6 in float64 (outputs,
final states and every gradient; tests/unit/test_rnn_cells.py), and used where per-step access is the point (the
`vanishing-gradients-rnn` lesson retains dLoss/dh_t at every step).

Equations, with W_i* x + b_i* + W_h* h + b_h* written (x, h) -> * for each gate:
- Elman:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
- LSTM:   i, f, g, o = sigma, sigma, tanh, sigma of (x, h) -> i, f, g, o;  c' = f * c + i * g;  h' = o * tanh(c')
- GRU:    r, z = sigma of (x, h) -> r, z;  n = tanh(W_in x + b_in + r * (W_hn h + b_hn));  h' = (1 - z) * n + z * h

The notes write each LSTM gate as W [h_{t-1}, x_t] + b on the concatenation: that is W_i* x + W_h* h with W split
by columns, and their one bias is torch's b_i* + b_h*. The GRU is torch's (and cuDNN's) form, in which the reset
gate multiplies W_hn h + b_hn; Cho et al. reset h before the product. Gate order and parameter layout are torch's
(LSTM rows i, f, g, o; GRU rows r, z, n; `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, with
`_reverse` for the backward direction), so `Recurrent.load_state_dict(nn.LSTM(...).state_dict())` copies weights
straight across, and back.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]  # h, or (h, c) for an LSTM


def elman_cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
               b_ih: torch.Tensor | None, b_hh: torch.Tensor | None) -> torch.Tensor:
    """One step of the simple recurrent network: x (B, D), h (B, H) -> h' (B, H)."""
    return torch.tanh(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh))


def lstm_cell(x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], w_ih: torch.Tensor, w_hh: torch.Tensor,
              b_ih: torch.Tensor | None, b_hh: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step: x (B, D), (h, c) each (B, H) -> (h', c'); the weights stack the gates i, f, g, o by rows."""
    h, c = state
    i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g  # the cell carries its past through f alone: no squashing, no weight matrix
    return o * torch.tanh(c), c


def gru_cell(x: torch.Tensor, h: torch.Tensor, w_ih: torch.Tensor, w_hh: torch.Tensor,
             b_ih: torch.Tensor | None, b_hh: torch.Tensor | None) -> torch.Tensor:
    """One GRU step: x (B, D), h (B, H) -> h' (B, H); the weights stack the gates r, z, n by rows."""
    xr, xz, xn = F.linear(x, w_ih, b_ih).chunk(3, dim=-1)
    hr, hz, hn = F.linear(h, w_hh, b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h  # z near 1 copies h forward, as the LSTM's forget gate does


CELLS: dict[str, tuple[Callable[..., State], int]] = {"elman": (elman_cell, 1), "lstm": (lstm_cell, 4),
                                                       "gru": (gru_cell, 3)}  # cell -> (step, gates)
TORCH_MODULES = {"elman": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}  # the fused equivalent of each cell


class Recurrent(nn.Module):
    """A stack of `num_layers` recurrent layers of one cell, each optionally bidirectional, run step by step.

    Takes and returns what torch's fused module with `batch_first=True` does: `forward(x (B, T, D), state)` ->
    `(output (B, T, dirs * H), state_n)`, where a state is h of shape (num_layers * dirs, B, H), or (h, c) for
    an LSTM, and a missing initial state is zeros. Layer k > 0 reads the concatenated outputs of both directions
    of layer k - 1.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 bidirectional: bool = False) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
        self.cell, self.input_size, self.hidden_size = cell, input_size, hidden_size
        self.num_layers, self.bias, self.bidirectional = num_layers, bias, bidirectional
        self.step_fn, gates = CELLS[cell]
        dirs = 2 if bidirectional else 1
        for k in range(num_layers):  # registered in torch's order, so the state dict keys line up
            for suffix in ("", "_reverse")[:dirs]:
                d_in = input_size if k == 0 else dirs * hidden_size
                self.register_parameter(f"weight_ih_l{k}{suffix}", nn.Parameter(torch.empty(gates * hidden_size, d_in)))
                self.register_parameter(f"weight_hh_l{k}{suffix}",
                                        nn.Parameter(torch.empty(gates * hidden_size, hidden_size)))
                if bias:
                    self.register_parameter(f"bias_ih_l{k}{suffix}", nn.Parameter(torch.empty(gates * hidden_size)))
                    self.register_parameter(f"bias_hh_l{k}{suffix}", nn.Parameter(torch.empty(gates * hidden_size)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's initialisation: every weight and bias uniform in +-1/sqrt(hidden_size)."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def weights(self, layer: int = 0, reverse: bool = False) -> tuple[torch.Tensor | None, ...]:
        """(w_ih, w_hh, b_ih, b_hh) of one layer and direction; the biases are None without `bias`."""
        suffix = f"l{layer}{'_reverse' if reverse else ''}"
        return tuple(getattr(self, f"{name}_{suffix}", None) for name in ("weight_ih", "weight_hh", "bias_ih",
                                                                           "bias_hh"))

    def step(self, x: torch.Tensor, state: State, layer: int = 0, reverse: bool = False) -> State:
        """One time step of one layer and direction: x (B, D_layer), state h or (h, c) each (B, H)."""
        return self.step_fn(x, state, *self.weights(layer, reverse))

    def zero_state(self, batch: int, like: torch.Tensor) -> State:
        """The all-zero initial state, shaped as `forward` takes it."""
        h = like.new_zeros(self.num_layers * (2 if self.bidirectional else 1), batch, self.hidden_size)
        return (h, h.clone()) if self.cell == "lstm" else h

    def forward(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        # x (B, T, D); state (L * dirs, B, H) or a pair of them
        if state is None:
            state = self.zero_state(x.shape[0], x)
        lstm = self.cell == "lstm"
        dirs = 2 if self.bidirectional else 1
        finals: list[State] = []
        for k in range(self.num_layers):
            outputs = []
            for d in range(dirs):
                i = k * dirs + d
                s = (state[0][i], state[1][i]) if lstm else state[i]
                steps = range(x.shape[1] - 1, -1, -1) if d else range(x.shape[1])
                hs = []
                for t in steps:
                    s = self.step(x[:, t], s, k, bool(d))
                    hs.append(s[0] if lstm else s)
                outputs.append(torch.stack(hs[::-1] if d else hs, dim=1))  # (B, T, H), in time order
                finals.append(s)
            x = torch.cat(outputs, dim=-1) if dirs == 2 else outputs[0]  # (B, T, dirs * H): the next layer's input
        if lstm:
            return x, (torch.stack([h for h, _ in finals]), torch.stack([c for _, c in finals]))
        return x, torch.stack(finals)

    def extra_repr(self) -> str:
        return (f"{self.cell}, {self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bias={self.bias}, bidirectional={self.bidirectional}")

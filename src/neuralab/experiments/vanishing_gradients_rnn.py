"""`vanishing-gradients-rnn`: how much of the loss's gradient reaches the hidden state k steps back, for an Elman
RNN, an LSTM and a GRU on the same long random sequences (curriculum S1; notes 002 sections 2.9 and 3.2; Bengio,
Simard & Frasconi, "Learning long-term dependencies with gradient descent is difficult", 1994; Hochreiter &
Schmidhuber, "Long short-term memory", 1997).

Backpropagation through time multiplies one Jacobian dh_t/dh_{t-1} per step. For the Elman cell it is
diag(1 - h_t^2) W_hh, so ||dLoss/dh_{T-k}|| <= ||dLoss/dh_T|| * prod of k Jacobian norms: a factor of 0.9 per step
leaves 0.9^1000 ~ 1.7e-46 of the gradient after 1000 steps (the notes' argument). The LSTM's cell state passes
back through the forget gate alone (dc_t/dc_{t-1} = f_t, no squashing, no weight matrix) and the GRU's state
through its update gate z, so their per-step factor is a gate's value, which the net can learn to hold near 1.
At torch's default initialisation those gates sit near sigmoid(0) = 0.5, so there the gated cells lose the
gradient about as fast as the Elman cell; a forget-gate bias of 1 (sigmoid(1) = 0.73) already keeps orders of
magnitude more of it. The product of Jacobian norms bounds the Elman curve but is loose: successive Jacobians do
not align, so the gradient shrinks although the norms average above 1.

Nothing is trained. Each step draws a batch of random token sequences and a random target for the last step,
builds each variant afresh from one seed (torch's default initialisation; `lstm_forget1` adds `forget_bias` to
the LSTM's forget-gate bias, as Keras's `unit_forget_bias` does), runs the from-scratch cells of
`neuralab.models.rnn.cells` step by step in float64 with every h_t retained, and records ||dLoss/dh_{T-k}|| for
k = 0..T-1, the loss being the cross-entropy of the last step's prediction. For the Elman net it also records the
product of the Jacobians' spectral norms, the bound above. Norms are averaged as logarithms (geometric means) over
sequences and steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field, override
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import DataMeta
from neuralab.data.vocab import SPECIALS, Vocabulary
from neuralab.errors import UserError
from neuralab.experiments.sweep import seeded_network
from neuralab.registry import register_data, register_method

VARIANTS = {"elman": "elman", "lstm": "lstm", "lstm_forget1": "lstm", "gru": "gru"}  # variant -> cell
DISTANCES = (10, 50, 100)  # distances from the end shown in the table (and T - 1)
SHOWN = 50  # the distance whose ratio is a metric
REFERENCE = 0.9  # the notes' per-step factor
FLOOR = 1e-300  # a norm that underflows float64 counts as this, so its logarithm stays finite
JACOBIAN_SEQUENCES = 8  # sequences of each batch whose Elman Jacobians are measured (B*T SVDs would be slow)


@dataclass(frozen=True)
class RandomTokensConfig:
    length: int = field(200, "Steps per sequence (T).", ge=2)
    symbols: int = field(8, "Distinct tokens, drawn uniformly and independently at every step and as the target.",
                         ge=2)
    batch_size: int = field(32, "Sequences per batch.", ge=1)
    batches: int = field(5, "Batches per epoch; each is a fresh draw.", ge=1)


class RandomTokens:
    """A stream of (x (B, T) token ids, y (B,) target ids), the i-th batch drawn from a generator seeded by
    (seed, i)."""

    def __init__(self, cfg: RandomTokensConfig, seed: int) -> None:
        self.cfg, self.seed, self.pos = cfg, seed, 0
        symbols = [chr(ord("a") + i) if i < 26 else f"s{i}" for i in range(cfg.symbols)]
        self.meta = DataMeta(kind="text", input_shape=[cfg.length], num_classes=0, class_names=[],
                             vocab=Vocabulary(symbols, "char").tokens, tokenizer="char", source="random-tokens")

    @property
    def steps_per_epoch(self) -> int:
        return self.cfg.batches

    def to(self, device: torch.device | str) -> RandomTokens:
        self.device = torch.device(device)
        return self

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.pos)
        self.pos += 1
        low, high = len(SPECIALS), len(SPECIALS) + self.cfg.symbols
        x = torch.randint(low, high, (self.cfg.batch_size, self.cfg.length), generator=g)
        y = torch.randint(low, high, (self.cfg.batch_size,), generator=g)
        return x.to(self.device), y.to(self.device)

    def state_dict(self) -> dict[str, Any]:
        return {"pos": self.pos}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pos = int(state["pos"])


@register_data("random-tokens", config=RandomTokensConfig)
def build_random_tokens(cfg: RandomTokensConfig, seed: int) -> RandomTokens:
    return RandomTokens(cfg, seed).to("cpu")


@dataclass(frozen=True)
class VanishingGradientsRNNConfig:
    forget_bias: float = field(1.0, "Added to the LSTM forget gate's bias in the lstm_forget1 variant (Keras's "
                                    "unit_forget_bias; Jozefowicz et al. 2015).")


def log10_norms(grads: list[torch.Tensor]) -> torch.Tensor:
    """(T,) mean over the batch of log10 ||g_t|| for per-step gradients g_t (B, H), last step first."""
    g = torch.stack(grads[::-1])  # (T, B, H), k = 0 is the last step
    return g.norm(dim=-1).clamp_min(FLOOR).log10().mean(dim=1)


def jacobian_bound(hs: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    """(T,) mean over sequences of log10 prod_{j<k} ||dh_{T-j}/dh_{T-j-1}||_2 for an Elman net's states
    hs (B, T, H): the bound on how much of dLoss/dh_T reaches h_{T-k}; k = 0 gives log10 1 = 0."""
    jac = (1 - hs.pow(2)).unsqueeze(-1) * w_hh  # (B, T, H, H): diag(1 - h_t^2) W_hh
    logs = torch.linalg.matrix_norm(jac, ord=2).clamp_min(FLOOR).log10()  # (B, T)
    steps = logs.flip(1)[:, :-1].cumsum(1)  # k steps back multiply the Jacobians of the last k steps
    return torch.cat([torch.zeros(len(hs), 1, dtype=hs.dtype), steps], dim=1).mean(0)


def power_text(log10_value: float) -> str:
    """10**log10_value written as 1.7e-46, also where the value underflows a float."""
    exponent = math.floor(log10_value)
    return f"{10 ** (log10_value - exponent):.1f}e{exponent:+d}"


@register_method("vanishing-gradients-rnn", config=VanishingGradientsRNNConfig)
class VanishingGradientsRNN(Method):
    def __init__(self, cfg: VanishingGradientsRNNConfig, model: nn.Module, data: RandomTokens,
                 ctx: RunContext) -> None:
        if not hasattr(ctx.model_config, "cell"):
            raise UserError(f"method vanishing-gradients-rnn: model {ctx.model_name} has no field cell; this lesson "
                            "needs a recurrent model that has one, such as srn")
        self.cfg, self.device = cfg, ctx.device
        self.model_name = ctx.model_name
        self.configs = {name: override(ctx.model_config, {"cell": cell, "reference": True}, "model")
                        for name, cell in VARIANTS.items()}
        self.gen = torch.Generator().manual_seed(ctx.seed)
        self.trials = 0
        self.log_norm: dict[str, list[float]] = {}  # per variant: sum over trials of log10 ||dLoss/dh_{T-k}||
        self.log_bound: list[float] = []  # sum over trials of the Elman Jacobian product's log10

    def _network(self, name: str, seed: int) -> nn.Module:
        net = seeded_network(self.model_name, self.configs[name], seed).to(self.device, torch.float64)
        if name == "lstm_forget1":
            hidden = net.cfg.hidden_size
            with torch.no_grad():  # rows i, f, g, o: the second quarter is the forget gate
                for k in range(net.cfg.num_layers):
                    getattr(net.rnn, f"bias_ih_l{k}")[hidden:2 * hidden] += self.cfg.forget_bias
        return net

    def _gradients(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """dLoss/dh_t for every step of the top layer, and the top layer's states (B, T, H)."""
        inputs = net.one_hot(x)  # (B, T, V)
        layers, lstm = net.cfg.num_layers, net.cfg.cell == "lstm"
        zero = inputs.new_zeros(len(x), net.cfg.hidden_size)
        states = [(zero, zero) if lstm else zero for _ in range(layers)]
        hs = []
        for t in range(x.shape[1]):
            below = inputs[:, t]
            for k in range(layers):
                states[k] = net.rnn.step(below, states[k], layer=k)
                below = states[k][0] if lstm else states[k]
            below.retain_grad()
            hs.append(below)
        F.cross_entropy(net.head(hs[-1]), y).backward()
        return [h.grad for h in hs], torch.stack(hs, dim=1).detach()

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.gen))
        metrics = {}
        for name in VARIANTS:
            net = self._network(name, seed)
            grads, hs = self._gradients(net, x, y)
            logs = log10_norms(grads)
            total = self.log_norm.get(name, [0.0] * len(logs))
            self.log_norm[name] = [a + b for a, b in zip(total, logs.tolist(), strict=True)]
            metrics[f"{name}/log10_ratio_end"] = float(logs[-1] - logs[0])
            if name == "elman":
                w_hh = net.rnn.weights(net.cfg.num_layers - 1)[1].detach()
                bound = jacobian_bound(hs[:JACOBIAN_SEQUENCES], w_hh).tolist()
                self.log_bound = [a + b for a, b in zip(self.log_bound or [0.0] * len(bound), bound, strict=True)]
        self.trials += 1
        return metrics

    def log_ratio(self, name: str) -> list[float]:
        """log10 of ||dLoss/dh_{T-k}|| / ||dLoss/dh_T|| for k = 0..T-1, geometric means over trials and sequences."""
        logs = [s / self.trials for s in self.log_norm[name]]
        return [v - logs[0] for v in logs]

    def evaluate(self) -> dict[str, float]:
        """Per variant: the gradient ratio 50 steps back and the mean factor per step (the ratio at the far end to
        the power 1/(T-1)); the Elman Jacobian bound 50 steps back. The report has every distance."""
        metrics: dict[str, float] = {}
        if not self.trials:
            return metrics
        for name in VARIANTS:
            ratio = self.log_ratio(name)
            far = len(ratio) - 1
            if SHOWN <= far:
                metrics[f"{name}/ratio_{SHOWN}"] = 10 ** ratio[SHOWN]
            metrics[f"{name}/per_step"] = 10 ** (ratio[far] / far)
        if SHOWN < len(self.log_bound):
            metrics[f"elman/jacobian_bound_{SHOWN}"] = 10 ** (self.log_bound[SHOWN] / self.trials)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        if not self.trials:
            return ""
        far = len(self.log_norm["elman"]) - 1
        shown = [d for d in DISTANCES if d < far] + [far]
        lines = [f"`||dLoss/dh_(T-k)|| / ||dLoss/dh_T||` at initialisation, loss on the last of T = {far + 1} steps: "
                 f"geometric mean over {self.trials} batches (each with its own random nets).", "",
                 "| cell | " + " | ".join(f"k = {d}" for d in shown) + " | mean factor per step | "
                 "factor^1000 |", "|---|" + "---|" * (len(shown) + 2)]
        for name in VARIANTS:
            ratio = self.log_ratio(name)
            per_step = ratio[far] / far
            lines.append(f"| {name} | " + " | ".join(power_text(ratio[d]) for d in shown)
                         + f" | {10 ** per_step:.3f} | {power_text(1000 * per_step)} |")
        bound = [self.log_bound[d] / self.trials for d in shown]
        lines.append("| elman: product of Jacobian norms (bound) | " + " | ".join(power_text(b) for b in bound)
                     + f" | {10 ** (bound[-1] / far):.3f} | {power_text(1000 * bound[-1] / far)} |")
        lines.append(f"| reference {REFERENCE}^k | " + " | ".join(power_text(d * math.log10(REFERENCE)) for d in shown)
                     + f" | {REFERENCE} | {power_text(1000 * math.log10(REFERENCE))} |")
        lines += ["", f"The notes' argument: a factor of {REFERENCE} per step leaves {REFERENCE}^1000 = "
                      f"{power_text(1000 * math.log10(REFERENCE))} of the gradient after 1000 steps."]
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/vanishing_gradients_rnn.png: the gradient ratio against distance from the end, log scale."""
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

        from neuralab.viz.curves import save_figure

        if not self.trials:
            return []
        fig, ax = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
        for name in VARIANTS:
            ratio = self.log_ratio(name)
            ax.plot(range(len(ratio)), [10 ** v for v in ratio], label=name, lw=2)
        bound = [b / self.trials for b in self.log_bound]
        ax.plot(range(len(bound)), [10 ** v for v in bound], "k--", lw=1,
                label="elman: product of Jacobian norms (a loose bound)")
        ks = range(len(bound))
        ax.plot(ks, [REFERENCE ** k for k in ks], "k:", lw=1.5, label=f"{REFERENCE}^k (0.9^1000 = 1.7e-46)")
        ax.set_yscale("log")
        ax.set(xlabel="k: steps back from the last step", ylabel="||dLoss/dh_(T-k)|| / ||dLoss/dh_T||",
               title="Vanishing gradients through time (at initialisation)")
        ax.grid(alpha=0.3, which="major")
        ax.legend(fontsize=8)
        return [save_figure(fig, plots_dir / "vanishing_gradients_rnn.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "trials": self.trials, "log_norm": self.log_norm,
                "log_bound": self.log_bound}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])
        self.trials = int(state["trials"])
        self.log_norm = {k: list(v) for k, v in state["log_norm"].items()}
        self.log_bound = list(state["log_bound"])

"""How the scale of activations evolves through a deep net under each initialisation (Glorot & Bengio,
"Understanding the difficulty of training deep feedforward neural networks", 2010; He et al., "Delving
deep into rectifiers", 2015; curriculum F9, notes 002 section 2.11).

Nothing is trained. Each step builds a fresh random net per (activation, scheme) pair, all from one seed,
feeds it the step's batch and records the standard deviation of every hidden layer's output. N(0, 1)
weights multiply the scale by about sqrt(fan_in) per layer (ReLU explodes, tanh saturates at +-1);
Glorot keeps tanh near its linear regime but halves a ReLU layer's variance each time; He's sqrt(2/fan_in)
keeps ReLU activations at a steady scale. The forward pass runs in float64 so exploding scales stay finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import field, override
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.experiments.sweep import seeded_network
from neuralab.nn.activations import ACTIVATIONS, make
from neuralab.nn.init import INITS
from neuralab.registry import register_method

# zeros has no scale: every layer's output is 0, so there is no std to follow through the depth.
SCALED_INITS = tuple(s for s in INITS if s != "zeros")
SATURATED = 0.01  # an output within this share of the activation's range from a bound counts as saturated


@dataclass(frozen=True)
class InitDepthConfig:
    schemes: tuple[str, ...] = field(("normal", "xavier_normal", "he_normal"),
                                     "Initialisation schemes compared (every one but zeros, whose scale is 0).",
                                     choices=SCALED_INITS, nonempty=True, unique=True)
    activations: tuple[str, ...] = field(("tanh", "relu"), "Hidden activations, each tried with every scheme.",
                                         choices=ACTIVATIONS, nonempty=True, unique=True)


@torch.no_grad()
def layer_outputs(model: nn.Module, activation: str, x: torch.Tensor) -> list[torch.Tensor]:
    """Output of every hidden activation layer of `model` on `x`, in order."""
    kind = type(make(activation))
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: outputs.append(o)) for m in model.modules()
             if isinstance(m, kind)]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return outputs


def bounds(activation: str) -> tuple[float, float] | None:
    """(lower, upper) limits of a saturating activation, or None when it is unbounded."""
    f = make(activation).double()
    lo, hi = (float(v) for v in f(torch.tensor([[-1e6, -1e6], [1e6, 1e6]], dtype=torch.float64))[:, 0])
    return (lo, hi) if max(abs(lo), abs(hi)) < 1e3 else None


@register_method("init-depth", config=InitDepthConfig)
class InitDepth(Method):
    def __init__(self, cfg: InitDepthConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.device, self.done = cfg, ctx.device, False
        missing = [k for k in ("activation", "init") if not hasattr(ctx.model_config, k)]
        if missing:
            raise UserError(f"method init-depth: model {ctx.model_name} has no field {', '.join(missing)}; this "
                            "lesson needs a model that has them, such as mlp")
        self.model_name = ctx.model_name
        self.configs = {f"{a}-{s}": override(ctx.model_config, {"activation": a, "init": s}, "model")
                        for a in cfg.activations for s in cfg.schemes}
        self.bounds = {a: bounds(a) for a in cfg.activations}
        self.gen = torch.Generator().manual_seed(ctx.seed)
        self.trials = 0
        self.log_std: dict[str, list[float]] = {}  # per variant: sum over trials of log10(std) per layer
        self.saturated: dict[str, float] = {}  # per bounded variant: sum over trials of the last layer's share

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x = batch[0].flatten(1).to(self.device, torch.float64)  # (B, features)
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.gen))
        metrics = {}
        for name, cfg in self.configs.items():
            net = seeded_network(self.model_name, cfg, seed).to(self.device, torch.float64)
            outs = layer_outputs(net, cfg.activation, x)
            logs = [math.log10(max(float(h.std()), 1e-300)) for h in outs]
            self.log_std[name] = [a + b for a, b in zip(self.log_std.get(name, [0.0] * len(logs)), logs, strict=True)]
            limits = self.bounds[cfg.activation]
            if limits is not None:
                lo, hi = limits
                margin = SATURATED * (hi - lo)
                share = float(((outs[-1] < lo + margin) | (outs[-1] > hi - margin)).double().mean())
                self.saturated[name] = self.saturated.get(name, 0.0) + share
            metrics[f"{name}/log10_std_last"] = logs[-1]
        self.trials += 1
        return metrics

    def std_per_layer(self, name: str) -> list[float]:
        """Geometric mean over trials of each hidden layer's output standard deviation."""
        return [10 ** (s / self.trials) for s in self.log_std[name]]

    def evaluate(self) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if not self.trials:
            return metrics
        for name in self.configs:
            stds = self.std_per_layer(name)
            metrics[f"{name}/std_first"] = stds[0]
            metrics[f"{name}/std_last"] = stds[-1]
            metrics[f"{name}/spread"] = max(stds) / max(min(stds), 1e-300)
            if name in self.saturated:
                metrics[f"{name}/saturated"] = self.saturated[name] / self.trials
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        if not self.trials:
            return ""
        depth = len(next(iter(self.log_std.values())))
        shown = sorted({1, min(5, depth), min(10, depth), depth})
        m = self.evaluate()
        lines = [f"Std of each hidden layer's output: geometric mean over {self.trials} random nets, each fed "
                 "one training batch.", "",
                 "| activation-init | " + " | ".join(f"layer {i}" for i in shown)
                 + " | max/min over layers | saturated at last layer |",
                 "|---|" + "---|" * (len(shown) + 2)]
        for name in self.configs:
            stds = self.std_per_layer(name)
            sat = f"{m[name + '/saturated']:.2f}" if name in self.saturated else "-"
            lines.append(f"| {name} | " + " | ".join(f"{stds[i - 1]:.3g}" for i in shown)
                         + f" | {m[name + '/spread']:.3g} | {sat} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

        from neuralab.viz.curves import save_figure

        if not self.trials:
            return []
        acts = self.cfg.activations
        fig, axes = plt.subplots(1, len(acts), figsize=(4.6 * len(acts), 3.6), squeeze=False, layout="constrained")
        for ax, act in zip(axes[0], acts, strict=True):
            for scheme in self.cfg.schemes:
                stds = self.std_per_layer(f"{act}-{scheme}")
                ax.plot(range(1, len(stds) + 1), stds, marker="o", ms=3, label=scheme)
            ax.set_yscale("log")
            ax.set(xlabel="hidden layer", ylabel="std of activations", title=act)
            ax.grid(alpha=0.3, which="both")
            ax.legend()
        fig.suptitle("Activation scale through depth at initialisation")
        return [save_figure(fig, plots_dir / "init-depth.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "trials": self.trials, "log_std": self.log_std,
                "saturated": self.saturated}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])
        self.trials = int(state["trials"])
        self.log_std = {k: list(v) for k, v in state["log_std"].items()}
        self.saturated = dict(state["saturated"])

"""`forecasting-compare`: persistence and linear baselines against RNN, LSTM, GRU and 1-D CNN forecasters on
one series, test MSE in the series' own units (curriculum S4; Hyndman and Athanasopoulos, "Forecasting:
principles and practice": a forecaster is worth what it gains over the naive forecast).

Baselines, fitted in closed form: persistence (every future value equals the last observed one; with
differencing, "no change") and a linear autoregression (least squares with a bias on the training windows,
the classical AR(length) model). Learned: the recipe's recurrent forecaster with each cell (`rnn-forecaster`,
configured by --model.*) and `cnn1d-forecaster`, each a variant of one sweep: same seed, same batches, same
supervised rule on the scaled (and, with --data.difference, differenced) windows. Every forecast is turned
back into the series' units (`SeriesData.original`) before its error is measured.

Metrics: VARIANT/SPLIT/mse for each model and baseline in original units, and
compare/test/worst_vs_persistence (the worst learned model's test MSE over persistence's; below 1: every
learned model beats the naive forecast) with compare/test/best_vs_persistence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.series import SeriesData
from neuralab.errors import UserError
from neuralab.experiments.sweep import Sweep, Variant
from neuralab.methods.optim import OPTIMIZERS
from neuralab.methods.supervised import SupervisedConfig, forward_all
from neuralab.registry import register_method

LEARNED = {"rnn": ("rnn-forecaster", {"cell": "rnn"}), "lstm": ("rnn-forecaster", {"cell": "lstm"}),
           "gru": ("rnn-forecaster", {"cell": "gru"}), "cnn": ("cnn1d-forecaster", {})}
BASELINES = ("persistence", "linear")


@dataclass(frozen=True)
class ForecastingCompareConfig:
    models: tuple[str, ...] = field(tuple(LEARNED), "Learned forecasters: rnn, lstm, gru (the recipe's recurrent "
                                                    "forecaster with that cell) and cnn (cnn1d-forecaster).",
                                    choices=tuple(LEARNED), nonempty=True, unique=True)
    optimizer: str = field("adam", "Optimiser of every learned model.", choices=OPTIMIZERS)
    lr: float = field(3e-3, "Learning rate of every learned model.", gt=0)
    weight_decay: float = field(0.0, "L2 penalty applied by the optimiser.", ge=0)
    clip_grad_norm: float = field(1.0, "Rescale each model's gradients to at most this joint L2 norm (0: off).",
                                  ge=0)
    eval_batch_size: int = field(2000, "Windows per forward pass when evaluating.", ge=1)


def fit_linear(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Least-squares weights (length + 1, horizon) of y ~ [x, 1] over windows x (N, 1, length), in float64."""
    design = torch.cat([x.flatten(1), torch.ones(len(x), 1)], 1).double()
    return torch.linalg.lstsq(design, y.double().reshape(len(y), -1)).solution


def linear_outputs(weights: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The linear model's outputs (N, horizon) on windows x (N, 1, length)."""
    return torch.cat([x.flatten(1), torch.ones(len(x), 1)], 1).double() @ weights


@register_method("forecasting-compare", config=ForecastingCompareConfig)
class ForecastingCompare(Method):
    """Each step: one supervised step of every learned forecaster on the same batch of windows."""

    def __init__(self, cfg: ForecastingCompareConfig, model: nn.Module, data: SeriesData, ctx: RunContext) -> None:
        if not isinstance(data, SeriesData):
            raise UserError("forecasting-compare needs windows of a time series (data source series)")
        self.cfg, self.data, self.ctx, self.done = cfg, data, ctx, False
        self.names = list(cfg.models)
        variants = [Variant(name, model=LEARNED[name][1], model_name=LEARNED[name][0]) for name in self.names]
        rule = SupervisedConfig(optimizer=cfg.optimizer, lr=cfg.lr, weight_decay=cfg.weight_decay, loss="mse",
                                clip_grad_norm=cfg.clip_grad_norm, eval_batch_size=cfg.eval_batch_size)
        self.sweep = Sweep(variants, data, ctx, method="forecasting-compare", rule_config=rule)
        x, y = data.split("train")
        self.linear = fit_linear(x.cpu(), y.cpu())
        self.steps = 0

    def step(self, batch: Any) -> dict[str, Any]:
        self.steps += 1
        return self.sweep.step(batch)

    def forecasts(self, split: str) -> dict[str, np.ndarray]:
        """Every model's and baseline's forecasts (N, horizon) of `split`'s windows, in the series' units."""
        x = self.data.split(split)[0]
        out = {"persistence": self.data.persistence(split),
               "linear": self.data.original(split, linear_outputs(self.linear, x.cpu()))}
        for name, net in self.sweep.networks.items():
            was_training = net.training
            net.eval()
            with self.ctx.autocast():
                out[name] = self.data.original(split, forward_all(net, x, self.cfg.eval_batch_size))
            net.train(was_training)
        return out

    def evaluate(self) -> dict[str, float]:
        metrics = {k: float(v) for k, v in self.sweep.evaluate().items()}  # scaled-unit losses of the rule
        for split in ("val", "test"):
            if self.data.split(split) is None:
                continue
            for name, forecast in self.forecasts(split).items():
                metrics[f"{name}/{split}/mse"] = self.data.mse(split, forecast)
        ratios = [metrics[f"{name}/test/mse"] / metrics["persistence/test/mse"] for name in self.names]
        metrics["compare/test/worst_vs_persistence"] = max(ratios)
        metrics["compare/test/best_vs_persistence"] = min(ratios)
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        m = self.evaluate()
        data = self.data
        units = f" ({data.units}^2)" if data.units else ""
        params = {name: sum(p.numel() for p in net.parameters()) for name, net in self.sweep.networks.items()}
        params["persistence"], params["linear"] = 0, self.linear.numel()
        has_val = data.split("val") is not None
        lines = [f"{data.meta.source}: windows of {data.meta.input_shape[-1]} values -> next "
                 f"{data.meta.target_shape[0]}, {'differenced, ' if data.difference else ''}split in time "
                 f"({len(data.first['train'])} / {len(data.first['val'])} / {len(data.first['test'])} windows); "
                 f"{self.steps} steps of each learned model on the same batches. MSE in the series' units{units}:", "",
                 "| model | parameters |" + (" val MSE |" if has_val else "") + " test MSE | test MSE / persistence |",
                 "|---|---|" + ("---|" if has_val else "") + "---|---|"]
        for name in (*BASELINES, *self.names):
            val = f" {m[f'{name}/val/mse']:.4g} |" if has_val else ""
            lines.append(f"| {name} | {params[name]:,} |{val} {m[f'{name}/test/mse']:.4g} | "
                         f"{m[f'{name}/test/mse'] / m['persistence/test/mse']:.3f} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/forecasts.png: the test part of the series and each model's forecast of its next value."""
        import matplotlib.pyplot as plt  # plotting libraries load only when a plot is drawn

        from neuralab.viz.curves import save_figure

        data, first = self.data, self.data.first["test"]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        context = np.arange(max(0, first[0] - len(first) // 3), first[-1] + 1)  # some of the run-up, then test
        ax.plot(context, data.values[context], color="black", lw=1.6, label="truth")
        for i, (name, forecast) in enumerate(self.forecasts("test").items()):
            ax.plot(first, forecast[:, 0], ":" if name in BASELINES else "-", color=f"C{i}", lw=1, label=name)
        ax.axvline(first[0], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("time step")
        ax.set_ylabel(f"value{f' ({data.units})' if data.units else ''}")
        ax.set_title(f"{data.meta.source}: one-step-ahead forecasts on the test part (right of the dashed line)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=3, framealpha=0.8)
        return [save_figure(fig, plots_dir / "forecasts.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"variants": self.sweep.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["variants"])
        self.steps = int(state["steps"])

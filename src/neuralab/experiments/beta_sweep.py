"""`beta-sweep-mnist`: the rate/distortion trade-off of the beta-VAE (Higgins et al., "beta-VAE: learning basic visual
concepts with a constrained variational framework", 2017; Alemi et al., "Fixing a broken ELBO", 2018; curriculum G3,
notes 002 section 4.10).

One VAE per beta, each a variant of a sweep trained by the `elbo` rule with the KL weighted by beta, all from the same
initial weights on the same batches. Raising beta buys a lower rate, KL(q(z|x) || p(z)) (nats the code carries about
the input), with a higher distortion, -E_q[log p(x|z)] (nats the reconstruction misses); beta = 1 minimises their sum,
the negative ELBO. The report tabulates both at each beta with the number of active latent units, the plot draws the
curve, and every evaluation's sample grid holds one row per beta.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.experiments.sweep import Sweep, Variant
from neuralab.methods.elbo import ELBOConfig
from neuralab.methods.optim import OPTIMIZERS
from neuralab.registry import register_method


@dataclass(frozen=True)
class BetaSweepConfig:
    betas: tuple[float, ...] = field((0.5, 1.0, 2.0, 4.0, 8.0), "KL weights, one VAE each, e.g. 0.5,1,2,4,8.",
                                     ge=0, nonempty=True, unique=True)
    optimizer: str = field("adam", "Optimiser of every variant.", choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate of every variant.", gt=0)
    binarize: bool = field(True, "Dynamically binarise the training pixels, the test set once (as the elbo rule).")
    grid: int = field(8, "Images per beta in each evaluation's sample grid (one row per beta).", ge=1)


@register_method("beta-sweep", config=BetaSweepConfig)
class BetaSweep(Method):
    def __init__(self, cfg: BetaSweepConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.ctx = cfg, ctx
        rule = ELBOConfig(optimizer=cfg.optimizer, lr=cfg.lr, binarize=cfg.binarize, nll_samples=0, grid=cfg.grid)
        # The variants write no grids of their own: the sweep writes one with a row per beta.
        quiet = dataclasses.replace(ctx, run_dir=None)
        self.sweep = Sweep([Variant(f"beta={b:g}", rule={"beta": b}) for b in cfg.betas], data, quiet,
                           method="beta-sweep", rule="elbo", rule_config=rule)
        self.steps = 0

    def step(self, batch: Any) -> dict[str, Any]:
        self.steps += 1
        return self.sweep.step(batch)

    def evaluate(self) -> dict[str, Any]:
        metrics = self.sweep.evaluate()
        self.ctx.write_samples(self.steps, self.draw(self.cfg.grid * len(self.cfg.betas)))
        return metrics

    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        """One row per beta (in the order of `betas`) of n / len(betas) images from the same codes."""
        per = max(2 if interpolate else 1, n // len(self.cfg.betas))
        drawn = [rule.draw(per, label=label, interpolate=interpolate, seed=seed) for rule in self.sweep.rules.values()]
        return Drawn(torch.cat([d.images for d in drawn]), drawn[0].nrow, drawn[0].notes)

    def _table(self) -> list[tuple[float, dict[str, float]]]:
        metrics = self.sweep.evaluate()
        return [(b, {k: metrics[f"beta={b:g}/test/{k}"] for k in ("kl", "rec", "neg_elbo", "active_units")})
                for b in self.cfg.betas]

    def report(self, run_dir: Path | None = None) -> str:
        lines = ["| beta | rate: KL (nats) | distortion: -E log p(x\\|z) (nats) | -ELBO (nats) | "
                 "beta-weighted loss | active units |", "|---:|---:|---:|---:|---:|---:|"]
        for b, m in self._table():
            lines.append(f"| {b:g} | {m['kl']:.2f} | {m['rec']:.2f} | {m['neg_elbo']:.2f} | "
                         f"{m['rec'] + b * m['kl']:.2f} | {m['active_units']:.0f} |")
        return "\n".join(lines)

    def plot(self, plots_dir: Path) -> list[Path]:
        import matplotlib.pyplot as plt

        from neuralab.viz.curves import save_figure
        from neuralab.viz.grid import save_grid

        table = self._table()
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        rates, distortions = [m["kl"] for _, m in table], [m["rec"] for _, m in table]
        ax.plot(rates, distortions, "o-")
        for (b, _), r, d in zip(table, rates, distortions, strict=True):
            ax.annotate(f"beta {b:g}", (r, d), textcoords="offset points", xytext=(5, 5), fontsize=8)
        ax.set_xlabel("rate: KL(q(z|x) || p(z)), nats")
        ax.set_ylabel("distortion: -E_q log p(x|z), nats")
        ax.set_title("beta-VAE on binarised MNIST test digits")
        ax.grid(alpha=0.3)
        drawn = self.draw(8 * len(self.cfg.betas))
        return [save_figure(fig, plots_dir / "rate_distortion.png"),
                save_grid(drawn.images, plots_dir / "samples_by_beta.png", drawn.nrow)]

    def state_dict(self) -> dict[str, Any]:
        return {"sweep": self.sweep.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sweep.load_state_dict(state["sweep"])
        self.steps = int(state["steps"])

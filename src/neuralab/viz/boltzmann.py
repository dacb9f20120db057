"""What a Boltzmann machine learnt (curriculum E5): the exact KL(P_data || P_model) over training, and the model's
distribution over every visible state beside the data's.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import neuralab.viz  # noqa: F401  (selects the Agg backend)
from neuralab.metrics import read_jsonl
from neuralab.viz.curves import save_figure


def plot_boltzmann(metrics_path: Path, path: Path, *, labels: list[str], p_data: torch.Tensor,
                   p_model: torch.Tensor) -> Path:
    """KL over the steps logged in the run's `metrics.jsonl`, and P_data and P_model (2^V,) as bars, one per visible
    state named by `labels`."""
    rows = [r for r in read_jsonl(metrics_path) if "test/kl" in r]
    fig, axes = plt.subplots(1, 2, figsize=(max(9.0, 4.4 + 0.3 * len(labels)), 4.0), layout="constrained",
                             gridspec_kw={"width_ratios": [1, max(1.0, len(labels) / 10)]})
    ax = axes[0]
    if rows:
        ax.plot([r["step"] for r in rows], [r["test/kl"] for r in rows], "o-", ms=3)
        ax.set_yscale("symlog", linthresh=1e-3)
    else:
        ax.text(0.5, 0.5, "no evaluations logged", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="step", ylabel="KL(P_data || P_model), nats", title="exact KL over training")
    ax = axes[1]
    index = np.arange(len(labels))
    ax.bar(index - 0.2, p_data.double().cpu().numpy(), width=0.4, color="0.6", label="P_data")
    ax.bar(index + 0.2, p_model.double().cpu().numpy(), width=0.4, color="tab:blue", label="P_model (exact)")
    ax.set_xticks(index, labels, rotation=90 if len(labels) > 8 else 0, fontfamily="monospace")
    ax.set(xlabel="visible state v1 v2 ...", ylabel="probability", title="learnt vs data distribution")
    ax.legend(fontsize=8)
    return save_figure(fig, path)

"""What the image-to-image translation methods (Pix2Pix, CycleGAN; curriculum G4) share: how a translator is measured
on held-out pairs, drawn and reported.

Measured on a bounded slice of the test split (`eval_size` pairs, each input with its true target; CycleGAN never
trains on such pairs, they exist for measurement only):

- `test/l1`, `test/mse`: mean absolute and squared pixel error of the output against the true target (pixels in
  [0, 1]); `test/l1_identity`: the same L1 for the input itself taken as the output, the baseline a translator has
  to beat;
- `test/sharpness`: the outputs' mean squared Sobel gradient magnitude over the targets' (1: edges as strong as in
  the real images; a regression to the mean blurs and stays below 1), the high-frequency energy Isola et al. 2017
  (Fig. 4) show the L1 loss alone loses;
- each method's discriminator outputs on real and translated images.

A run keeps `keep` held-out pairs with its weights (as bytes), so `neuralab sample RUN_DIR` draws from a run loaded
without its data: rows input / output / target, or with `--interpolate` a walk in pixel space between two held-out
inputs and its translations (a translator has no latent space to walk).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.paired_images import sobel_magnitude
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.optim import SCHEDULES

SAMPLES_AT_EVALUATION = 8  # columns of the grid each evaluation writes


@dataclass(frozen=True)
class ImageTranslationConfig:
    """The fields every translation method has: the optimiser of all its networks, the PatchGAN's size, and what
    evaluation measures and a run keeps."""

    lr: float = field(2e-4, "Adam learning rate of every network (the paper: 2e-4).", gt=0)
    beta1: float = field(0.5, "Adam's first-moment decay (the paper: 0.5).", ge=0, le=0.9999)
    beta2: float = field(0.999, "Adam's second-moment decay.", ge=0, le=0.9999)
    schedule: str = field("none", "Learning-rate schedule over the run.", choices=SCHEDULES)
    d_width: int = field(32, "Channels of each discriminator's first layer (the paper: 64).", ge=1)
    d_layers: int = field(1, "Stride-2 layers of each PatchGAN: 1 sees 16x16 patches, 2 34x34, 3 the paper's 70x70.",
                          ge=1, le=5)
    eval_size: int = field(1000, "Test pairs each evaluation measures, the first ones (0: all).", ge=0)
    eval_batch_size: int = field(500, "Pairs per forward pass when evaluating.", ge=1)
    keep: int = field(256, "Held-out pairs kept with the run's weights, which `neuralab sample` draws from.", ge=1)


def to_bytes(images: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1] as uint8 on the CPU (exact for pixels / 255, the data's own values)."""
    return images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).cpu()


def gradient_energy(images: torch.Tensor) -> torch.Tensor:
    """Mean squared Sobel gradient magnitude per image (B,): how much high-frequency detail (edges) it holds."""
    channels = images.shape[1]
    flat = images.float().reshape(-1, 1, *images.shape[-2:])  # each channel on its own
    return sobel_magnitude(flat).pow(2).mean(dim=(1, 2, 3)).view(-1, channels).mean(1)


class ImageTranslation(Method):
    """Base of the translation methods: subclasses train in `step` and define `translate_images` and
    `discriminator_scores`; this class counts steps, measures, draws and reports. Its config is an
    `ImageTranslationConfig`. (`Method.translate` is the text hook of seq2seq runs, hence the longer name.)"""

    generator_name = "the generator"  # what the report calls the translator

    def __init__(self, cfg: Any, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.data, self.ctx = cfg, data, ctx
        self.steps = 0
        keep = min(cfg.keep, len(data.x_test))
        self.kept = {"inputs": to_bytes(data.x_test[:keep]), "targets": to_bytes(data.y_test[:keep])}

    @abstractmethod
    def translate_images(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs (B, C, H, W) -> outputs in [0, 1], by the generator in evaluation mode, without gradients."""

    @abstractmethod
    def discriminator_scores(self, x: torch.Tensor, target: torch.Tensor, output: torch.Tensor) -> dict[str, float]:
        """Mean discriminator outputs on real targets and on outputs, as {name: batch mean} without the split."""

    def extra_metrics(self, x: torch.Tensor, target: torch.Tensor, output: torch.Tensor) -> dict[str, float]:
        """More batch means a method measures (CycleGAN: the cycle error); none by default."""
        return {}

    def measure(self) -> dict[str, float]:
        """Every test metric over the first `eval_size` test pairs."""
        n = min(self.cfg.eval_size or len(self.data.x_test), len(self.data.x_test))
        sums: dict[str, float] = {}
        energy_out = energy_target = 0.0
        for i in range(0, n, self.cfg.eval_batch_size):
            end = min(i + self.cfg.eval_batch_size, n)
            x, y = self.data.x_test[i:end], self.data.y_test[i:end]
            out = self.translate_images(x).float()
            with torch.no_grad():
                batch = {"l1": (out - y).abs().mean(), "mse": (out - y).pow(2).mean(),
                         **self.discriminator_scores(x, y, out), **self.extra_metrics(x, y, out)}
                if x.shape == y.shape:  # the input itself as the output: the baseline to beat
                    batch["l1_identity"] = (x - y).abs().mean()
                energy_out += float(gradient_energy(out).sum())
                energy_target += float(gradient_energy(y).sum())
            for key, value in batch.items():
                sums[key] = sums.get(key, 0.0) + float(value) * len(x)
        metrics = {f"test/{key}": value / n for key, value in sums.items()}
        metrics["test/sharpness"] = energy_out / max(energy_target, 1e-12)
        return metrics

    def evaluate(self) -> dict[str, float]:
        self.ctx.write_samples(self.steps, self.draw(SAMPLES_AT_EVALUATION))
        return self.measure()

    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        """Rows input / output / target of `n` held-out pairs chosen with `seed`; with `interpolate`, rows input /
        output along a straight line in pixel space between two held-out inputs."""
        if label is not None:
            raise UserError(f"--label {label}: a translation run is not conditioned on a class; it translates "
                            "held-out inputs (leave out --label)")
        kept = len(self.kept["inputs"])
        g = torch.Generator().manual_seed(seed)
        notes = []
        device = self.ctx.device
        if interpolate:
            ends = self.kept["inputs"][torch.randperm(kept, generator=g)[:2]].float().div(255)
            if len(ends) < 2:
                ends = ends.repeat(2, 1, 1, 1)
            t = torch.linspace(0, 1, n).view(-1, 1, 1, 1)
            inputs = ((1 - t) * ends[0] + t * ends[-1]).to(device)
            notes.append("a translator has no latent space: the first row walks in pixel space from one held-out "
                         "input to another, the second row is its translation")
            return Drawn(torch.cat([inputs, self.translate_images(inputs)]).float().cpu(), n, notes)
        if n <= kept:
            idx = torch.randperm(kept, generator=g)[:n]
        else:
            idx = torch.randint(kept, (n,), generator=g)
            notes.append(f"the run keeps {kept} held-out pairs; some of the {n} drawn repeat")
        inputs = self.kept["inputs"][idx].float().div(255).to(device)
        targets = self.kept["targets"][idx].float().div(255)
        return Drawn(torch.cat([inputs.cpu(), self.translate_images(inputs).float().cpu(), targets]), n, notes)

    def report(self, run_dir: Path | None = None) -> str:
        """The translator against the identity baseline on the held-out slice, and the discriminator outputs."""
        m = self.measure()
        rows = ["| output | test L1 | test MSE | sharpness (1 = as the targets) |", "|---|---|---|---|",
                f"| {self.generator_name} after {self.steps} steps | {m['test/l1']:.4f} | {m['test/mse']:.4f} | "
                f"{m['test/sharpness']:.3f} |",
                f"| the input itself (identity) | {m.get('test/l1_identity', float('nan')):.4f} | | |"]
        scores = [f"{key.removeprefix('test/')} = {value:.3f}" for key, value in m.items() if key.startswith("test/d")]
        if scores:
            rows += ["", f"Discriminator outputs on the held-out slice: {', '.join(scores)}."]
        return "\n".join(rows)

"""Neural codes and receptive fields (curriculum E2, notes 002 sections 1.5-1.8): how sparse the responses of
difference-of-Gaussians and Gabor receptive fields to images are, how sharply a Gabor cell is tuned to orientation,
and the notes' four-shapes comparison of localist, distributed and sparse codes.

Nothing learns. Each step passes a batch of images through the `receptive-fields` bank and adds the moments of
every channel's responses (and of the pixels) to running sums, so the excess kurtosis of the whole stream of
responses is known at any point (efficient coding: natural images filtered by centre-surround and Gabor fields give
heavier-tailed, sparser responses than their pixels). Only responses whose kernel lies wholly inside the image
count, so the padding at the image's border adds nothing. `evaluate` also measures each Gabor filter's orientation
tuning curve on sinusoidal gratings (its response amplitude, the best over the grating's phase) and the four-shapes
codes (`neuralab.neuro.codes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from neuralab.config import field
from neuralab.contracts import Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.models.neuro.receptive_fields import ReceptiveFields, grating
from neuralab.neuro.codes import CODES, describe
from neuralab.neuro.tuning import orientation_distance
from neuralab.registry import register_method


@dataclass(frozen=True)
class NeuralCodingConfig:
    grating_orientations: int = field(36, "Grating orientations over 180 degrees for the Gabor tuning curves.", ge=2)
    grating_phases: int = field(8, "Grating phases tried per orientation (the amplitude is the best of them).", ge=1)


def moments(x: torch.Tensor) -> torch.Tensor:
    """Count and the sums of x, x^2, x^3, x^4 over all but the first axis: (K, ...) -> (K, 5), float64."""
    x = x.double().flatten(1)
    return torch.stack([torch.full((len(x),), float(x.shape[1]), dtype=torch.float64, device=x.device),
                        *(x.pow(k).sum(1) for k in range(1, 5))], 1)


def kurtosis_from_moments(m: torch.Tensor) -> torch.Tensor:
    """Excess kurtosis (K,) from the sums (K, 5) of `moments`: mu_4 / mu_2^2 - 3 with population moments."""
    n, s1, s2, s3, s4 = m.unbind(1)
    mean = s1 / n
    mu2 = s2 / n - mean**2
    mu4 = s4 / n - 4 * mean * s3 / n + 6 * mean**2 * s2 / n - 3 * mean**4
    return mu4 / mu2**2 - 3.0


@register_method("neural-coding", config=NeuralCodingConfig)
class NeuralCoding(Method):
    """Measures a `receptive-fields` bank on image batches, its Gabor tuning on gratings, and the four-shapes codes."""

    def __init__(self, cfg: NeuralCodingConfig, model: ReceptiveFields, data: SupervisedData, ctx: RunContext) -> None:
        if not isinstance(model, ReceptiveFields):
            raise UserError("neural-coding measures a receptive-fields model (e.g. recipe receptive-fields-photos)")
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        self.sums = torch.zeros(len(model.filters) + 1, 5, dtype=torch.float64, device=ctx.device)  # pixels first

    @torch.no_grad()
    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        images = batch[0]
        responses = self.model(images)  # (B, K, H, W)
        border = self.model.cfg.size // 2
        if min(images.shape[-2:]) > 2 * border:  # keep responses whose kernel lies inside the image
            responses = responses[..., border:-border, border:-border]
        self.sums += torch.cat([moments(images.mean(1, keepdim=True).transpose(0, 1)),
                                moments(responses.transpose(0, 1))])
        return {"train/response_std": float(responses.std())}

    def kurtosis(self) -> torch.Tensor:
        """Excess kurtosis (1 + K,) of the pixels and of each channel's responses over the images seen so far."""
        return kurtosis_from_moments(self.sums.cpu())

    @torch.no_grad()
    def gabor_tuning(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(grating orientations (G,), response amplitude (G, orientations) of each Gabor filter), the amplitude
        being the largest centre response over the grating's phases."""
        cfg, size = self.model.cfg, self.model.cfg.size
        thetas = torch.arange(self.cfg.grating_orientations, dtype=torch.float64) * 180 / self.cfg.grating_orientations
        phases = [k * 360.0 / self.cfg.grating_phases for k in range(self.cfg.grating_phases)]
        stimuli = torch.stack([torch.stack([grating(size, float(t), cfg.wavelength, p) for p in phases])
                               for t in thetas])  # (G, phases, size, size)
        gabors = self.model.filters[2:, 0].double().cpu()  # (orientations, size, size)
        responses = torch.einsum("gpij,kij->gpk", stimuli, gabors)
        return thetas, responses.amax(1)

    def evaluate(self) -> dict[str, float]:
        thetas, amplitude = self.gabor_tuning()
        preferred = thetas[amplitude.argmax(0)]
        filters = torch.tensor(self.model.thetas, dtype=torch.float64)
        orthogonal = [int(orientation_distance(thetas, float(t) + 90.0).argmin()) for t in filters]
        peak, off = amplitude.max(0).values, amplitude[orthogonal, torch.arange(len(filters))]
        metrics = {"rf/gabor_tuning_error": float(orientation_distance(preferred, filters).mean()),
                   "rf/gabor_selectivity": float(((peak - off) / (peak + off)).mean())}
        if self.sums[0, 0] > 0:
            k = self.kurtosis()
            metrics.update({"rf/kurtosis_pixels": float(k[0]), "rf/kurtosis_dog": float(k[1:3].mean()),
                            "rf/kurtosis_gabor": float(k[3:].mean())})
        for name in CODES:
            measures = describe(name)
            metrics.update({f"codes/{name}_{key}": measures[key]
                            for key in ("distance", "kurtosis", "unit_entropy", "new_combination")})
        return metrics

    def report(self, run_dir: Path | None = None) -> str:
        from neuralab.studies.tables import markdown_table

        rows = []
        for name in CODES:
            m = describe(name)
            rows.append([name, m["units"], m["active"], m["distance"], m["distance_shared"], m["distance_disjoint"],
                         m["kurtosis"], m["unit_entropy"], "yes" if m["new_combination"] else "no"])
        codes = markdown_table(["code", "units", "active units", "mean pairwise distance", "distance sharing a feature",
                                "distance sharing none", "kurtosis", "entropy (bits, sum over units)",
                                "can represent a new combination"], rows)
        parts = [codes, "The four entities carry log2 4 = 2 bits; a code's summed unit entropy above 2 bits is "
                        "redundancy."]
        if self.sums[0, 0] > 0:
            k = self.kurtosis()
            names = ["pixels", *self.model.names]
            parts.append(markdown_table(["responses of", "excess kurtosis"], [[n, float(v)] for n, v in zip(
                names, k, strict=True)]))
            parts.append(f"Pixels: {int(self.sums[0, 0])} values; each filter: {int(self.sums[1, 0])} responses "
                         "(where its kernel lies inside the image).")
        m = self.evaluate()
        parts.append(f"Gabor orientation tuning on gratings: mean |preferred - filter orientation| "
                     f"{m['rf/gabor_tuning_error']:.3g} deg, selectivity (peak - orthogonal) / (peak + orthogonal) "
                     f"{m['rf/gabor_selectivity']:.3g}.")
        return "\n\n".join(parts)

    @torch.no_grad()
    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz.receptive_fields import plot_codes, plot_filters, plot_gabor_tuning, plot_responses

        image = self.data.split("test")[0][:1].to(self.ctx.device)
        thetas, amplitude = self.gabor_tuning()
        return [plot_filters(self.model.filters[:, 0].cpu(), self.model.names, plots_dir / "rf_filters.png"),
                plot_responses(image[0].mean(0).cpu(), self.model(image)[0].cpu(), self.model.names,
                               plots_dir / "rf_responses.png"),
                plot_gabor_tuning(thetas, amplitude, self.model.thetas, plots_dir / "rf_gabor_tuning.png"),
                plot_codes(plots_dir / "codes_four_shapes.png")]

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "sums": self.sums}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.sums = state["sums"].to(self.ctx.device)

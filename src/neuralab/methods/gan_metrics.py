"""Cheap measures of a GAN's samples against held-out data, computed at every evaluation.

Mode coverage (Metz et al. 2017, "Unrolled GANs"; Srivastava et al. 2017, "VEEGAN"): each class of the test set is
a mode, with its centre (the class mean) and its spread (the root mean per-axis variance). A sample is of high
quality when it lies within `quality_std` spreads of the centre nearest it (in spreads), and a mode is covered when
at least `cover_fraction` of its fair share (n / K) of the samples are high-quality samples near it. A collapsed
generator covers one or two modes however good its samples are.

Maximum mean discrepancy (Gretton et al. 2012, "A kernel two-sample test"): the biased (V-statistic) estimate of
MMD^2 between samples and test points under a Gaussian kernel whose bandwidth is the median distance between test
points; 0 when the two sets are the same, larger the more they differ, in pixel space for images.

Spread: the root mean squared distance of the samples from their mean, divided by the test points' (about 1 when the
generator matches the data, near 0 when it has collapsed onto one point, whatever its quality).

Label match: for a conditional model, the share of samples whose nearest class mean of the test set is the class
they were drawn for; the same rule applied to the test examples themselves gives its ceiling (about 0.82 on MNIST,
where class means are a weak classifier; 1 on separated modes).
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Modes(NamedTuple):
    """Each class's centre (K, D) and spread (K,) in the test set."""

    centres: torch.Tensor
    spreads: torch.Tensor

    @classmethod
    def of(cls, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> Modes:
        x = x.flatten(1).double()
        centres = torch.stack([x[y == k].mean(0) for k in range(num_classes)])
        spreads = torch.stack([x[y == k].var(0, unbiased=False).mean().sqrt() for k in range(num_classes)])
        return cls(centres.float(), spreads.float().clamp_min(1e-8))

    def nearest(self, samples: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For each sample (N, ...): the index (N,) of the nearest centre measured in spreads, and that distance."""
        scaled = torch.cdist(samples.flatten(1).float(), self.centres) / self.spreads
        distance, index = scaled.min(1)
        return index, distance


def mode_counts(samples: torch.Tensor, modes: Modes, quality_std: float) -> tuple[torch.Tensor, float]:
    """High-quality samples near each mode (K,) and the share of samples that are of high quality."""
    index, distance = modes.nearest(samples)
    good = distance <= quality_std
    return torch.bincount(index[good], minlength=len(modes.centres)), float(good.float().mean())


def modes_covered(counts: torch.Tensor, n: int, cover_fraction: float) -> int:
    """Modes with at least `cover_fraction` of their fair share n / K of the `n` samples."""
    return int((counts >= cover_fraction * n / len(counts)).sum())


def mmd2(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> float:
    """Biased estimate of MMD^2 between samples a (N, ...) and b (M, ...) under exp(-|u - v|^2 / (2 bandwidth^2))."""
    a, b = a.flatten(1).double(), b.flatten(1).double()

    def k(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return torch.exp(-torch.cdist(u, v).pow(2) / (2 * bandwidth ** 2)).mean()

    return float(k(a, a) + k(b, b) - 2 * k(a, b))


def median_distance(x: torch.Tensor) -> float:
    """Median distance between distinct points of x (N, ...): the usual bandwidth of a Gaussian kernel."""
    d = torch.cdist(x.flatten(1).double(), x.flatten(1).double())
    return float(d[~torch.eye(len(x), dtype=torch.bool, device=x.device)].median().clamp_min(1e-8))


def label_match(samples: torch.Tensor, labels: torch.Tensor, modes: Modes) -> float:
    """Share of samples whose nearest class mean (plain Euclidean distance) is their label's."""
    nearest = torch.cdist(samples.flatten(1).float(), modes.centres).argmin(1)
    return float((nearest == labels).float().mean())


def spread(x: torch.Tensor) -> float:
    """Root mean squared distance of the rows of x (N, ...) from their mean."""
    x = x.flatten(1).double()
    return float((x - x.mean(0)).pow(2).sum(1).mean().sqrt())

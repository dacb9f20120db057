"""A mixture of Gaussians on a ring in the plane, the standard test of mode collapse in GANs (Metz, Poole, Pfau,
Sohl-Dickstein, "Unrolled generative adversarial networks", 2017; Srivastava et al., "VEEGAN", 2017; notes 002
section 4.11).

`modes` equal-weight isotropic Gaussians of standard deviation `std` sit evenly spaced on a circle of radius
`radius` (mode k at angle 2 pi k / modes). Each point's label is the index of the Gaussian it was drawn from, so a
conditional GAN can be asked for one mode and an evaluation can find every mode's centre and spread from the test
split alone. The points are drawn once, from a generator seeded by the run's seed; the tensors move to the run's
device with the rest of the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from neuralab.config import field
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.registry import register_data


@dataclass(frozen=True)
class GaussianRingConfig:
    modes: int = field(8, "Gaussians on the ring.", ge=2)
    radius: float = field(2.0, "Radius of the ring the Gaussians' centres sit on.", gt=0)
    std: float = field(0.02, "Standard deviation of each Gaussian along each axis.", gt=0)
    n_train: int = field(50_000, "Training points (each step draws a batch of them).", ge=1)
    n_test: int = field(4_000, "Test points: the evaluation reads each mode's centre and spread from them.", ge=1)
    batch_size: int = field(256, "Points per training step.", ge=1)


def ring_centres(modes: int, radius: float) -> torch.Tensor:
    """The Gaussians' centres (modes, 2): mode k at angle 2 pi k / modes on the circle of `radius`."""
    angles = torch.arange(modes, dtype=torch.float64) * (2 * math.pi / modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], 1)).float()


def sample_ring(n: int, cfg: GaussianRingConfig, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` points (n, 2) of the mixture and the index (n,) of the Gaussian each was drawn from."""
    labels = torch.randint(cfg.modes, (n,), generator=generator)
    points = ring_centres(cfg.modes, cfg.radius)[labels] + cfg.std * torch.randn(n, 2, generator=generator)
    return points, labels


@register_data("gaussian-ring", config=GaussianRingConfig)
def build_gaussian_ring(cfg: GaussianRingConfig, seed: int) -> SupervisedData:
    generator = torch.Generator().manual_seed(seed)
    train, test = sample_ring(cfg.n_train, cfg, generator), sample_ring(cfg.n_test, cfg, generator)
    meta = DataMeta(kind="features", input_shape=[2], num_classes=cfg.modes,
                    class_names=[f"mode {k}" for k in range(cfg.modes)], feature_names=["x", "y"],
                    source=f"gaussian-ring-{cfg.modes}")
    return SupervisedData(train, test, meta, batch_size=cfg.batch_size, seed=seed)

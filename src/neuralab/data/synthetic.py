"""Synthetic data sets generated in tensors: logic gates, two moons, spirals, Gaussian blobs, noisy sine.

Logic gates have inputs in {0, 1} and class labels {0, 1}; methods with sign units (perceptron,
Adaline) map labels to targets in {-1, +1} themselves.
"""

from __future__ import annotations

import math

import torch

GATES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "xor": (0, 1, 1, 0),
}
KINDS = (*GATES, "moons", "spirals", "blobs", "sine")


def logic_gate(gate: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The four rows of a 2-input truth table -> x (4, 2) float, y (4,) int64."""
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return x, torch.tensor(GATES[gate])


def two_moons(n: int, noise: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaving half circles (as scikit-learn's make_moons), labels 0/1."""
    n0 = n // 2
    t0 = torch.rand(n0, generator=g) * math.pi
    t1 = torch.rand(n - n0, generator=g) * math.pi
    upper = torch.stack([torch.cos(t0), torch.sin(t0)], 1)
    lower = torch.stack([1 - torch.cos(t1), 0.5 - torch.sin(t1)], 1)
    x = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    y = torch.cat([torch.zeros(n0), torch.ones(n - n0)]).long()
    return x, y


def spirals(n: int, noise: float, g: torch.Generator, arms: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """`arms` interleaved Archimedean spirals, one class per arm; the first n % arms arms get one point more."""
    xs, ys = [], []
    for k in range(arms):
        per = n // arms + (k < n % arms)
        r = torch.linspace(0.05, 1.0, per)
        theta = 4.0 * r * math.pi / 1.5 + 2 * math.pi * k / arms
        pts = torch.stack([r * torch.cos(theta), r * torch.sin(theta)], 1)
        xs.append(pts + noise * torch.randn(per, 2, generator=g))
        ys.append(torch.full((per,), k))
    return torch.cat(xs), torch.cat(ys).long()


def blobs(n: int, noise: float, g: torch.Generator, centers: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Isotropic Gaussian clusters around centres spread on a circle of radius 3; std = `noise`.

    Points are dealt to the clusters in turn, so every class is present and the sizes differ by at most one.
    """
    angles = torch.arange(centers) * 2 * math.pi / centers
    mu = 3 * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    y = torch.arange(n) % centers
    return mu[y] + noise * torch.randn(n, 2, generator=g), y


def noisy_sine(n: int, noise: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression target y = sin(x) + noise on x uniform in [-pi, pi] -> x (n, 1), y (n, 1)."""
    x = (torch.rand(n, 1, generator=g) * 2 - 1) * math.pi
    return x, torch.sin(x) + noise * torch.randn(n, 1, generator=g)


def make(kind: str, n: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if kind in GATES:
        return logic_gate(kind)
    g = torch.Generator().manual_seed(seed)
    return {"moons": two_moons, "spirals": spirals, "blobs": blobs, "sine": noisy_sine}[kind](n, noise, g)

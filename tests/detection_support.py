"""Shared by the detector tests: a small batch with its boxes, and a few optimiser steps on it (the learning sanity
check of each detector)."""

from __future__ import annotations

import torch


def small_batch() -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Two 64x64 images with bright rectangles and their boxes (labels 3 and 5, 7)."""
    images = torch.zeros(2, 1, 64, 64)
    images[0, :, 8:32, 10:30] = 1.0
    images[1, :, 30:60, 4:24] = 1.0
    images[1, :, 5:25, 35:60] = 0.6
    targets = [{"boxes": torch.tensor([[10.0, 8.0, 30.0, 32.0]]), "labels": torch.tensor([3])},
               {"boxes": torch.tensor([[4.0, 30.0, 24.0, 60.0], [35.0, 5.0, 60.0, 25.0]]),
                "labels": torch.tensor([5, 7])}]
    return images, targets


def overfit_one_batch(model: torch.nn.Module, images: torch.Tensor, targets: list[dict[str, torch.Tensor]],
                      steps: int = 20) -> list[float]:
    """The summed training loss at each of `steps` Adam steps (lr 3e-3) on the same batch, sampling seeded."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(0)
    totals = []
    for _ in range(steps):
        loss = sum(model(images, targets, generator).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        totals.append(float(loss.detach()))
    return totals

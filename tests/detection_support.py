"""Shared by the detector tests: a few optimiser steps on one batch, the learning sanity check of each detector."""

from __future__ import annotations

import torch


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

"""Orientation arithmetic for tuning curves (notes 002 section 1.4): an oriented bar or grating is the same
stimulus turned by 180 degrees."""

from __future__ import annotations

import torch


def orientation_distance(a: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """|a - b| in degrees for orientations (period 180 degrees), in [0, 90]."""
    return ((a - b + 90.0) % 180.0 - 90.0).abs()

"""The interface every detector here shares, torchvision's (`torchvision.models.detection`): in training,
`model(images, targets)` returns a dict of losses; in evaluation, `model.detect(images)` returns one dict per image,
{"boxes" (n, 4), "labels" (n,) int64, "scores" (n,)} best first (and "masks" for a model that segments).

`forward` also serves the engine's model contract: in evaluation it gives the detections as one padded tensor,
and in training without targets the model's raw outputs on its regions (what `neuralab info` and the contract
tests trace).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from neuralab.detection.matching import Target


def padded_detections(found: list[Target], detections_per_img: int, device: torch.device) -> torch.Tensor:
    """Detections as one (B, detections_per_img, 6) tensor of rows (x1, y1, x2, y2, score, label), zero rows after
    each image's own."""
    out = torch.zeros(len(found), detections_per_img, 6, device=device)
    for i, d in enumerate(found):
        n = len(d["scores"])
        out[i, :n] = torch.cat((d["boxes"], d["scores"][:, None], d["labels"][:, None].to(d["boxes"])), dim=1)
    return out


class Detector(nn.Module, ABC):
    """`forward(images, targets, generator)` in training: `losses`; `forward(images)` in evaluation: `detect`'s
    detections padded to (B, cfg.detections_per_img, 6), label 0 and score 0 on padding rows; `forward(images)` in
    training: `raw_outputs`."""

    @abstractmethod
    def losses(self, images: torch.Tensor, targets: list[Target],
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """The training losses on a batch (torchvision's keys); random sampling draws from `generator`."""

    @abstractmethod
    def detect(self, images: torch.Tensor) -> list[Target]:
        """Detections per image as torchvision's list of dicts, best first."""

    @abstractmethod
    def raw_outputs(self, images: torch.Tensor) -> torch.Tensor:
        """The outputs the losses read, one padded row per region of each image."""

    def forward(self, images: torch.Tensor, targets: list[Target] | None = None,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor] | torch.Tensor:
        if targets is not None and self.training:
            return self.losses(images, targets, generator)
        if not self.training:
            return padded_detections(self.detect(images), self.cfg.detections_per_img, images.device)
        return self.raw_outputs(images)

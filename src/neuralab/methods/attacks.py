"""Adversarial examples (curriculum C6): the fast gradient sign method (Goodfellow, Shlens, Szegedy, "Explaining
and harnessing adversarial examples", 2015) and projected gradient descent in an L-inf ball from a uniform
random start (Madry, Makelov, Schmidt, Tsipras, Vladu, "Towards deep learning models resistant to adversarial
attacks", 2018), batched.

Both attack in pixel space, not in the model's input space: the data layer feeds the model normalised inputs
z = (raw / pixel_scale - mean) / std with raw pixels 0..255, so a budget `eps` means "each pixel moves by at
most eps on the [0, 1] scale" whatever the normalisation, and adversarial images stay valid images (pixels
clipped to [0, 1]). `PixelSpace` is that affine map; the attacks take and return model inputs.

FGSM is one signed-gradient step of size eps, x' = clip(x + eps sign(grad_x L)). PGD starts at a uniform
random point of the eps-ball and takes `steps` signed-gradient steps of size alpha, projecting back onto the
ball and the pixel range after each. FGSM from a random start with step 1.25 eps is the cheap attack of
"fast" adversarial training (Wong, Rice, Kolter, "Fast is better than free: revisiting adversarial
training", 2020): `perturb(..., steps=1, alpha=1.25 * eps, random_start=True)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.errors import UserError

ATTACKS = ("fgsm", "pgd")
RAW_MAX = 255.0  # image sources store pixels as 0..255 (uint8) before scaling
PGD_STEPS = 10
PGD_ALPHA_FACTOR = 2.5  # default PGD step: 2.5 eps / steps, so the steps can cross the ball and back (Madry et al.)
FAST_ALPHA_FACTOR = 1.25  # the fast-FGSM training step, 1.25 eps from a random start (Wong et al.)

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class PixelSpace:
    """The affine map between pixels p in [0, 1] and the model's inputs: z = scale * p + shift."""

    scale: float
    shift: float

    @classmethod
    def from_meta(cls, meta: object, what: str = "an attack") -> PixelSpace:
        """The map of a data set's normalisation z = (255 p / pixel_scale - mean) / std; images only."""
        if getattr(meta, "kind", None) != "images":
            raise UserError(f"{what} perturbs image pixels, but this run's inputs are "
                            f"{getattr(meta, 'kind', None) or 'not a data set'} (no pixel range to stay in)")
        std = float(meta.std)
        return cls(scale=RAW_MAX / (meta.pixel_scale * std), shift=-float(meta.mean) / std)

    def to_pixels(self, z: torch.Tensor) -> torch.Tensor:
        """Model inputs -> pixels in [0, 1] (the clamp only removes float rounding)."""
        return ((z - self.shift) / self.scale).clamp(0, 1)

    def to_model(self, p: torch.Tensor) -> torch.Tensor:
        return p * self.scale + self.shift


def fixed_subset(x: torch.Tensor, y: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` examples of (x, y) drawn by a permutation with a fixed seed (all of them for 0 or more than there
    are): every evaluation and every run attacks the same images, and not only the first ones of a split, whose
    order may follow its sources (MNIST's test set puts its easier half first)."""
    if not size or size >= len(x):
        return x, y
    keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:size]
    return x[keep.to(x.device)], y[keep.to(y.device)]


def perturb(model: nn.Module, x: torch.Tensor, y: torch.Tensor, space: PixelSpace, *, eps: float, steps: int,
            alpha: float, random_start: bool, generator: torch.Generator | None = None,
            loss: Loss = F.cross_entropy) -> torch.Tensor:
    """Adversarial model inputs for (x, y): `steps` signed-gradient ascent steps of size `alpha` on `loss`, each
    projected onto the L-inf ball of radius `eps` around x and onto the pixel range [0, 1] (all in pixel units).

    The model keeps its mode (the caller chooses train or eval); gradients go to the inputs only, never to
    the parameters. With eps = 0 the inputs come back unchanged.
    """
    if eps == 0:
        return x
    with torch.enable_grad():
        p0 = space.to_pixels(x.detach())
        p = p0
        if random_start:
            u = torch.rand(p0.shape, generator=generator, device=p0.device if generator is None else generator.device)
            p = (p0 + (2 * u.to(p0) - 1) * eps).clamp(0, 1)
        for _ in range(steps):
            p = p.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(loss(model(space.to_model(p)), y), p)
            p = torch.minimum(torch.maximum(p.detach() + alpha * grad.sign(), p0 - eps), p0 + eps).clamp(0, 1)
    return space.to_model(p.detach())


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, space: PixelSpace, eps: float,
         loss: Loss = F.cross_entropy) -> torch.Tensor:
    """Goodfellow et al.'s one step: x' = clip(x + eps sign(grad_x loss), 0, 1) in pixel units."""
    return perturb(model, x, y, space, eps=eps, steps=1, alpha=eps, random_start=False, loss=loss)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, space: PixelSpace, eps: float, steps: int = PGD_STEPS,
        alpha: float = 0.0, generator: torch.Generator | None = None, loss: Loss = F.cross_entropy) -> torch.Tensor:
    """Madry et al.'s L-inf PGD from a uniform random start; `alpha` 0 means 2.5 eps / steps."""
    alpha = alpha or PGD_ALPHA_FACTOR * eps / steps
    return perturb(model, x, y, space, eps=eps, steps=steps, alpha=alpha, random_start=True, generator=generator,
                   loss=loss)


def attack(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, space: PixelSpace, eps: float, *,
           steps: int = PGD_STEPS, alpha: float = 0.0, generator: torch.Generator | None = None,
           loss: Loss = F.cross_entropy) -> torch.Tensor:
    """The attack `name` (fgsm or pgd) on a batch; `steps` and `alpha` apply to PGD."""
    if name == "fgsm":
        return fgsm(model, x, y, space, eps, loss)
    return pgd(model, x, y, space, eps, steps, alpha, generator, loss)

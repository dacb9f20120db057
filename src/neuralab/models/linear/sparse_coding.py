"""Linear sparse coding (Olshausen and Field, "Emergence of simple-cell receptive field properties by learning a
sparse code for natural images", 1996) (curriculum G1, notes 002 1.9).

A patch z (whitened, see below) is explained as a sum of a few dictionary atoms, z ~ Phi a, where the codes a
minimise the energy

    E(a) = 1/2 ||z - Phi a||^2 + lam ||a||_1

(the notes' "preserve information" term and an L1 sparseness cost). E is convex in a, and `infer` minimises it by
iterative shrinkage-thresholding: ISTA (Daubechies, Defrise and De Mol 2004) steps a <- shrink(a - grad/L, lam/L)
with L = ||Phi||_2^2 the gradient's Lipschitz constant, FISTA (Beck and Teboulle, "A fast iterative
shrinkage-thresholding algorithm for linear inverse problems", 2009) adds Nesterov's momentum (error O(1/t^2)
instead of O(1/t)). The sparse-coding method alternates this inference with a gradient step on Phi, whose atoms
are kept at unit norm (else shrinking a and growing Phi would lower E for free).

The model holds a fixed whitening (D, D) and its inverse, set by the method (identity: none): codes describe the
whitened patch, the forward pass maps the reconstruction back to pixels, mean + dewhitening Phi a, so every
linear model's reconstruction error is in the same units. The basis functions shown beside PCA's are the columns of
dewhitening Phi: what each atom adds to a patch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from neuralab.config import field
from neuralab.models import sizing
from neuralab.registry import register_model


@dataclass(frozen=True)
class SparseCodingConfig:
    in_features: int = field(64, "Inputs per example (images are flattened); set from the data.", ge=1)
    n_atoms: int = field(64, "Dictionary atoms (more than in_features: an overcomplete code).", ge=1)
    lam: float = field(0.5, "Weight lambda of the L1 sparseness cost: larger, sparser codes and a coarser "
                            "reconstruction.", ge=0)
    n_iter: int = field(50, "Shrinkage-thresholding iterations per inference.", ge=1)
    inference: str = field("fista", "fista (with momentum) or ista (plain proximal gradient).",
                           choices=("fista", "ista"))


def shrinkage(z: torch.Tensor, dictionary: torch.Tensor, lam: float, n_iter: int, accelerate: bool = True,
              ) -> torch.Tensor:
    """Codes (B, K) minimising 1/2 ||z - a Phi^T||^2 + lam ||a||_1 for each row of z (B, D), Phi (D, K): `n_iter`
    FISTA steps (ISTA without `accelerate`) from zero codes."""
    gram, target = dictionary.T @ dictionary, z @ dictionary  # (K, K), (B, K)
    lipschitz = float(torch.linalg.matrix_norm(dictionary, 2)) ** 2 or 1.0  # largest eigenvalue of Phi^T Phi
    a = torch.zeros_like(target)
    y, t = a, 1.0
    for _ in range(n_iter):
        grad = y @ gram - target  # of the quadratic term at y
        a_next = F.softshrink(y - grad / lipschitz, lam / lipschitz)
        if accelerate:
            t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
            y = a_next + (t - 1) / t_next * (a_next - a)
            t = t_next
        else:
            y = a_next
        a = a_next
    return a


@register_model("sparse-coding", family="linear", config=SparseCodingConfig, sizing=sizing.flat_inputs,
                example_input=lambda c: torch.randn(3, c.in_features),
                paper="Olshausen and Field 1996, Emergence of simple-cell receptive field properties by learning a "
                      "sparse code for natural images")
class SparseCoding(nn.Module):
    """(B, ...) -> flatten -> whiten (B, D) -> codes (B, n_atoms) by FISTA -> reconstruction, in the input's shape."""

    output_fields = ("in_features",)

    def __init__(self, cfg: SparseCodingConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.in_features
        atoms = torch.randn(d, cfg.n_atoms)
        self.dictionary = nn.Parameter(atoms / atoms.norm(dim=0))  # (D, n_atoms), unit-norm columns
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("whitening", torch.eye(d))  # (D, D), symmetric (ZCA) or identity
        self.register_buffer("dewhitening", torch.eye(d))  # its inverse

    def whiten(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> the whitened patches (B, D) the codes describe."""
        return (x.flatten(1) - self.mean) @ self.whitening.T

    @torch.no_grad()
    def infer(self, z: torch.Tensor) -> torch.Tensor:
        """Whitened patches (B, D) -> their sparse codes (B, n_atoms); no gradient flows through inference."""
        return shrinkage(z, self.dictionary.detach(), self.cfg.lam, self.cfg.n_iter, self.cfg.inference == "fista")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, ...) -> codes (B, n_atoms)."""
        return self.infer(self.whiten(x))

    def synthesize(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, n_atoms) -> whitened reconstructions Phi a (B, D)."""
        return codes @ self.dictionary.T

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes (B, n_atoms) -> flat reconstructions in pixels (B, D)."""
        return self.synthesize(codes) @ self.dewhitening.T + self.mean

    def bases(self) -> torch.Tensor:
        """The basis functions in pixels (n_atoms, D): what one unit of each code adds to a patch."""
        return (self.dewhitening @ self.dictionary).T

    @torch.no_grad()
    def normalize_(self) -> None:
        """Rescale every atom to unit norm (the constraint that keeps the L1 cost meaningful)."""
        self.dictionary.div_(self.dictionary.norm(dim=0).clamp_min(1e-12))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x)).reshape(x.shape)

"""Pseudo-likelihood of a Bernoulli RBM (Besag, "Statistical analysis of non-lattice data", 1975), estimated as
scikit-learn's `BernoulliRBM.score_samples` does (Marlin et al., "Inductive principles for restricted Boltzmann
machine learning", 2010).

The log pseudo-likelihood of v (V,) is sum_i log P(v_i | v_-i), and for an RBM each term is a free-energy
difference: log P(v_i | v_-i) = log sigmoid(F(v with bit i flipped) - F(v)). Summing all V terms costs V free
energies per example, so the estimator flips ONE bit i, drawn uniformly, and scales that term by V:

    PL(v) ~ V * log sigmoid(F(v~) - F(v)),   v~ = v with v_i replaced by 1 - v_i,

unbiased for the full sum over i. Grey values in [0, 1] are flipped to 1 - v_i as scikit-learn does (its
docstring asks for binary data but does not check), so the two score the same data the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuralab.errors import UserError
from neuralab.models.energy.rbm import RBM


@torch.no_grad()
def pseudo_likelihood(rbm: RBM, v: torch.Tensor, generator: torch.Generator | None = None,
                      flip: torch.Tensor | None = None) -> torch.Tensor:
    """The one-bit pseudo-likelihood estimate of each example of `v` (B, V) -> (B,).

    `flip` (B,) names the bit flipped in each example (e.g. the indices scikit-learn draws, to compare one for
    one); when None each is drawn uniformly from `generator`.
    """
    if rbm.gaussian:
        raise UserError("pseudo-likelihood flips binary visible units; this RBM's visible units are gaussian")
    v = v.flatten(1)
    rows = torch.arange(len(v), device=v.device)
    if flip is None:
        device = v.device if generator is None else generator.device  # draw where the generator lives
        flip = torch.randint(0, v.shape[1], (len(v),), generator=generator, device=device).to(v.device)
    flipped = v.clone()
    flipped[rows, flip] = 1 - v[rows, flip]
    return v.shape[1] * F.logsigmoid(rbm.free_energy(flipped) - rbm.free_energy(v))

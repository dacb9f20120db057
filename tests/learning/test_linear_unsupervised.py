"""Learning sanity of the G1 linear methods on natural-image patches: sparse coding and ICA learn localised basis
functions where PCA's (and random ones) reach across the whole patch, and their codes are heavier-tailed (higher
excess kurtosis) than PCA's."""

from __future__ import annotations

import torch

import neuralab
from neuralab.methods.decomposition import pca_baseline
from neuralab.methods.linear_codes import code_metrics, spread

QUICK = {"threads": 1, "device": "cpu"}
SHAPE = (1, 8, 8)


def _pca(run) -> tuple[float, float]:
    """Spread of the basis and kurtosis of the test codes of PCA on the same training patches (63 components)."""
    x_test, _ = run.data.split("test")
    pca = pca_baseline(run.data.x_train, 64)
    return spread(pca.bases(), SHAPE), code_metrics(pca, x_test)["test/kurtosis"]


@torch.no_grad()
def _energy(model, x: torch.Tensor) -> float:
    """Mean sparse-coding energy 1/2 ||z - Phi a||^2 + lam ||a||_1 of patches x at their inferred codes."""
    z = model.whiten(x)
    a = model.infer(z)
    return float((0.5 * (z - model.synthesize(a)).pow(2).sum(1) + model.cfg.lam * a.abs().sum(1)).mean())


def test_sparse_coding_learns_localised_atoms_that_code_patches_at_lower_energy(tmp_path):
    # a tenth of the recipe's steps at twice its learning rate
    run = neuralab.train("sparse-coding-patches", {"run": {**QUICK, "steps": 300, "eval_every": 300},
                                                   "method": {"lr": 2.0}, "data": {"n_test": 1000}},
                         out=tmp_path / "sc")
    metrics = run.method.evaluate()
    pca_spread, pca_kurtosis = _pca(run)
    assert pca_spread > 0.9  # global
    assert metrics["basis/spread"] < 0.8 * pca_spread, (metrics["basis/spread"], pca_spread)
    assert metrics["test/kurtosis"] > 1.5 * pca_kurtosis, (metrics["test/kurtosis"], pca_kurtosis)
    x_test, _ = run.data.split("test")
    learnt = _energy(run.model, x_test)
    with torch.no_grad():  # the same model with a random unit-norm dictionary, as training starts
        atoms = torch.randn(run.model.dictionary.shape, generator=torch.Generator().manual_seed(0))
        run.model.dictionary.copy_(atoms / atoms.norm(dim=0))
        assert spread(run.model.bases(), SHAPE) > 0.9  # random atoms are not local either
    assert learnt < 0.85 * _energy(run.model, x_test)


def test_ica_learns_localised_basis_functions_and_heavier_tailed_codes_than_pca(tmp_path):
    # 60 FastICA iterations on half the recipe's patches: most of the way to convergence (about 100)
    run = neuralab.train("ica-patches", {"run": {**QUICK, "steps": 60},
                                         "data": {"n_train": 10000, "n_test": 1000, "batch_size": 10000},
                                         "method": {"sklearn_check": False}}, out=tmp_path / "ica")
    metrics = run.method.evaluate()
    pca_spread, pca_kurtosis = _pca(run)
    assert metrics["basis/spread"] < 0.85 * pca_spread, (metrics["basis/spread"], pca_spread)
    assert metrics["test/kurtosis"] > pca_kurtosis, (metrics["test/kurtosis"], pca_kurtosis)
    assert metrics["test/explained_variance"] > 0.999  # a complete basis: the patches come back exactly

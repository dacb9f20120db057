"""Hebbian learning (curriculum E3): Hebb's rule is a power iteration that diverges, Oja's rule stays at norm 1 on the
first principal component, Sanger's rule finds the first K components; oracles: the closed-form power iteration
and scikit-learn's PCA."""

from __future__ import annotations

import math

import pytest
import torch
from sklearn.decomposition import PCA

import neuralab
from neuralab.data.correlated_gaussian import CorrelatedGaussianConfig, build_correlated_gaussian, covariance
from neuralab.errors import UserError
from neuralab.methods.hebbian import hebbian_update
from tests.conftest import assert_png_drawn

FAST = {"device": "cpu", "threads": 1, "eval_every": 5000}  # one evaluation and checkpoint, at the end


def _centred(x: torch.Tensor) -> torch.Tensor:
    x = x.double()
    return x - x.mean(0)


def test_hebb_on_the_whole_data_set_is_the_power_iteration_of_the_covariance():
    x = _centred(torch.randn(500, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) @ torch.tensor(
        [[2.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.5]], dtype=torch.float64))
    cov = x.T @ x / len(x)
    w0 = torch.tensor([[0.3, -0.2, 0.1]], dtype=torch.float64)
    w, lr, steps = w0.clone(), 0.05, 60
    for _ in range(steps):
        w = w + hebbian_update("hebb", w, x, lr)
    expected = w0 @ torch.linalg.matrix_power(torch.eye(3, dtype=torch.float64) + lr * cov, steps)
    torch.testing.assert_close(w, expected, rtol=1e-10, atol=0)
    # the norm grows by 1 + lr * lambda_1 per step once w lies along the first eigenvector
    lam1 = float(torch.linalg.eigvalsh(cov)[-1])
    w_next = w + hebbian_update("hebb", w, x, lr)
    assert float(w_next.norm() / w.norm()) == pytest.approx(1 + lr * lam1, rel=1e-3)


def test_oja_and_sanger_updates_vanish_at_the_principal_components():
    x = _centred(torch.randn(400, 4, generator=torch.Generator().manual_seed(1)) * torch.tensor([3.0, 2.0, 1.0, 0.5]))
    cov = x.T @ x / len(x)
    vectors = torch.linalg.eigh(cov).eigenvectors.flip(1).T  # rows, largest eigenvalue first
    assert hebbian_update("oja", vectors[:1], x, 0.1).abs().max() < 1e-12
    assert hebbian_update("sanger", vectors[:3], x, 0.1).abs().max() < 1e-12
    # the same unit-norm vector is no fixed point of plain Hebb: it moves by lr * lambda_1 * w
    assert hebbian_update("hebb", vectors[:1], x, 0.1).norm() > 0.1


def test_hebb_diverges_until_the_bound_while_oja_converges_to_pca_first_component(tmp_path):
    hebb = neuralab.train("hebb-diverges", {"run": FAST}, out=tmp_path / "hebb")
    assert hebb.step < 1000, "Hebb's norm should pass max_norm and end the run early"
    assert hebb.metrics["train/weight_norm"] >= 1e6 and all(math.isfinite(v) for v in hebb.metrics.values())
    oja = neuralab.train("oja-pca", {"run": FAST}, out=tmp_path / "oja")
    w = oja.method.model.weight[0].double()
    data = oja.method.data
    pc1 = torch.from_numpy(PCA(n_components=1).fit(data.x_train.double().numpy()).components_[0])
    assert float(w.norm()) == pytest.approx(1.0, abs=0.02)
    assert abs(float(w @ pc1)) / float(w.norm()) > 0.99
    assert oja.metrics["test/cosine_pc1"] > 0.99
    # the learnt direction is the data's population axis too (angle 30 degrees)
    axis = torch.tensor([math.cos(math.radians(30)), math.sin(math.radians(30))], dtype=torch.float64)
    assert abs(float(w @ axis)) / float(w.norm()) > 0.99
    assert_png_drawn(tmp_path / "oja" / "plots" / "hebbian.png")
    assert_png_drawn(tmp_path / "hebb" / "plots" / "hebbian.png")


def test_sanger_learns_the_first_k_components_of_scikit_learn_pca():
    cfg = CorrelatedGaussianConfig(spectrum=(6.0, 3.0, 1.5, 0.5, 0.2), n_train=5000)
    x = build_correlated_gaussian(cfg, seed=0).x_train.double()
    centred, g = _centred(x), torch.Generator().manual_seed(0)
    w = 0.1 * torch.randn(3, 5, generator=g, dtype=torch.float64)
    for _ in range(800):
        w = w + hebbian_update("sanger", w, centred[torch.randint(len(x), (100,), generator=g)], 0.02)
    components = torch.from_numpy(PCA(n_components=3).fit(x.numpy()).components_)
    cosines = (w * components).sum(1).abs() / w.norm(dim=1)
    assert (cosines > 0.98).all(), cosines
    torch.testing.assert_close(w @ w.T, torch.eye(3, dtype=torch.float64), atol=0.05, rtol=0)  # orthonormal rows


def test_correlated_gaussian_has_the_chosen_covariance():
    cfg = CorrelatedGaussianConfig(spectrum=(4.0, 1.0), angle=60.0, n_train=20_000)
    data = build_correlated_gaussian(cfg, seed=0)
    sample = torch.cov(data.x_train.double().T)
    torch.testing.assert_close(sample, covariance(cfg), atol=0.12, rtol=0)
    with pytest.raises(UserError, match="2-D data only"):
        build_correlated_gaussian(CorrelatedGaussianConfig(spectrum=(3.0, 2.0, 1.0), angle=10.0), seed=0)

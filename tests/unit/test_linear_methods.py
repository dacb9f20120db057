"""G1 linear methods against their oracles: PCA and CCA against scikit-learn, FastICA against known sources and
scikit-learn's FastICA, ISTA/FISTA codes against scikit-learn's Lasso, kurtosis against scipy; the image patches."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from neuralab.data.image_patches import ImagePatchesConfig, cut, grey_photos, patches
from neuralab.errors import UserError
from neuralab.methods.decomposition import Moments, correlations, pca_baseline, sklearn_cca, sklearn_pca
from neuralab.methods.fastica import fixed_point, matched_correlation, sklearn_unmixing, symmetric_decorrelation
from neuralab.methods.linear_codes import excess_kurtosis, spread
from neuralab.methods.sparse_coding import zca
from neuralab.models.linear.cca import CCA, CCAConfig
from neuralab.models.linear.ica import ICA, ICAConfig
from neuralab.models.linear.pca import PCA, PCAConfig
from neuralab.models.linear.sparse_coding import SparseCoding, SparseCodingConfig, shrinkage
from tests.conftest import assert_png_drawn


def _moments(x: torch.Tensor, batch: int) -> Moments:
    m = Moments(x[0].numel(), x.device)
    for chunk in x.split(batch):
        m.add(chunk)
    return m


def _correlated(n: int = 2000, d: int = 10, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.randn(d, d, generator=g, dtype=torch.float64)


def test_streamed_moments_equal_the_whole_sets_mean_and_covariance_in_any_batching():
    x = _correlated(n=300) + 5.0  # an offset: the naive sum of squares would lose digits
    for batch in (1, 7, 300):
        m = _moments(x, batch)
        assert m.count == 300
        torch.testing.assert_close(m.mean, x.mean(0))
        torch.testing.assert_close(m.covariance(), torch.cov(x.T))


def test_pca_matches_sklearn_components_up_to_sign_and_explained_variance():
    x = _correlated()
    m = _moments(x, 300)
    pca = PCA(PCAConfig(in_features=10, n_components=4))
    pca.fit(m.mean, m.covariance())
    components, variances = sklearn_pca(x, 4)
    cosines = (pca.components.double() * components).sum(1)
    torch.testing.assert_close(cosines.abs(), torch.ones(4, dtype=torch.float64), atol=1e-6, rtol=0)
    assert (cosines > 0).all(), "signs are fixed as scikit-learn fixes them"
    torch.testing.assert_close(pca.explained_variance.double(), variances, rtol=1e-5, atol=0)
    # Eckart-Young: the reconstruction error is the variance left in the discarded directions
    residual = (x - pca(x.float()).double()).pow(2).sum(1).mean() / (len(x) - 1) * len(x)
    left = torch.linalg.eigvalsh(torch.cov(x.T)).flip(0)[4:].sum()
    torch.testing.assert_close(residual, left, rtol=1e-4, atol=0)


def test_pca_baseline_keeps_only_the_directions_the_data_span():
    x = _correlated(d=6).float()
    x = x - x.mean(1, keepdim=True)  # patches without their mean: one dimension less
    assert pca_baseline(x, 6).cfg.n_components == 5


def test_cca_canonical_correlations_match_sklearn_and_the_variates_are_canonical():
    g = torch.Generator().manual_seed(1)
    latent = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    x = latent @ torch.randn(2, 5, generator=g, dtype=torch.float64) + 0.3 * torch.randn(3000, 5, generator=g,
                                                                                          dtype=torch.float64)
    y = latent @ torch.randn(2, 4, generator=g, dtype=torch.float64) + 0.3 * torch.randn(3000, 4, generator=g,
                                                                                          dtype=torch.float64)
    both = torch.cat([x, y], 1)
    m = _moments(both, 500)
    cca = CCA(CCAConfig(in_features=9, x_features=5, n_components=3, ridge=0.0)).double()
    cca.fit(m.mean, m.covariance())
    u, v = cca.encode(both).chunk(2, dim=1)
    torch.testing.assert_close(correlations(u, v), cca.correlations, atol=1e-9, rtol=0)
    torch.testing.assert_close(correlations(u, v), sklearn_cca(x, y, 3), atol=1e-4, rtol=0)
    # unit variance, and each variate uncorrelated with every other pair's
    torch.testing.assert_close(torch.cov(u.T), torch.eye(3, dtype=torch.float64), atol=1e-9, rtol=0)
    cross = torch.corrcoef(torch.cat([u, v], 1).T)[:3, 3:]
    torch.testing.assert_close(cross - torch.diag(cross.diagonal()), torch.zeros(3, 3, dtype=torch.float64),
                               atol=1e-9, rtol=0)
    assert cca.correlations[1] > 0.5 and cca.correlations[2] < 0.1  # two shared latents, the third pair is noise


def _mixed_sources(n: int = 4000):
    g = torch.Generator().manual_seed(2)
    sources = torch.stack([torch.distributions.Laplace(0.0, 1.0).sample((n,)),
                           torch.rand(n, generator=g) * 2 - 1,
                           torch.sign(torch.randn(n, generator=g)) * torch.rand(n, generator=g) ** 3]).T.double()
    return sources, sources @ torch.randn(3, 5, generator=g, dtype=torch.float64)  # 3 sources in 5 observations


def _fastica(x: torch.Tensor, k: int, iterations: int = 200):
    ica = ICA(ICAConfig(in_features=x.shape[1], n_components=k)).double()
    m = _moments(x, len(x))
    ica.fit_whitening(m.mean, m.comoment / m.count)
    start = symmetric_decorrelation(torch.randn(k, k, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    z, w = ica.whiten(x), start
    for _ in range(iterations):
        w = fixed_point(w, z)
    ica.unmixing.copy_(w)
    return ica, z, start


def test_fastica_recovers_known_sources_as_sklearn_does_and_runs_sklearns_iteration():
    torch.manual_seed(0)
    sources, x = _mixed_sources()
    ica, z, start = _fastica(x, 3)
    assert matched_correlation(ica.encode(x), sources) > 0.99
    from sklearn.decomposition import FastICA

    theirs = FastICA(n_components=3, whiten="unit-variance", random_state=0).fit_transform(x.numpy())
    assert matched_correlation(torch.from_numpy(theirs), sources) > 0.99
    # the same start on the same whitened data: the same unmixing, not only the same sources
    torch.testing.assert_close(ica.unmixing, sklearn_unmixing(z, start, 1e-12), atol=1e-6, rtol=0)
    # the reconstruction through the mixing matrix is exact: 3 sources span the 5 observations
    torch.testing.assert_close(ica(x), x, atol=1e-8, rtol=0)


def test_ica_refuses_more_components_than_the_data_span():
    _, x = _mixed_sources()
    ica = ICA(ICAConfig(in_features=5, n_components=4))
    m = _moments(x.float(), len(x))
    with pytest.raises(UserError, match="fewer than 4 dimensions"):
        ica.fit_whitening(m.mean, m.covariance())


def test_cca_without_ridge_on_a_constant_input_says_what_to_do():
    x = torch.randn(100, 6, dtype=torch.float64)
    x[:, 0] = 1.0  # never varies: a singular covariance
    m = _moments(x, 100)
    with pytest.raises(UserError, match="--model.ridge"):
        CCA(CCAConfig(in_features=6, x_features=3, n_components=2, ridge=0.0)).double().fit(m.mean, m.covariance())


@pytest.mark.parametrize("accelerate, iterations", [(True, 10000), (False, 20000)])
def test_shrinkage_codes_match_sklearns_lasso_on_a_fixed_dictionary(accelerate, iterations):
    from sklearn.linear_model import Lasso

    g = torch.Generator().manual_seed(3)
    dictionary = torch.randn(16, 24, generator=g, dtype=torch.float64)
    dictionary /= dictionary.norm(dim=0)
    z = torch.randn(5, 16, generator=g, dtype=torch.float64)
    lam = 0.3
    codes = shrinkage(z, dictionary, lam, iterations, accelerate)
    for row, target in zip(codes, z, strict=True):
        # Lasso minimises 1/(2 n) ||y - X w||^2 + alpha ||w||_1 with n = 16 rows: alpha = lam / n is our energy / n
        lasso = Lasso(alpha=lam / 16, fit_intercept=False, tol=1e-14, max_iter=1_000_000)
        lasso.fit(dictionary.numpy(), target.numpy())
        np.testing.assert_allclose(row.numpy(), lasso.coef_, atol=1e-5)
    assert (codes == 0).float().mean() > 0.2  # L1 sets codes exactly to zero


def test_fista_lowers_the_energy_faster_than_ista():
    g = torch.Generator().manual_seed(4)
    dictionary = torch.randn(16, 32, generator=g, dtype=torch.float64)
    dictionary /= dictionary.norm(dim=0)
    z = torch.randn(50, 16, generator=g, dtype=torch.float64)

    def energy(a):
        return float((0.5 * (z - a @ dictionary.T).pow(2).sum(1) + 0.2 * a.abs().sum(1)).mean())

    best = energy(shrinkage(z, dictionary, 0.2, 5000, True))
    fista, ista = (energy(shrinkage(z, dictionary, 0.2, 30, acc)) - best for acc in (True, False))
    assert 0 <= fista < 0.1 * ista


def test_sparse_coding_forward_reconstructs_in_pixels_through_the_whitening():
    torch.manual_seed(0)
    model = SparseCoding(SparseCodingConfig(in_features=8, n_atoms=8, lam=0.0, n_iter=2000)).double()
    cov = torch.cov(_correlated(d=8).T)
    whitening, dewhitening = zca(cov, 1e-6)
    model.whitening.copy_(whitening)
    model.dewhitening.copy_(dewhitening)
    model.mean.fill_(0.5)
    x = torch.randn(4, 8, dtype=torch.float64)
    torch.testing.assert_close(model(x), x, atol=1e-6, rtol=0)  # lam 0, a complete dictionary: exact


def test_zca_whitens_to_the_identity_and_is_undone_by_its_inverse():
    x = _correlated()
    whitening, dewhitening = zca(torch.cov(x.T), 1e-12)
    torch.testing.assert_close(torch.cov((x @ whitening.T).T), torch.eye(10, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(whitening @ dewhitening, torch.eye(10, dtype=torch.float64), atol=1e-9, rtol=0)
    torch.testing.assert_close(whitening, whitening.T)  # ZCA: symmetric, the whitening closest to the identity


def test_excess_kurtosis_matches_scipy_and_is_zero_for_a_gaussian():
    g = torch.Generator().manual_seed(5)
    r = torch.stack([torch.randn(20000, generator=g), torch.rand(20000, generator=g),
                     torch.distributions.Laplace(0.0, 1.0).sample((20000,))], 1)
    ours = excess_kurtosis(r)
    np.testing.assert_allclose(ours.numpy(), stats.kurtosis(r.double().numpy(), axis=0), rtol=1e-9)
    assert abs(ours[0]) < 0.1 and abs(ours[1] + 1.2) < 0.05 and abs(ours[2] - 3) < 0.5  # Gaussian, uniform, Laplace
    assert excess_kurtosis(torch.ones(10, 1)).isnan().all()  # never varies: undefined


def test_spread_is_zero_for_a_single_pixel_one_for_an_even_spread_and_about_one_for_noise():
    shape = (1, 8, 8)
    assert spread(torch.eye(64)[:3], shape) == pytest.approx(0.0)
    assert spread(torch.ones(2, 64), shape) == pytest.approx(1.0)
    corners = torch.zeros(1, 8, 8)
    corners[0, [0, 0, 7, 7], [0, 7, 0, 7]] = 1  # energy as far from its centre as it goes
    assert spread(corners.flatten(1), shape) == pytest.approx(2 * 3.5 ** 2 / (2 * 63 / 12))
    edge = torch.zeros(1, 8, 8)
    edge[0, :, 3], edge[0, :, 4] = 1, -1  # a vertical edge: spread along one axis only
    assert spread(edge.flatten(1), shape) == pytest.approx((63 / 12 + 0.25) / (2 * 63 / 12))
    assert spread(torch.randn(64, 64, generator=torch.Generator().manual_seed(0)), shape) > 0.85


def test_grey_photos_are_sklearns_sample_images_in_luma():
    from sklearn.datasets import load_sample_images

    for ours, rgb in zip(grey_photos(), load_sample_images().images, strict=True):
        expected = torch.from_numpy(rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255).float()
        torch.testing.assert_close(ours, expected)


def test_patches_are_cut_from_their_own_columns_seeded_and_without_their_mean():
    columns = torch.arange(100.0).expand(30, 100)  # pixel value = its column
    g = torch.Generator().manual_seed(0)
    piece = cut(columns, 500, 4, (60, 100), g)
    assert piece.shape == (500, 4, 4) and piece.min() >= 60 and piece.max() <= 99
    assert (piece[:, :, 1:] - piece[:, :, :-1] == 1).all()  # contiguous pixels
    cfg = ImagePatchesConfig(n_train=300, n_test=100)
    (x, y), (xt, yt) = patches(cfg)
    assert x.shape == (300, 1, 8, 8) and xt.shape == (100, 1, 8, 8)
    assert x.mean(dim=(1, 2, 3)).abs().max() < 1e-6
    assert set(y[:20].tolist()) == {0, 1} and (y == 0).sum() == 150  # both photos, shuffled together
    (x2, _), _ = patches(cfg)
    assert torch.equal(x, x2)
    (x3, _), _ = patches(ImagePatchesConfig(n_train=300, n_test=100, sample_seed=1))
    assert not torch.equal(x, x3)


def test_basis_plot_draws_every_panel(tmp_path):
    from neuralab.viz.bases import plot_bases

    bases = torch.randn(16, 64)
    path = plot_bases([("a", bases), ("b", bases[:9])], (1, 8, 8), "bases", tmp_path / "bases.png")
    assert_png_drawn(path, min_size=(400, 200), min_std=20.0)

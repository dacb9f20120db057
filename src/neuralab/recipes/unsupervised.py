"""Linear unsupervised methods (curriculum G1): PCA, ICA and sparse coding of natural-image patches, CCA of the two
halves of a digit. Each closed-form fit is checked against scikit-learn on the same data at its evaluation.

The patches are 8x8 pixels cut from scikit-learn's two sample photographs, each with its mean removed (so they
span 63 dimensions): 20,000 for training from the left 80% of each photo, 4,000 for testing from the right 20%.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

PATCHES = dict(patch_size=8, n_train=20000, n_test=4000)
COMPONENTS = 63  # the patches' dimension after their mean is removed

register(Recipe(
    name="pca-patches", family="unsupervised", curriculum="G1",
    summary="PCA (torch.linalg.eigh of the covariance, one pass) of 8x8 natural-image patches: global, "
            "Fourier-like components ordered by variance; agrees with scikit-learn's PCA.",
    model="pca", method="pca", data="image-patches",
    model_config=dict(n_components=16),
    data_config=dict(PATCHES, batch_size=1000),
    run=RunConfig(epochs=1, log_every=5, threads=1),
    expect={"train/sklearn_cosine": (">=", 0.9999), "test/explained_variance": (">=", 0.6)},
))

register(Recipe(
    name="ica-patches", family="unsupervised", curriculum="G1",
    summary="FastICA (parallel, log-cosh) of 8x8 natural-image patches: localised, oriented basis functions and "
            "heavier-tailed codes than PCA's; matches scikit-learn's FastICA sources.",
    model="ica", method="fastica", data="image-patches",
    model_config=dict(n_components=COMPONENTS),
    # The whole training set is one batch: each step is one FastICA iteration, the run stops at convergence.
    data_config=dict(PATCHES, batch_size=PATCHES["n_train"]),
    run=RunConfig(steps=500, eval_every=1000, log_every=10, threads=1),
    expect={"train/sklearn_match": (">=", 0.999), "basis/spread": ("<=", 0.75)},
))

register(Recipe(
    name="sparse-coding-patches", family="unsupervised", curriculum="G1",
    summary="Olshausen-Field sparse coding (L1, FISTA inference, unit-norm dictionary) of whitened 8x8 natural-image "
            "patches: localised, oriented, Gabor-like atoms and far sparser codes than PCA's.",
    model="sparse-coding", method="sparse-coding", data="image-patches",
    model_config=dict(n_atoms=64, lam=0.5, n_iter=50),
    method_config=dict(lr=1.0, schedule="cosine", whiten=True, whiten_eps=0.03),
    data_config=dict(PATCHES, batch_size=256),
    run=RunConfig(steps=3000, eval_every=1000, log_every=100, threads=1),
    expect={"test/kurtosis": (">=", 20.0), "basis/spread": ("<=", 0.7)},
))

register(Recipe(
    name="cca-digits", family="unsupervised", curriculum="G1",
    summary="CCA of the top and bottom halves of scikit-learn's 8x8 digits (4 canonical pairs, Cholesky + SVD): "
            "canonical correlations agree with scikit-learn's CCA.",
    model="cca", method="cca", data="digits",
    model_config=dict(x_features=32, n_components=4),
    data_config=dict(batch_size=256, normalize="scale", image_size=8),
    run=RunConfig(epochs=1, log_every=1, threads=1),
    expect={"train/sklearn_corr_gap": ("<=", 0.01), "test/corr1": (">=", 0.9)},
))

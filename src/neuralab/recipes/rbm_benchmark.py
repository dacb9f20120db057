"""The RBM at scikit-learn's BernoulliRBM setting (curriculum E6), for `benchmarks/rbm_sklearn_peer.py`."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

# scikit-learn's BernoulliRBM(n_components=256, learning_rate=0.06, batch_size=20, n_iter=1): persistent CD-1 with
# one chain per batch example, plain SGD whose update is lr / batch_size times the summed statistics (lr times
# their mean, what torch's SGD does with cd_gradients' means), N(0, 0.01) weights and zero biases, on grey pixels
# in [0, 1] (not binarised), one pass over the 60k training images.
register(Recipe(
    name="rbm-sklearn-setting", family="energy", curriculum="E6",
    summary="Bernoulli RBM, 256 hidden units, persistent CD-1 with plain SGD (lr 0.06, batch 20) on grey MNIST for "
            "one epoch: scikit-learn's BernoulliRBM setting.",
    model="rbm", method="contrastive-divergence", data="mnist",
    model_config=dict(hidden=256, init_std=0.01),
    method_config=dict(k=1, persistent=True, optimizer="sgd", lr=0.06, binarize=False),
    data_config=dict(batch_size=20, normalize="scale"),
    run=RunConfig(epochs=1, log_every=100),
    expect={"test/recon_error": ("<=", 14.0)}, mode="min",
))

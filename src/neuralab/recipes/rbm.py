"""Restricted Boltzmann machines (curriculum E6): CD-1 and a CD-k schedule on MNIST (test log-likelihood by AIS with
`neuralab eval RUN --nll --samples 100`), a Gaussian-Bernoulli RBM on natural-image patches, and scikit-learn's
BernoulliRBM setting for `benchmarks/rbm_sklearn_peer.py`.

The MNIST recipes are CPU budgets of a few minutes; `--run.full` trains 100 epochs, nearer Salakhutdinov and
Murray's (2008) long runs (about -125 nats for CD-1 and -86 for CD-25 with 500 hidden units)."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

MNIST = dict(batch_size=100, normalize="scale")

register(Recipe(
    name="rbm-mnist", family="energy", curriculum="E6",
    summary="Bernoulli RBM, 784 visible and 500 hidden units, CD-1 on binarised MNIST for 15 epochs.",
    model="rbm", method="contrastive-divergence", data="mnist",
    model_config=dict(hidden=500),
    method_config=dict(k=1, lr=0.05, momentum=0.5, binarize=True),
    data_config=MNIST,
    run=RunConfig(epochs=15, log_every=100),
    expect={"test/recon_error": ("<=", 20.0)}, mode="min",
    full=dict(run=dict(epochs=100)),
))

register(Recipe(
    name="rbm-mnist-cdk", family="energy", curriculum="E6",
    summary="Bernoulli RBM, 784 visible and 500 hidden units, CD-k with k raised 1 -> 3 -> 10 -> 25 over the run "
            "(the notes' schedule) on binarised MNIST.",
    model="rbm", method="contrastive-divergence", data="mnist",
    model_config=dict(hidden=500),
    method_config=dict(k_schedule=(1, 3, 10, 25), lr=0.05, momentum=0.5, binarize=True),
    data_config=MNIST,
    run=RunConfig(epochs=3, log_every=100),
    expect={"test/recon_error": ("<=", 20.0)}, mode="min",
    full=dict(run=dict(epochs=100)),
))

register(Recipe(
    name="rbm-patches", family="energy", curriculum="E6",
    summary="Gaussian-Bernoulli sparse RBM, 128 hidden units, CD-1 on ZCA-whitened 8x8 natural-image patches scaled "
            "to 1.5 times the units' noise: localised, oriented, edge-like filters (the notes' Fig 4.17).",
    model="rbm", method="contrastive-divergence", data="image-patches",
    model_config=dict(hidden=128, visible="gaussian"),
    method_config=dict(k=1, lr=0.01, momentum=0.9, whiten="zca", whiten_eps=0.03, whiten_scale=1.5,
                       sparsity_target=0.02, sparsity_cost=1.0),
    data_config=dict(patch_size=8, n_train=20000, n_test=4000, batch_size=100),
    run=RunConfig(steps=80000, eval_every=10000, log_every=1000, threads=1),
    expect={"test/recon_error": ("<=", 35.0), "basis/spread": ("<=", 0.7)}, mode="min",
))

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

"""Autoencoder recipes (curriculum G2; notes 002 section 4.1): MNIST pixels scaled to [0, 1], reconstructed with
binary cross-entropy unless a recipe says otherwise."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

SCALED = dict(normalize="scale", batch_size=128)  # pixels / 255: targets of the bce loss
RUN = RunConfig(epochs=3, log_every=50)

register(Recipe(
    name="autoencoder-mnist", family="autoencoder", curriculum="G2",
    summary="Undercomplete MLP autoencoder 784-256-32-256-784 (ReLU, sigmoid output, bce) on MNIST.",
    model="mlp_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(hidden=(256,), code=32),
    data_config=SCALED, run=RUN,
    expect={"test/mse": ("<=", 0.012)},  # measured 0.0103 (seed 0, 1 thread, 53 s on a loaded 2-core machine)
    mode="min",
))

register(Recipe(
    name="conv-autoencoder-mnist", family="autoencoder", curriculum="G2",
    summary="Convolutional autoencoder: two stride-2 3x3 convolutions (16, 32 channels) to a 32-unit code, "
            "transposed convolutions back (Masci et al. 2011), on MNIST.",
    model="conv_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(channels=(16, 32), code=32),
    data_config=SCALED, run=RUN,
    expect={"test/mse": ("<=", 0.009)},  # measured 0.0073 (seed 0, 1 thread, 171 s on a loaded 2-core machine)
    mode="min",
))

register(Recipe(
    name="tied-autoencoder-mnist", family="autoencoder", curriculum="G2",
    summary="The autoencoder-mnist network with tied weights (each decoder layer uses its mirror's W^T): half the "
            "weights.",
    model="mlp_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(hidden=(256,), code=32, tied=True),
    data_config=SCALED, run=RUN,
    expect={"test/mse": ("<=", 0.0135)},  # measured 0.0116 (seed 0, 1 thread, 47 s on a loaded 2-core machine)
    mode="min",
))

register(Recipe(
    name="denoising-autoencoder-mnist", family="autoencoder", curriculum="G2",
    summary="Denoising autoencoder (Vincent et al. 2008): 30% of each digit's pixels masked to 0 at the input, the "
            "clean digit as the target; --method.noise gaussian adds Gaussian noise instead.",
    model="mlp_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(hidden=(256,), code=32),
    method_config=dict(noise="masking", noise_level=0.3),
    data_config=SCALED, run=RUN,
    expect={"test/denoised_mse": ("<=", 0.017)},  # measured 0.0150; masked inputs 0.0307 (seed 0, 71 s)
    mode="min",
))

register(Recipe(
    name="sparse-autoencoder-mnist", family="autoencoder", curriculum="G2",
    summary="Sparse autoencoder (Ng's notes): one layer of 196 sigmoid units, KL penalty pulling each unit's mean "
            "activation to rho = 0.05; --method.sparsity l1 penalises sum |h| instead.",
    model="mlp_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(hidden=(), code=196, code_activation="sigmoid"),
    method_config=dict(sparsity="kl", sparsity_weight=0.05, sparsity_target=0.05),
    data_config=SCALED, run=RUN,
    expect={"test/code_mean": ("<=", 0.08)},  # measured 0.0674 with test/mse 0.0442 (seed 0, 1 thread, 48 s)
    mode="min",
))

register(Recipe(
    name="stacked-autoencoder-mnist", family="autoencoder", curriculum="G2",
    summary="Stacked denoising autoencoder 784-256-64-16 (Vincent et al. 2010): each layer pre-trained greedily "
            "for 300 steps as a denoising autoencoder of the one below (masking 20%), then the whole stack "
            "fine-tuned for the remaining 1445 steps of 5 epochs.",
    model="mlp_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(hidden=(256, 64), code=16),
    method_config=dict(noise="masking", noise_level=0.2, pretrain_steps=300),
    data_config=SCALED, run=RunConfig(epochs=5, log_every=50),
    expect={"test/mse": ("<=", 0.024)},  # measured 0.0208 (seed 0, 1 thread, 79 s on a loaded 2-core machine)
    mode="min",
))

register(Recipe(
    name="autoencoder-2d-mnist", family="autoencoder", curriculum="G2",
    summary="A 2-unit bottleneck (784-512-128-2): the test digits' codes drawn as a map coloured by class.",
    model="mlp_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(hidden=(512, 128), code=2),
    data_config=SCALED, run=RUN,
    expect={"test/mse": ("<=", 0.047)},  # measured 0.0413 (seed 0, 1 thread, 108 s on a loaded 2-core machine)
    mode="min",
))

register(Recipe(
    name="anomaly-autoencoder-mnist", family="autoencoder", curriculum="G2",
    summary="Anomaly detection: the autoencoder-mnist network trained without any 8; its reconstruction error "
            "scores the test digits, and the ROC AUC says how well it tells the unseen 8s from the rest.",
    model="mlp_autoencoder", method="autoencoding", data="mnist",
    model_config=dict(hidden=(256,), code=32),
    method_config=dict(eval_size=0),
    data_config=dict(SCALED, exclude_class=8), run=RUN,
    expect={"test/anomaly_auc": (">=", 0.85)},  # measured 0.893 (seed 0, 1 thread, 55 s on a loaded 2-core machine)
))

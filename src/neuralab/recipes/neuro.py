"""Biological neurons and neural coding (curriculum E1-E2): the leaky integrate-and-fire neuron's f-I curve and a
tuned population's orientation tuning curves."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="lif-fi-curve", family="neuro", curriculum="E1",
    summary="f-I curve of a leaky integrate-and-fire neuron: 201 constant currents simulated 1 s each by forward "
            "Euler (dt 0.1 ms), rates by spike count against the exact LIF rate and rheobase.",
    model="lif", method="lif-simulation", data="currents",
    data_config=dict(protocol="steps", low=0.0, high=5.0, points=201, duration=1000.0, block=100.0),
    run=RunConfig(epochs=1, log_every=1),
    expect={"sim/rate_error": ("<=", 3.0), "sim/rheobase_error": ("<=", 0.026)}, mode="min",
))

register(Recipe(
    name="lif-tuning", family="neuro", curriculum="E1",
    summary="Orientation tuning curves of 8 LIF neurons with von Mises tuned input currents and white current "
            "noise: 36 orientations x 10 trials of 1 s, rates by spike count, raster and PSTH.",
    model="lif", method="lif-simulation", data="currents",
    method_config=dict(noise=1.0),
    data_config=dict(protocol="tuning", low=0.0, high=175.0, points=36, trials=10, neurons=8, baseline=1.0,
                     peak=3.0, kappa=2.0, duration=1000.0, block=100.0),
    run=RunConfig(epochs=1, log_every=1),
    expect={"sim/preferred_error": ("<=", 2.5)}, mode="min",
))

register(Recipe(
    name="receptive-fields-photos", family="neuro", curriculum="E2",
    summary="Difference-of-Gaussians and Gabor receptive fields on 32x32 patches of natural photos: response "
            "sparseness (excess kurtosis) against the pixels', Gabor orientation tuning, and the four-shapes codes.",
    model="receptive-fields", method="neural-coding", data="image-patches",
    data_config=dict(patch_size=32, n_train=2000, n_test=200, batch_size=100),
    run=RunConfig(epochs=1, log_every=5),
    expect={"rf/kurtosis_gabor": (">=", 10.0)},
))

register(Recipe(
    name="receptive-fields-mnist", family="neuro", curriculum="E2",
    summary="Difference-of-Gaussians and Gabor receptive fields on MNIST digits: filtered digits, response "
            "sparseness, Gabor orientation tuning, and the four-shapes codes.",
    model="receptive-fields", method="neural-coding", data="mnist",
    data_config=dict(normalize="scale", batch_size=500, train_limit=5000),
    run=RunConfig(epochs=1, log_every=5),
    expect={"rf/gabor_tuning_error": ("<=", 2.5)}, mode="min",
))

"""Hopfield networks (curriculum E4): one-shot Hebbian storage and recall of binarised digits and letters, spurious
states and simulated annealing on random patterns, and the storage capacity against the load P/N."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="hopfield-digits", family="energy", curriculum="E4",
    summary="Hopfield 1982: seven MNIST digit prototypes (16x16 = 256 units) stored by the one-shot Hebbian rule, "
            "recalled from copies with 20% of their bits flipped.",
    model="hopfield", method="hebbian-storage", data="binary-patterns",
    method_config=dict(corruption=0.2),
    data_config=dict(kind="digits", digits="0123689"),
    run=RunConfig(epochs=1, eval_every=1, log_every=1),
    expect={"test/recalled": (">=", 1.0)},
))

register(Recipe(
    name="hopfield-letters", family="energy", curriculum="E4",
    summary="Hopfield 1982: five bold capital letters (16x16 = 256 units) stored by the one-shot Hebbian rule, "
            "recalled from copies with 20% of their bits flipped.",
    model="hopfield", method="hebbian-storage", data="binary-patterns",
    method_config=dict(corruption=0.2),
    data_config=dict(kind="letters", letters="IMCWX"),
    run=RunConfig(epochs=1, eval_every=1, log_every=1),
    expect={"test/recalled": (">=", 1.0)},
))

register(Recipe(
    name="hopfield-annealing", family="energy", curriculum="E4",
    summary="Spurious states and simulated annealing: 5 random patterns in 200 units (load 0.025); zero-temperature "
            "recall from random states often ends in 3-mixtures, annealing from T=2 to 0.05 mostly in stored "
            "patterns or their negatives.",
    model="hopfield", method="hebbian-storage", data="binary-patterns",
    method_config=dict(corruption=0.3, random_starts=64, anneal_sweeps=40, anneal_start=2.0, anneal_end=0.05),
    data_config=dict(kind="random", count=5, size=14, batch_size=1),
    run=RunConfig(epochs=1, eval_every=1, log_every=1),
    expect={"annealed/retrieved": (">=", 0.95), "annealed/energy_drop": (">=", 0.02)},
))

register(Recipe(
    name="hopfield-capacity", family="energy", curriculum="E4",
    summary="Amit, Gutfreund and Sompolinsky 1985: overlap after asynchronous recall against the load P/N for N = "
            "100, 500 and 1000; the load where the mean overlap falls below 0.967 estimates alpha_c = 0.138.",
    model="hopfield", method="hopfield-capacity", data="load-grid",
    run=RunConfig(epochs=1, eval_every=21, log_every=1),
    expect={"capacity/alpha_c_error": ("<=", 0.02)}, mode="min",
))

"""Boltzmann machines (curriculum E5): Gibbs-sampled learning of a tiny distribution, checked exactly."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

register(Recipe(
    name="boltzmann-xor", family="energy", curriculum="E5",
    summary="A Boltzmann machine, 3 visible and 4 hidden units, learns the 2-bit XOR (000, 011, 101, 110) by "
            "Gibbs-sampled <x_i x_j>_clamped - <x_i x_j>_free; KL(P_data || P_model) is exact. Without hidden units "
            "it cannot: every pair of XOR's bits is independent, so the best pairwise model is uniform (KL log 2).",
    model="boltzmann-machine", method="boltzmann-learning", data="bit-patterns",
    model_config=dict(hidden=4, init_std=1.0),
    method_config=dict(optimizer="sgd", lr=0.2, schedule="cosine", clamped_sweeps=10, free_sweeps=5, chains=500),
    data_config=dict(patterns=("000", "011", "101", "110"), batch_size=100),
    run=RunConfig(steps=6000, eval_every=200, log_every=20),
    expect={"test/kl": ("<=", 0.1)}, mode="min",
))

"""Learning sanity of the GANs on the ring of 8 Gaussians: the non-saturating GAN spreads over several modes where a
deliberately collapsing setting does not, its discriminator ends near 1/2 on real and generated points, and a
conditional GAN's samples follow the label."""

from __future__ import annotations

import pytest

import neuralab

# Small players and a short run: about 10 s on one core. At 1500 steps the samples are spread over the ring but not
# yet gathered on its modes on every seed (1, 5, 0, 0 modes for seeds 0-3, 2026-12-01); at 4000 they cover 7, 4, 6,
# 7 of the 8, while the collapsing setting below covers none on any of them.
QUICK = {"run": {"steps": 4000, "eval_every": 4000, "log_every": 100, "threads": 1, "device": "cpu"},
         "model": {"g_hidden": (64, 64), "d_hidden": (64, 64), "latent_dim": 8},
         "data": {"n_train": 8192, "n_test": 2000, "batch_size": 128}}


def _train(tmp_path, name, **sections):
    overrides = {k: dict(v) for k, v in QUICK.items()}
    for section, fields in sections.items():
        overrides.setdefault(section, {}).update(fields)
    return neuralab.train("gan-ring-nonsaturating", overrides, out=tmp_path / name).metrics


@pytest.fixture(scope="module")
def non_saturating(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("gan"), "ns")


def test_non_saturating_gan_covers_several_modes_where_a_collapsing_setting_collapses(non_saturating, tmp_path):
    # Metz et al. 2017's setting for the standard GAN's collapse: a slow generator and a weak, slow discriminator.
    collapsing = _train(tmp_path, "collapsing", method={"lr_g": 1e-4, "lr_d": 1e-4}, model={"d_hidden": (16,)})
    assert non_saturating["test/modes"] >= 3, non_saturating  # 4-7 of 8 over seeds 0-3
    assert non_saturating["test/spread"] > 0.9, non_saturating  # samples as spread out as the ring
    # A blob that wanders between modes: near no mode and far from the data (MMD 0.42-1.29 over seeds 0-3, against
    # 0.001-0.008 for the non-saturating GAN). How wide the blob is depends on the seed (spread 0.26-0.94).
    assert collapsing["test/modes"] <= 1, collapsing
    assert collapsing["test/mmd"] > 10 * non_saturating["test/mmd"], (collapsing, non_saturating)


def test_the_discriminator_ends_near_one_half_on_real_and_generated_points(non_saturating):
    assert non_saturating["test/d_real"] == pytest.approx(0.5, abs=0.15)
    assert non_saturating["test/d_fake"] == pytest.approx(0.5, abs=0.15)
    assert non_saturating["train/d_real"] == pytest.approx(0.5, abs=0.15)


def test_a_conditional_gan_draws_near_the_requested_mode(tmp_path):
    metrics = _train(tmp_path, "conditional", model={"conditional": True})
    assert metrics["test/label_match"] > 0.8, metrics  # chance: 1/8

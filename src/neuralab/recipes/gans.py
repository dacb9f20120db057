"""Generative adversarial network recipes (curriculum G4; notes 002 section 4.11): the three losses on a ring of 8
Gaussians (mode collapse, modes covered, D(x) -> 1/2), and GAN, conditional GAN, DCGAN and WGAN-GP on MNIST."""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

# The ring: fully connected players of 2 x 128 units, a 2-D linear output, batch 256.
RING_MODEL = dict(latent_dim=16, g_hidden=(128, 128), d_hidden=(128, 128), output="linear")
RING_RUN = RunConfig(steps=3000, log_every=50, eval_every=500, threads=1)

register(Recipe(
    name="gan-ring-minimax", family="gan", curriculum="G4",
    summary="GAN with the minimax generator loss log(1 - D(G(z))) on 8 Gaussians on a ring: modes covered of 8.",
    model="mlp-gan", method="adversarial", data="gaussian-ring", model_config=RING_MODEL,
    method_config=dict(loss="minimax", lr_g=1e-3, lr_d=1e-3), run=RING_RUN,
    expect={"test/modes": (">=", 1)},
))

register(Recipe(
    name="gan-ring-nonsaturating", family="gan", curriculum="G4",
    summary="GAN with the non-saturating generator loss -log D(G(z)) on 8 Gaussians on a ring: modes covered of 8, "
            "D(x) on real and generated points near 1/2.",
    model="mlp-gan", method="adversarial", data="gaussian-ring", model_config=RING_MODEL,
    method_config=dict(loss="non_saturating", lr_g=1e-3, lr_d=1e-3), run=RING_RUN,
    expect={"test/modes": (">=", 1)},
))

register(Recipe(
    name="wgan-gp-ring", family="gan", curriculum="G4",
    summary="WGAN-GP (critic, gradient penalty 10, 5 critic steps per generator step, Adam 1e-4 betas (0, 0.9)) on "
            "8 Gaussians on a ring: modes covered of 8.",
    model="mlp-gan", method="adversarial", data="gaussian-ring", model_config=RING_MODEL,
    method_config=dict(loss="wgan_gp", d_steps=5, gp_weight=10.0, lr_g=1e-4, lr_d=1e-4, beta1=0.0, beta2=0.9),
    run=RING_RUN,
    expect={"test/modes": (">=", 1)},
))

"""Image-to-image translation recipes (curriculum G4): Pix2Pix from edge maps to Fashion-MNIST items against the same
U-Net trained on L1 alone (Isola et al. 2017, Fig. 4), and CycleGAN between MNIST digits and their thickened versions
learnt from two disjoint halves of the training set, never from pairs (Zhu et al. 2017).

Each trains in a few minutes on 2 CPU cores: a U-Net of width 32 and depth 3 (28 -> 4 pixels) and PatchGANs of
16x16 patches instead of the papers' 256x256 images, width 64 and 70x70 patches.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

EDGES_RUN = RunConfig(steps=1500, eval_every=500, log_every=50, threads=1)

register(Recipe(
    name="pix2pix-fashion-edges", family="gan", curriculum="G4",
    summary="Pix2Pix (U-Net generator + PatchGAN discriminator, cGAN + 100 L1) from Sobel edge maps to "
            "Fashion-MNIST items; L1 and sharpness on held-out pairs.",
    model="unet", method="pix2pix", data="fashion-edges",
    model_config=dict(width=16), method_config=dict(d_width=16), data_config=dict(batch_size=32), run=EDGES_RUN,
    expect={"test/l1": ("<=", 0.2)},
    mode="min",
))

register(Recipe(
    name="unet-l1-fashion-edges", family="gan", curriculum="G4",
    summary="The Pix2Pix baseline: the same U-Net from edge maps to Fashion-MNIST items on the L1 loss alone (no "
            "discriminator); blurrier than pix2pix-fashion-edges.",
    model="unet", method="pix2pix", data="fashion-edges",
    model_config=dict(width=16), method_config=dict(gan_weight=0.0), data_config=dict(batch_size=32),
    run=EDGES_RUN,
    expect={"test/l1": ("<=", 0.2)},
    mode="min",
))

register(Recipe(
    name="cyclegan-mnist-thick", family="gan", curriculum="G4",
    summary="CycleGAN (two U-Net generators, two PatchGANs, least-squares GAN + 10 cycle L1) between MNIST digits "
            "and thickened digits from disjoint halves of the training set; L1 to the true thickened test digits.",
    model="unet", method="cyclegan", data="mnist-unpaired", method_config=dict(d_width=16),
    model_config=dict(width=16, norm="instance"), data_config=dict(batch_size=16),
    run=RunConfig(steps=1500, eval_every=500, log_every=50, threads=1),
    expect={"test/l1": ("<=", 0.2)},
    mode="min",
))

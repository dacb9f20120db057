"""Pix2Pix: a conditional GAN for paired image-to-image translation (Isola, Zhu, Zhou, Efros, "Image-to-image
translation with conditional adversarial networks", 2017; curriculum G4).

The recipe's model is the generator G (a U-Net, `neuralab.models.gans.unet`); this method builds the PatchGAN
discriminator D (`neuralab.models.gans.patchgan`), which scores each patch of an (input, image) pair, the two
concatenated along channels. One step updates both players with their own Adam optimisers (lr 2e-4, beta1 0.5):

    D: minimise 1/2 [BCE(D(x, y), 1) + BCE(D(x, G(x)), 0)]           (the paper halves D's objective)
    G: minimise BCE(D(x, G(x)), 1) + l1_weight |G(x) - y|_1            (non-saturating GAN loss + L1, lambda 100)

With `gan_weight` 0 there is no discriminator: G regresses on the L1 loss alone, the paper's baseline whose outputs
are blurry (Fig. 4), the conditional mean of the plausible images. Pixels are in [0, 1], not the paper's [-1, 1],
so its lambda 100 weighs L1 twice as much against the GAN term here as there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.methods.image_translation import ImageTranslation, ImageTranslationConfig
from neuralab.methods.optim import descend, make_schedule
from neuralab.models.gans.patchgan import PatchGAN
from neuralab.models.gans.unet import NORMS
from neuralab.registry import register_method


@dataclass(frozen=True)
class Pix2PixConfig(ImageTranslationConfig):
    l1_weight: float = field(100.0, "lambda: weight of the L1 distance to the target in G's loss (the paper: 100).",
                             ge=0)
    gan_weight: float = field(1.0, "Weight of the adversarial term in G's loss; 0: no discriminator, L1 alone (the "
                                   "paper's baseline).", ge=0)
    d_norm: str = field("batch", "Normalisation in the discriminator.", choices=NORMS)


def _ones(logits: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(logits)


@register_method("pix2pix", config=Pix2PixConfig)
class Pix2Pix(ImageTranslation):
    def __init__(self, cfg: Pix2PixConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        super().__init__(cfg, data, ctx)
        self.generator = model
        self.generator_name = "Pix2Pix (U-Net + PatchGAN)" if cfg.gan_weight else "U-Net, L1 alone"
        self.g_params = [p for p in model.parameters() if p.requires_grad]
        self.g_optimizer = torch.optim.Adam(self.g_params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.g_schedule = make_schedule(cfg.schedule, self.g_optimizer, ctx.total_steps)
        self.discriminator = None
        if cfg.gan_weight:
            pair_channels = data.meta.input_shape[0] + data.meta.target_shape[0]  # D reads (input, image)
            self.discriminator = ctx.prepare(PatchGAN(pair_channels, cfg.d_width, cfg.d_layers, cfg.d_norm))
            self.d_params = list(self.discriminator.parameters())
            self.d_optimizer = torch.optim.Adam(self.d_params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
            self.d_schedule = make_schedule(cfg.schedule, self.d_optimizer, ctx.total_steps)

    def _d(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.discriminator(torch.cat([x, image], dim=1))  # (B, 1, H', W') logits, one per patch

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, y = batch
        self.generator.train()
        metrics: dict[str, Any] = {}
        with self.ctx.autocast():
            fake = self.generator(x)
        g_loss = torch.zeros((), device=x.device)
        if self.discriminator is not None:
            self.discriminator.train()
            self.discriminator.requires_grad_(True)
            with self.ctx.autocast():
                real_logits, fake_logits = self._d(x, y), self._d(x, fake.detach())
                d_loss = 0.5 * (F.binary_cross_entropy_with_logits(real_logits, _ones(real_logits))
                                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
            descend(d_loss, self.d_optimizer, self.d_params, 0.0, self.d_schedule)
            self.discriminator.requires_grad_(False)  # G's step needs gradients through D, not for it
            with self.ctx.autocast():
                logits = self._d(x, fake)
                g_gan = F.binary_cross_entropy_with_logits(logits, _ones(logits))
            g_loss = self.cfg.gan_weight * g_gan
            metrics.update({"train/d_loss": d_loss.item(), "train/g_gan": g_gan.item(),
                            "train/d_real": torch.sigmoid(real_logits.detach().float()).mean().item(),
                            "train/d_fake": torch.sigmoid(fake_logits.detach().float()).mean().item()})
        l1 = (fake.float() - y).abs().mean()
        descend(g_loss + self.cfg.l1_weight * l1, self.g_optimizer, self.g_params, 0.0, self.g_schedule)
        self.steps += 1
        metrics["train/l1"] = l1.item()
        return metrics

    @torch.no_grad()
    def translate_images(self, x: torch.Tensor) -> torch.Tensor:
        was_training = self.generator.training
        self.generator.eval()
        with self.ctx.autocast():
            out = self.generator(x).float()
        self.generator.train(was_training)
        return out

    @torch.no_grad()
    def discriminator_scores(self, x: torch.Tensor, target: torch.Tensor, output: torch.Tensor) -> dict[str, float]:
        """D's mean probability of "real" for the true pairs and for the translated ones (none without a D)."""
        if self.discriminator is None:
            return {}
        was_training = self.discriminator.training
        self.discriminator.eval()
        with self.ctx.autocast():
            real, fake = self._d(x, target).float(), self._d(x, output).float()
        self.discriminator.train(was_training)
        return {"d_real": torch.sigmoid(real).mean(), "d_fake": torch.sigmoid(fake).mean()}

    def state_dict(self) -> dict[str, Any]:
        state = {"model": self.generator.state_dict(), "g_optimizer": self.g_optimizer.state_dict(),
                 "steps": self.steps, "kept": dict(self.kept)}
        if self.g_schedule is not None:
            state["g_schedule"] = self.g_schedule.state_dict()
        if self.discriminator is not None:
            state.update(discriminator=self.discriminator.state_dict(), d_optimizer=self.d_optimizer.state_dict())
            if self.d_schedule is not None:
                state["d_schedule"] = self.d_schedule.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["model"])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        if self.g_schedule is not None:
            self.g_schedule.load_state_dict(state["g_schedule"])
        if self.discriminator is not None:
            self.discriminator.load_state_dict(state["discriminator"])
            self.d_optimizer.load_state_dict(state["d_optimizer"])
            if self.d_schedule is not None:
                self.d_schedule.load_state_dict(state["d_schedule"])
        self.steps = int(state["steps"])
        self.kept = {key: value.cpu() for key, value in state["kept"].items()}

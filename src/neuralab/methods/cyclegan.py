"""CycleGAN: unpaired image-to-image translation with cycle consistency (Zhu, Park, Isola, Efros, "Unpaired
image-to-image translation using cycle-consistent adversarial networks", 2017; curriculum G4).

The recipe's model is the generator G: A -> B; this method builds a second one of the same kind, F: B -> A, and two
PatchGAN discriminators, D_B (real B vs G(a)) and D_A (real A vs F(b)). A batch is (a, b): images of the two
domains that are not pairs. One step updates the generators together, then the discriminators together, each pair
with its own Adam optimiser (lr 2e-4, beta1 0.5), on the least-squares GAN loss (Mao et al. 2017) the paper uses:

    G, F: minimise (D_B(G(a)) - 1)^2 + (D_A(F(b)) - 1)^2
                   + cycle_weight (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)                  (cycle consistency, lambda 10)
                   + identity_weight cycle_weight (|G(b) - b|_1 + |F(a) - a|_1)         (optional identity loss)
    D_B: minimise 1/2 [(D_B(b) - 1)^2 + D_B(G(a)')^2], D_A likewise,

where G(a)' comes from a history of `pool_size` earlier translations (Shrivastava et al. 2017): half the time the
discriminator sees an older output, so it does not chase the generators' latest move.
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
from neuralab.registry import MODELS, register_method


@dataclass(frozen=True)
class CycleGANConfig(ImageTranslationConfig):
    cycle_weight: float = field(10.0, "lambda: weight of the cycle-consistency L1 terms (the paper: 10).", ge=0)
    identity_weight: float = field(0.0, "Weight of the identity terms |G(b) - b| + |F(a) - a|, as a fraction of "
                                        "cycle_weight (the paper: 0.5 for paintings <-> photos; 0: none).", ge=0)
    pool_size: int = field(50, "Earlier translations each discriminator may be shown instead of the newest (the "
                               "paper: 50; 0: always the newest).", ge=0)
    d_norm: str = field("instance", "Normalisation in the discriminators (the paper: instance).", choices=NORMS)


class ImagePool:
    """The last `size` generated images; `query` returns a batch for the discriminator in which each image is, with
    probability 1/2 once the pool is full, swapped for a stored older one (the global torch RNG decides, so a resumed
    run decides the same)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.images: torch.Tensor | None = None  # (count, C, H, W)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        images = images.detach()
        out = []
        coins, slots = torch.rand(len(images)), torch.randint(self.size, (len(images),))
        for image, coin, slot in zip(images, coins.tolist(), slots.tolist(), strict=True):
            count = 0 if self.images is None else len(self.images)
            if count < self.size:
                self.images = image[None] if self.images is None else torch.cat([self.images, image[None]])
                out.append(image)
            elif coin < 0.5:
                out.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        return {} if self.images is None else {"images": self.images}

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.images = state["images"].to(device) if "images" in state else None


def _lsgan(scores: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(scores.float(), torch.full_like(scores.float(), target))


@register_method("cyclegan", config=CycleGANConfig)
class CycleGAN(ImageTranslation):
    generator_name = "CycleGAN's G: A -> B"

    def __init__(self, cfg: CycleGANConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        super().__init__(cfg, data, ctx)
        self.g_ab = model
        self.g_ba = ctx.prepare(MODELS.get(ctx.model_name).cls(ctx.model_config))  # F: B -> A, the same architecture
        channels_a, channels_b = data.meta.input_shape[0], data.meta.target_shape[0]
        self.d_a = ctx.prepare(PatchGAN(channels_a, cfg.d_width, cfg.d_layers, cfg.d_norm))
        self.d_b = ctx.prepare(PatchGAN(channels_b, cfg.d_width, cfg.d_layers, cfg.d_norm))
        self.g_params = [p for net in (self.g_ab, self.g_ba) for p in net.parameters() if p.requires_grad]
        self.d_params = [*self.d_a.parameters(), *self.d_b.parameters()]
        betas = (cfg.beta1, cfg.beta2)
        self.g_optimizer = torch.optim.Adam(self.g_params, lr=cfg.lr, betas=betas)
        self.d_optimizer = torch.optim.Adam(self.d_params, lr=cfg.lr, betas=betas)
        self.g_schedule = make_schedule(cfg.schedule, self.g_optimizer, ctx.total_steps)
        self.d_schedule = make_schedule(cfg.schedule, self.d_optimizer, ctx.total_steps)
        self.pools = {"a": ImagePool(cfg.pool_size), "b": ImagePool(cfg.pool_size)}

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        a, b = batch
        for net in (self.g_ab, self.g_ba, self.d_a, self.d_b):
            net.train()
        cfg = self.cfg
        self.d_a.requires_grad_(False)
        self.d_b.requires_grad_(False)  # the generators' step needs gradients through the Ds, not for them
        with self.ctx.autocast():
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
            adversarial = _lsgan(self.d_b(fake_b), 1.0) + _lsgan(self.d_a(fake_a), 1.0)
            cycle = (self.g_ba(fake_b).float() - a).abs().mean() + (self.g_ab(fake_a).float() - b).abs().mean()
            g_loss = adversarial + cfg.cycle_weight * cycle
            if cfg.identity_weight:
                identity = (self.g_ab(b).float() - b).abs().mean() + (self.g_ba(a).float() - a).abs().mean()
                g_loss = g_loss + cfg.identity_weight * cfg.cycle_weight * identity
        descend(g_loss, self.g_optimizer, self.g_params, 0.0, self.g_schedule)

        self.d_a.requires_grad_(True)
        self.d_b.requires_grad_(True)
        shown_b, shown_a = self.pools["b"].query(fake_b), self.pools["a"].query(fake_a)
        with self.ctx.autocast():
            real_b, real_a = self.d_b(b), self.d_a(a)
            d_b_loss = 0.5 * (_lsgan(real_b, 1.0) + _lsgan(self.d_b(shown_b), 0.0))
            d_a_loss = 0.5 * (_lsgan(real_a, 1.0) + _lsgan(self.d_a(shown_a), 0.0))
        descend(d_a_loss + d_b_loss, self.d_optimizer, self.d_params, 0.0, self.d_schedule)
        self.steps += 1
        return {"train/g_adversarial": adversarial.item(), "train/cycle_l1": cycle.item(),
                "train/d_a_loss": d_a_loss.item(), "train/d_b_loss": d_b_loss.item(),
                "train/d_b_real": real_b.detach().float().mean().item()}

    @torch.no_grad()
    def _eval(self, net: nn.Module, x: torch.Tensor) -> torch.Tensor:
        was_training = net.training
        net.eval()
        with self.ctx.autocast():
            out = net(x).float()
        net.train(was_training)
        return out

    def translate_images(self, x: torch.Tensor) -> torch.Tensor:
        return self._eval(self.g_ab, x)

    def discriminator_scores(self, x: torch.Tensor, target: torch.Tensor, output: torch.Tensor) -> dict[str, float]:
        """D_B's mean least-squares score (1: real, 0: fake) of the true B images and of G's translations."""
        return {"d_b_real": self._eval(self.d_b, target).mean(), "d_b_fake": self._eval(self.d_b, output).mean()}

    def extra_metrics(self, x: torch.Tensor, target: torch.Tensor, output: torch.Tensor) -> dict[str, float]:
        """The cycle error |F(G(a)) - a| and the backward translation's error |F(b) - a| against the true digit."""
        return {"cycle_l1": (self._eval(self.g_ba, output) - x).abs().mean(),
                "l1_back": (self._eval(self.g_ba, target) - x).abs().mean()}

    def state_dict(self) -> dict[str, Any]:
        state = {"model": self.g_ab.state_dict(), "g_ba": self.g_ba.state_dict(), "d_a": self.d_a.state_dict(),
                 "d_b": self.d_b.state_dict(), "g_optimizer": self.g_optimizer.state_dict(),
                 "d_optimizer": self.d_optimizer.state_dict(), "steps": self.steps, "kept": dict(self.kept),
                 "pools": {name: pool.state_dict() for name, pool in self.pools.items()}}
        if self.g_schedule is not None:
            state.update(g_schedule=self.g_schedule.state_dict(), d_schedule=self.d_schedule.state_dict())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g_ab.load_state_dict(state["model"])
        for name in ("g_ba", "d_a", "d_b"):
            getattr(self, name).load_state_dict(state[name])
        self.g_optimizer.load_state_dict(state["g_optimizer"])
        self.d_optimizer.load_state_dict(state["d_optimizer"])
        if self.g_schedule is not None:
            self.g_schedule.load_state_dict(state["g_schedule"])
            self.d_schedule.load_state_dict(state["d_schedule"])
        for name, pool in self.pools.items():
            pool.load_state_dict(state["pools"][name], self.ctx.device)
        self.steps = int(state["steps"])
        self.kept = {key: value.cpu() for key, value in state["kept"].items()}

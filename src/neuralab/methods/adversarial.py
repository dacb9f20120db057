"""Adversarial training of a generator G against a discriminator D (Goodfellow et al., "Generative adversarial
nets", 2014; notes 002 section 4.11), with the Wasserstein critic and gradient penalty of Gulrajani et al.,
"Improved training of Wasserstein GANs", 2017.

The game is min_G max_D E_x[log D(x)] + E_z[log(1 - D(G(z)))]. One `step` runs both players: `d_steps` (the
paper's k) updates of D, each on a fresh real batch and fresh noise, then one update of G, each player with its own
Adam optimiser. D's loss is the game's negated value, -[log D(x) + log(1 - D(G(z)))] (binary cross-entropy on its
logits). G's loss is, by `loss`:

- minimax: log(1 - D(G(z))), the game itself; it saturates when D rejects the samples confidently (early on), so
  G learns slowly or not at all;
- non_saturating: -log D(G(z)), the paper's practical fix: the same fixed point, strong gradients early on;
- wgan_gp: D is a critic with unbounded scores; critic loss D(G(z)) - D(x) + gp_weight (||grad D(x_hat)|| - 1)^2
  at random points x_hat between real and generated examples, generator loss -D(G(z)) (the paper: gp_weight 10,
  d_steps 5, Adam 1e-4 with betas (0, 0.9)).

The model is one module with `generator` (latent code [, label] -> sample) and `discriminator` (sample [, label]
-> logit), `latent_dim` and `conditional` (mlp-gan, dcgan). A conditional discriminator sees fakes of the real
batch's classes; the generator's own step draws its labels uniformly. Image pixels in [0, 1] (`--data.normalize
scale`) are mapped to [-1, 1] for a tanh generator; points (feature rows) are used as they are. Training noise
comes from torch's global generator, which the engine saves; evaluation and `draw` noise from generators of their
own, so evaluating moves nothing and the samples written at each evaluation come from the same fixed noise (Radford
et al. 2016).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods import gan_metrics
from neuralab.methods.optim import descend
from neuralab.registry import register_method

LOSSES = ("minimax", "non_saturating", "wgan_gp")
EVAL_SEED = 4242  # the fixed evaluation noise: the same at every evaluation of a run
PATH_STEPS = 8  # images per latent interpolation path
CHUNK = 1000  # examples per forward pass when evaluating


@dataclass(frozen=True)
class AdversarialConfig:
    loss: str = field("non_saturating", "minimax (G minimises log(1 - D(G(z)))), non_saturating (G minimises "
                                        "-log D(G(z))) or wgan_gp (critic with gradient penalty).", choices=LOSSES)
    d_steps: int = field(1, "Discriminator updates per generator update (the paper's k; WGAN-GP's n_critic 5), each "
                            "on a new real batch.", ge=1)
    gp_weight: float = field(10.0, "Weight of the gradient penalty (wgan_gp only; the paper's lambda 10).", ge=0)
    lr_g: float = field(2e-4, "Adam learning rate of the generator.", gt=0)
    lr_d: float = field(2e-4, "Adam learning rate of the discriminator.", gt=0)
    beta1: float = field(0.5, "Adam beta1 of both players (DCGAN: 0.5; WGAN-GP: 0).", ge=0, le=0.999)
    beta2: float = field(0.999, "Adam beta2 of both players (WGAN-GP: 0.9).", ge=0, le=0.9999)
    eval_samples: int = field(1000, "Samples drawn from the fixed evaluation noise at each evaluation.", ge=10)
    grid: int = field(64, "Images in the sample grid written at each evaluation (RUN_DIR/samples).", ge=1)
    quality_std: float = field(3.0, "Points data: a sample within this many standard deviations of the nearest "
                                    "mode's centre is of high quality.", gt=0)
    cover_fraction: float = field(0.2, "Points data: a mode is covered when it gets at least this fraction of its "
                                       "fair share (samples / modes) of high-quality samples.", gt=0, le=1)


def d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss from its logits: -mean log D(x) - mean log(1 - D(G(z)))."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()  # -log sigmoid(l) = softplus(-l)


def g_loss(fake: torch.Tensor, loss: str) -> torch.Tensor:
    """The generator's loss from D's logits (or the critic's scores) on its samples."""
    if loss == "minimax":
        return -F.softplus(fake).mean()  # mean log(1 - D(G(z))), with log(1 - sigmoid(l)) = -softplus(l)
    if loss == "non_saturating":
        return F.softplus(-fake).mean()  # -mean log D(G(z))
    return -fake.mean()


def critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The Wasserstein critic's loss: mean D(G(z)) - mean D(x) (the negated distance estimate)."""
    return fake.mean() - real.mean()


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor,
                     *conditions: torch.Tensor) -> torch.Tensor:
    """mean (||grad_x D(x_hat)||_2 - 1)^2 at x_hat = eps x + (1 - eps) G(z), with eps (B,) one per example; the
    graph is kept so the penalty trains the critic."""
    eps = eps.view(-1, *([1] * (real.dim() - 1)))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat, *conditions).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def _plain(net: nn.Module) -> nn.Module:
    return getattr(net, "module", net)


@register_method("adversarial", config=AdversarialConfig)
class Adversarial(Method):
    def __init__(self, cfg: AdversarialConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        plain = _plain(model)
        if not (hasattr(plain, "generator") and hasattr(plain, "discriminator")):
            raise UserError(f"the adversarial method trains a GAN (a model with a generator and a discriminator, "
                            f"e.g. mlp-gan or dcgan), not {type(plain).__name__}")
        self.cfg, self.model, self.data, self.ctx = cfg, plain, data, ctx
        meta = data.meta
        self.images = meta.kind == "images"
        if self.images and (meta.mean, meta.std) != (0.0, 1.0):
            raise UserError("a GAN learns pixels in [0, 1] (mapped to the generator's tanh range [-1, 1]); train on "
                            "--data.normalize scale")
        self.shape = tuple(meta.input_shape)
        self.G, self.D = ctx.prepare(plain.generator), ctx.prepare(plain.discriminator)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas)
        self.g_params, self.d_params = list(self.G.parameters()), list(self.D.parameters())
        self.g_updates = self.d_updates = 0
        # Points are drawn in a fixed window around the training data; kept in the state, as predicting and
        # sampling rebuild the run without its data.
        self.extent = float(data.x_train.abs().max()) * 1.15 if not self.images else 1.0
        self._reference: dict[str, Any] | None = None

    # --- the two players ---------------------------------------------------------------------------------------
    def _conditions(self, labels: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        return (labels,) if self.model.conditional else ()

    def _fake_labels(self, n: int) -> torch.Tensor | None:
        if not self.model.conditional:
            return None
        return torch.randint(self.model.num_classes, (n,), device=self.ctx.device)

    def _generate(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G's samples in the data's shape (B, *input_shape), in the model's range ([-1, 1] for images)."""
        return self.G(z, *self._conditions(labels)).view(len(z), *self.shape)

    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1 if self.images else x

    def _to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + 1) / 2).clamp(0, 1)

    def _next_real(self) -> tuple[torch.Tensor, torch.Tensor]:
        batch = self.data.next_batch()
        return batch if self.ctx.procs is None else self.ctx.procs.shard(batch)

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        self.G.train(), self.D.train()
        metrics: dict[str, Any] = {}
        for i in range(self.cfg.d_steps):
            x, y = batch if i == 0 else self._next_real()
            real = self._to_model(x)
            z = torch.randn(len(x), self.model.latent_dim, device=self.ctx.device)
            condition = self._conditions(y)  # a conditional D sees fakes of the real batch's classes
            with self.ctx.autocast():
                with torch.no_grad():
                    fake = self._generate(z, y)
                real_out = self.D(real, *condition).float()
                fake_out = self.D(fake, *condition).float()
                if self.cfg.loss == "wgan_gp":
                    eps = torch.rand(len(x), device=self.ctx.device)
                    penalty = gradient_penalty(self.D, real, fake, eps, *condition)
                    loss = critic_loss(real_out, fake_out) + self.cfg.gp_weight * penalty
                else:
                    loss = d_loss(real_out, fake_out)
            descend(loss, self.opt_d, self.d_params, 0.0, None)
            self.d_updates += 1
        real_out, fake_out = real_out.detach(), fake_out.detach()  # D's outputs before its last update
        if self.cfg.loss == "wgan_gp":
            metrics.update({"train/wasserstein": float(real_out.mean() - fake_out.mean()),
                            "train/gp": float(penalty.detach())})
        else:
            metrics.update({"train/d_real": float(torch.sigmoid(real_out).mean()),
                            "train/d_fake": float(torch.sigmoid(fake_out).mean())})
        metrics["train/loss_d"] = float(loss.detach())
        z = torch.randn(len(x), self.model.latent_dim, device=self.ctx.device)
        labels = self._fake_labels(len(x))
        with self.ctx.autocast():
            loss_g = g_loss(self.D(self._generate(z, labels), *self._conditions(labels)).float(), self.cfg.loss)
        descend(loss_g, self.opt_g, self.g_params, 0.0, None)  # D's gradients from this pass are cleared before use
        self.g_updates += 1
        metrics["train/loss_g"] = float(loss_g.detach())
        return metrics

    # --- evaluation ---------------------------------------------------------------------------------------------
    def _noise(self, n: int, seed: int) -> tuple[torch.Tensor, torch.Generator]:
        gen = torch.Generator(device=self.ctx.device).manual_seed(seed)
        return torch.randn(n, self.model.latent_dim, generator=gen, device=self.ctx.device), gen

    @torch.no_grad()
    def _samples(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """G's samples (model range) for every code, in evaluation mode, a chunk at a time."""
        self.G.eval()
        parts = [self._generate(z[i:i + CHUNK], None if labels is None else labels[i:i + CHUNK])
                 for i in range(0, len(z), CHUNK)]
        return torch.cat(parts)

    @torch.no_grad()
    def _scores(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        self.D.eval()
        return torch.cat([self.D(x[i:i + CHUNK], *self._conditions(None if labels is None else labels[i:i + CHUNK]))
                          for i in range(0, len(x), CHUNK)]).float()

    def _eval_draw(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The fixed evaluation samples and their labels (classes in turn for a conditional model)."""
        z, _ = self._noise(self.cfg.eval_samples, self.ctx.seed + EVAL_SEED)
        labels = (torch.arange(len(z), device=z.device) % self.model.num_classes if self.model.conditional
                  else None)
        return self._samples(z, labels), labels

    def _test(self) -> dict[str, Any]:
        """Held-out examples (at most eval_samples) in the model's range, the class centres and spreads of the
        whole test split, and the kernel bandwidth: computed once."""
        if self._reference is None:
            x, y = self.data.x_test, self.data.y_test
            keep = min(len(x), self.cfg.eval_samples)
            real = self._to_model(x[:keep])
            modes = gan_metrics.Modes.of(self._to_model(x), y, self.data.meta.num_classes) \
                if self.data.meta.num_classes else None
            self._reference = {"x": real, "y": y[:keep], "modes": modes,
                               "bandwidth": gan_metrics.median_distance(real), "spread": gan_metrics.spread(real)}
        return self._reference

    def evaluate(self) -> dict[str, Any]:
        fake, labels = self._eval_draw()
        ref = self._test()
        real_out, fake_out = self._scores(ref["x"], ref["y"]), self._scores(fake, labels)
        if self.cfg.loss == "wgan_gp":
            metrics = {"test/wasserstein": float(real_out.mean() - fake_out.mean())}
        else:
            metrics = {"test/d_real": float(torch.sigmoid(real_out).mean()),
                       "test/d_fake": float(torch.sigmoid(fake_out).mean())}
        metrics["test/mmd"] = gan_metrics.mmd2(fake, ref["x"], ref["bandwidth"])
        metrics["test/spread"] = gan_metrics.spread(fake) / ref["spread"]
        modes = ref["modes"]
        if modes is not None and not self.images:
            counts, quality = gan_metrics.mode_counts(fake, modes, self.cfg.quality_std)
            metrics["test/modes"] = gan_metrics.modes_covered(counts, len(fake), self.cfg.cover_fraction)
            metrics["test/high_quality"] = quality
        if modes is not None and self.model.conditional:
            metrics["test/label_match"] = gan_metrics.label_match(fake, labels, modes)
            metrics["test/label_match_real"] = gan_metrics.label_match(ref["x"], ref["y"], modes)
        self.ctx.write_samples(self.g_updates, self._picture(fake[:self.cfg.grid] if self.images else fake,
                                                             nrow=self.model.num_classes if self.model.conditional
                                                             else 8))
        return metrics

    def _picture(self, samples: torch.Tensor, nrow: int, notes: list[str] | None = None) -> Drawn:
        """Samples (model range) as a drawing: images in [0, 1], or points rastered into one image."""
        from neuralab.viz.gan import raster_points

        if self.images:
            return Drawn(self._to_pixels(samples).float().cpu(), nrow, notes or [])
        if samples.shape[1] != 2:
            raise UserError(f"this GAN generates points of {samples.shape[1]} features; only 2-D points or images "
                            "can be drawn")
        return Drawn(raster_points(samples, self.extent), 1, notes or [])

    # --- drawing ------------------------------------------------------------------------------------------------
    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        conditional, k = self.model.conditional, self.model.num_classes
        if label is not None and not conditional:
            raise UserError(f"--label {label}: this run's GAN is unconditional; leave out --label (a conditional "
                            "GAN such as cgan-mnist draws a requested class)")
        if label is not None and not 0 <= label < k:
            raise UserError(f"--label {label}: this run's classes are 0..{k - 1}")
        notes: list[str] = []
        if interpolate:
            paths = max(1, round(n / PATH_STEPS))
            if paths * PATH_STEPS != n:
                notes.append(f"--n {n}: drew {paths} path(s) of {PATH_STEPS} steps")
            ends, gen = self._noise(2 * paths, seed)
            t = torch.linspace(0, 1, PATH_STEPS, device=ends.device).view(1, -1, 1)
            z = (ends[:paths, None] * (1 - t) + ends[paths:, None] * t).reshape(-1, ends.shape[1])
            per_path = (torch.full((paths,), label, device=z.device) if label is not None else
                        torch.randint(k, (paths,), generator=gen, device=z.device) if conditional else None)
            labels = None if per_path is None else per_path.repeat_interleave(PATH_STEPS)
            nrow = PATH_STEPS
        else:
            z, _ = self._noise(n, seed)
            labels = (torch.full((n,), label, device=z.device) if label is not None else
                      torch.arange(n, device=z.device) % k if conditional else None)
            nrow = k if conditional and label is None else max(1, round(n ** 0.5))
            if conditional and label is None:
                notes.append(f"no --label: column k holds class k (0..{k - 1})")
        return self._picture(self._samples(z, labels), nrow, notes)

    # --- figures and report -------------------------------------------------------------------------------------
    def plot(self, plots_dir: Path) -> list[Path]:
        from neuralab.viz import gan as figures
        from neuralab.viz.grid import save_grid

        paths = []
        if self.ctx.run_dir is not None:
            keys, ref, ylabel = (("train/wasserstein", "test/wasserstein"), None, "critic's distance estimate") \
                if self.cfg.loss == "wgan_gp" else \
                (("train/d_real", "train/d_fake", "test/d_real", "test/d_fake"), 0.5, "mean D(x)")
            path = figures.plot_discriminator(self.ctx.run_dir / "metrics.jsonl", keys, ref, ylabel,
                                              f"{self.cfg.loss} discriminator on real and generated data",
                                              plots_dir / "discriminator.png")
            paths += [path] if path else []
        fake, _ = self._eval_draw()
        if not self.images:
            ref = self._test()
            modes = ref["modes"]
            counts, quality = gan_metrics.mode_counts(fake, modes, self.cfg.quality_std)
            covered = gan_metrics.modes_covered(counts, len(fake), self.cfg.cover_fraction)
            title = (f"{self.cfg.loss}, step {self.g_updates}: {covered}/{len(counts)} modes covered, "
                     f"{quality:.0%} high quality")
            paths.append(figures.plot_points(fake, self._to_model(self.data.x_test), modes.centres,
                                             self.cfg.quality_std * modes.spreads, title, plots_dir / "samples.png"))
            return paths
        paths.append(save_grid(self.draw(4 * PATH_STEPS, interpolate=True).images,
                               plots_dir / "interpolation.png", PATH_STEPS))
        if self.model.conditional:  # the same code (a row) under each label (a column): style kept, class changed
            k = self.model.num_classes
            z, _ = self._noise(8, self.ctx.seed + EVAL_SEED + 1)
            images = self._samples(z.repeat_interleave(k, 0), torch.arange(k, device=z.device).repeat(8))
            paths.append(save_grid(self._to_pixels(images).cpu(), plots_dir / "labels.png", k))
        else:
            paths.append(self._plot_arithmetic(figures, plots_dir / "arithmetic.png"))
        return paths

    def _plot_arithmetic(self, figures: Any, path: Path) -> Path:
        """Latent vector arithmetic (Radford et al. 2016, section 6.3): a stroke-thickness direction v = mean code of
        the 32 inkiest of 512 draws - mean code of the 32 faintest (ink: mean pixel value, measured, no labels
        needed), added in steps to the codes of 6 other draws."""
        z, _ = self._noise(512, self.ctx.seed + EVAL_SEED + 2)
        ink = self._to_pixels(self._samples(z, None)).mean((1, 2, 3))
        order = ink.argsort()
        v = z[order[-32:]].mean(0) - z[order[:32]].mean(0)
        scales = [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5]
        base = z[order[240:246]]  # draws of middling ink
        codes = (base[:, None] + torch.tensor(scales, device=z.device).view(1, -1, 1) * v).reshape(-1, z.shape[1])
        images = self._to_pixels(self._samples(codes, None)).float()
        column_ink = images.view(len(base), len(scales), -1).mean((0, 2)).tolist()
        return figures.plot_arithmetic(images, scales, column_ink, "z + a v, v = mean z(32 inkiest of 512 draws) - "
                                       "mean z(32 faintest); column: mean ink", path)

    def report(self, run_dir: Path | None = None) -> str:
        if self.images or not self.data.meta.num_classes:
            return ""
        fake, _ = self._eval_draw()
        counts, quality = gan_metrics.mode_counts(fake, self._test()["modes"], self.cfg.quality_std)
        need = self.cfg.cover_fraction * len(fake) / len(counts)
        names = self.data.meta.class_names
        return "\n".join([
            f"{self.cfg.loss} after {self.g_updates} generator steps ({self.d_updates} discriminator steps): "
            f"{gan_metrics.modes_covered(counts, len(fake), self.cfg.cover_fraction)} of {len(counts)} modes "
            f"covered, {quality:.1%} of {len(fake)} samples within {self.cfg.quality_std:g} std of a mode "
            f"(covered: at least {need:.0f} of them).", "",
            "| " + " | ".join(names) + " |", "|" + "---|" * len(names),
            "| " + " | ".join(str(int(c)) for c in counts) + " |"])

    # --- state ----------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "g_updates": self.g_updates, "d_updates": self.d_updates, "extent": self.extent}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.g_updates, self.d_updates = int(state["g_updates"]), int(state["d_updates"])
        self.extent = float(state["extent"])

"""Autoencoders trained by backpropagation to reconstruct their input (curriculum G2; notes 002 section 4.1).

One step minimises the reconstruction loss of a batch, averaged over its elements: squared error (`mse`) or
binary cross-entropy of the pixels in [0, 1] (`bce`, on the output's logits). Variants by configuration:
- denoising (Vincent, Larochelle, Bengio, Manzagol, "Extracting and composing robust features with denoising
  autoencoders", 2008): the encoder reads a corrupted input, the loss compares with the clean one. Gaussian noise
  adds `noise_level` * N(0, 1) to every input; masking noise sets exactly round(`noise_level` * D) of each
  example's D inputs, chosen at random, to 0 (the paper's "masking noise").
- sparse: a penalty on the code units' activations h (B, K) added to the loss with weight `sparsity_weight`:
  `l1` = mean over the batch of sum_j |h_j|; `kl` = sum_j KL(rho || rho_hat_j), rho_hat_j the mean activation of
  unit j over the batch and rho the target (Ng, "Sparse autoencoder", CS294A lecture notes, 2011), which needs
  codes in (0, 1) (a sigmoid code).
- stacked (Bengio, Lamblin, Popovici, Larochelle, "Greedy layer-wise training of deep networks", 2007; Vincent
  et al., "Stacked denoising autoencoders", 2010): with `pretrain_steps` P, encoder layer i and its mirror decoder
  layer are first trained alone for P steps as a one-layer autoencoder of layer i's input, the layers below frozen
  (the pixels for the first layer, with the run's loss; hidden activations, with squared error, above), the noise
  corrupting that input; then the whole network is fine-tuned for the rest of the run.

Evaluation reads the first `eval_size` test images (always the same): reconstruction loss and squared error, the
code's sparseness (Hoyer 2004), with noise the squared error of the reconstructions of corrupted test images
(`test/denoised_mse`) beside the corrupted images' own (`test/noisy_mse`), and when a class is in the test split but
not in the training split (`--data.exclude_class`) the ROC AUC of the reconstruction error as a score separating it
from the seen classes. A deterministic autoencoder has no prior to sample: `draw` decodes codes drawn from a Gaussian
fitted to the training images' codes at the last evaluation, a crude stand-in that the VAE replaces by design.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.config import field
from neuralab.contracts import Drawn, Method, RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.methods.optim import OPTIMIZERS, SCHEDULES, descend, make_optimizer, make_schedule
from neuralab.registry import register_method

LOSSES = ("bce", "mse")
NOISES = ("none", "gaussian", "masking")
SPARSITIES = ("none", "l1", "kl")
FRAMES = 8  # images per interpolation row, both ends included
GRID_COLUMNS = 8  # test images per row of a reconstruction grid
EPS = 1e-6  # keeps the KL penalty finite for a unit that is always off or always on


@dataclass(frozen=True)
class AutoencodingConfig:
    optimizer: str = field("adam", "Optimiser from torch.optim.", choices=OPTIMIZERS)
    lr: float = field(1e-3, "Learning rate (peak rate for onecycle).", gt=0)
    weight_decay: float = field(0.0, "Weight decay (decoupled for adamw).", ge=0)
    schedule: str = field("none", "Learning-rate schedule over the whole run.", choices=SCHEDULES)
    clip_grad_norm: float = field(0.0, "Rescale the gradients so their joint L2 norm is at most this; 0 disables.",
                                  ge=0)
    loss: str = field("bce", "Reconstruction loss per input element: bce (binary cross-entropy; inputs in [0, 1], "
                             "a sigmoid output) or mse (squared error).", choices=LOSSES)
    noise: str = field("none", "Corruption of the encoder's input (a denoising autoencoder): gaussian (add "
                               "noise_level * N(0, 1)) or masking (set a share noise_level of each input to 0).",
                       choices=NOISES)
    noise_level: float = field(0.3, "Standard deviation of the Gaussian noise, or share of inputs masked.", ge=0)
    sparsity: str = field("none", "Penalty on the code's activations: l1 (sum of |h|) or kl (KL divergence of the "
                                  "units' mean activations from sparsity_target; needs a sigmoid code).",
                          choices=SPARSITIES)
    sparsity_weight: float = field(1e-3, "Weight of the sparsity penalty in the loss.", ge=0)
    sparsity_target: float = field(0.05, "Target mean activation rho of each code unit (kl).", gt=0, le=0.99)
    pretrain_steps: int = field(0, "Greedy layer-wise pre-training: steps for each encoder layer with its mirror "
                                   "decoder layer, before fine-tuning the whole network (0: none).", ge=0)
    eval_size: int = field(2000, "Test images each evaluation reconstructs (the first ones; 0: all).", ge=0)
    eval_batch_size: int = field(1000, "Images per forward pass when evaluating.", ge=1)


def corrupt(x: torch.Tensor, noise: str, level: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """`x` (B, ...) corrupted for a denoising autoencoder: Gaussian noise of std `level`, or masking noise setting
    exactly round(`level` * D) of each example's D elements, chosen uniformly, to 0."""
    if noise == "none" or level == 0:
        return x
    if noise == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    flat = x.flatten(1)
    k = round(level * flat.shape[1])
    if k == 0:
        return x
    masked = torch.rand(flat.shape, generator=generator, device=x.device).topk(k, dim=1).indices
    return flat.scatter(1, masked, 0.0).view_as(x)


def kl_sparsity(code: torch.Tensor, target: float) -> torch.Tensor:
    """sum_j [rho log(rho / rho_hat_j) + (1 - rho) log((1 - rho) / (1 - rho_hat_j))] over the code units j, with
    rho_hat_j the mean over the batch of unit j's activation in (0, 1) (Ng's sparsity penalty)."""
    rho_hat = code.flatten(1).mean(0).clamp(EPS, 1 - EPS)
    rho = target
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()


def sparsity_penalty(code: torch.Tensor, kind: str, target: float) -> torch.Tensor | None:
    """The code's sparsity penalty (None for `none`): l1, the batch mean of sum_j |h_j|, or `kl_sparsity`."""
    if kind == "none":
        return None
    if kind == "l1":
        return code.flatten(1).abs().sum(1).mean()
    return kl_sparsity(code, target)


def element_losses(out: torch.Tensor, x: torch.Tensor, loss: str, logits: bool) -> torch.Tensor:
    """Per-element reconstruction losses of `out` (logits of a sigmoid output when `logits`) against `x`."""
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(out, x, reduction="none")
    return F.mse_loss(torch.sigmoid(out) if logits else out, x, reduction="none")


def hoyer_sparseness(code: torch.Tensor) -> torch.Tensor:
    """Per-example sparseness (sqrt(K) - |h|_1 / |h|_2) / (sqrt(K) - 1) of codes (B, K) (Hoyer 2004): 0 when every
    unit is equally active, 1 when one unit alone is; it ignores the code's scale."""
    h = code.flatten(1)
    k = h.shape[1]
    ratio = h.abs().sum(1) / h.norm(dim=1).clamp_min(1e-12)
    return (math.sqrt(k) - ratio) / max(math.sqrt(k) - 1, 1e-12)


def _plain(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


@register_method("autoencoding", config=AutoencodingConfig)
class Autoencoding(Method):
    def __init__(self, cfg: AutoencodingConfig, model: nn.Module, data: SupervisedData, ctx: RunContext) -> None:
        self.cfg, self.model, self.data, self.ctx = cfg, model, data, ctx
        plain = _plain(model)
        if not hasattr(plain, "encode") or not hasattr(plain, "decode"):
            raise UserError(f"the autoencoding method trains autoencoders (encode and decode), not {ctx.model_name}")
        self.logits = getattr(plain, "output", "identity") == "sigmoid"  # the model returns logits of its output
        if cfg.loss == "bce":
            if not self.logits:
                raise UserError("--method.loss bce needs a sigmoid output (--model.output sigmoid, not linear); or "
                                "use --method.loss mse")
            lo, hi = float(data.x_train.min()), float(data.x_train.max())
            if lo < 0 or hi > 1:
                raise UserError(f"--method.loss bce: the inputs must lie in [0, 1], these range over [{lo:.3g}, "
                                f"{hi:.3g}]; use --data.normalize scale, or --method.loss mse")
        if cfg.noise == "masking" and cfg.noise_level > 1:
            raise UserError(f"--method.noise_level {cfg.noise_level:g}: masking noise masks a share of the inputs, "
                            "at most 1")
        if cfg.sparsity == "kl" and getattr(plain.cfg, "code_activation", "") != "sigmoid":
            raise UserError("--method.sparsity kl compares mean activations in (0, 1) with the target; give the code "
                            "a sigmoid (--model.code_activation sigmoid) or use --method.sparsity l1")
        self.depth = getattr(plain, "depth", 0)
        if cfg.pretrain_steps:
            if not hasattr(plain, "encode_layer"):
                raise UserError(f"--method.pretrain_steps: greedy layer-wise pre-training trains the layers of an "
                                f"mlp_autoencoder one at a time; {ctx.model_name} has no such layers")
            if ctx.procs is not None:
                raise UserError("--method.pretrain_steps: greedy layer-wise pre-training runs in one process; "
                                "train without torchrun")
        self.params = [p for p in model.parameters() if p.requires_grad]
        # One optimiser: during a pre-training stage only that layer's parameters get gradients, and Adam skips
        # the others.
        self.optimizer = make_optimizer(cfg.optimizer, self.params, cfg.lr, weight_decay=cfg.weight_decay)
        self.schedule = make_schedule(cfg.schedule, self.optimizer, ctx.total_steps)
        self.steps = 0
        with torch.no_grad():
            width = plain.encode(data.x_train[:1]).flatten(1).shape[1]
        # The Gaussian that `draw` samples codes from: N(0, I) until the first evaluation fits it.
        self.code_mean = torch.zeros(width, device=ctx.device)
        self.code_cov = torch.eye(width, device=ctx.device)
        self.code_count = 0

    # Training

    def _stage(self) -> int | None:
        """The encoder layer being pre-trained at this step, or None when the whole network trains."""
        if self.cfg.pretrain_steps and self.steps < self.depth * self.cfg.pretrain_steps:
            return self.steps // self.cfg.pretrain_steps
        return None

    def _objective(self, out: torch.Tensor, target: torch.Tensor, code: torch.Tensor, loss: str, logits: bool,
                   penalise: bool, split: str) -> tuple[torch.Tensor, dict[str, Any]]:
        rec = element_losses(out.float(), target, loss, logits).mean()
        metrics: dict[str, Any] = {f"{split}/loss": rec.detach()}
        penalty = sparsity_penalty(code.float(), self.cfg.sparsity, self.cfg.sparsity_target) if penalise else None
        if penalty is None:
            return rec, metrics
        metrics[f"{split}/sparsity_penalty"] = penalty.detach()
        return rec + self.cfg.sparsity_weight * penalty, metrics

    def step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, Any]:
        x, _ = batch
        self.model.train()
        stage = self._stage()
        if stage is None:
            with self.ctx.autocast():
                out, code = self.model(corrupt(x, self.cfg.noise, self.cfg.noise_level), logits=self.logits,
                                       return_code=True)
                objective, metrics = self._objective(out, x, code, self.cfg.loss, self.logits, True, "train")
        else:
            objective, metrics = self._pretrain_objective(x, stage)
        descend(objective, self.optimizer, self.params, self.cfg.clip_grad_norm, self.schedule)
        self.steps += 1
        return metrics

    def _pretrain_objective(self, x: torch.Tensor, stage: int) -> tuple[torch.Tensor, dict[str, Any]]:
        """Encoder layer `stage` and its mirror as a one-layer autoencoder of that layer's (frozen) input."""
        plain = _plain(self.model)
        with torch.no_grad():
            h = x.flatten(1)
            for i in range(stage):
                h = plain.encode_layer(h, i)
        first = stage == 0  # the pixels: the run's loss; hidden activations above: squared error
        with self.ctx.autocast():
            code = plain.encode_layer(corrupt(h, self.cfg.noise, self.cfg.noise_level), stage)
            out = plain.decode_layer(code, stage, logits=first and self.logits)
            objective, metrics = self._objective(out, h, code, self.cfg.loss if first else "mse",
                                                 first and self.logits, stage == self.depth - 1, "pretrain")
        metrics["pretrain/layer"] = stage
        return objective, metrics

    # Evaluation

    @torch.no_grad()
    def _measure(self) -> dict[str, Any]:
        """Per-example losses, squared errors, codes (and with noise the denoised and noisy errors) of the first
        `eval_size` test images, in evaluation mode; evaluation noise comes from a generator seeded afresh."""
        cfg, plain = self.cfg, _plain(self.model)
        n = cfg.eval_size or len(self.data.x_test)
        x, y = self.data.x_test[:n], self.data.y_test[:n]
        generator = torch.Generator(device=x.device).manual_seed(self.ctx.seed)
        was_training = plain.training
        plain.eval()
        parts: dict[str, list[torch.Tensor]] = {}
        for i in range(0, len(x), cfg.eval_batch_size):
            xb = x[i:i + cfg.eval_batch_size]
            with self.ctx.autocast():
                out, code = plain(xb, logits=self.logits, return_code=True)
            out = out.float()
            recon = torch.sigmoid(out) if self.logits else out
            got = {"loss": element_losses(out, xb, cfg.loss, self.logits).flatten(1).mean(1),
                   "mse": (recon - xb).flatten(1).pow(2).mean(1), "code": code.float().flatten(1)}
            if cfg.noise != "none":
                noisy = corrupt(xb, cfg.noise, cfg.noise_level, generator)
                with self.ctx.autocast():
                    denoised = plain(noisy, logits=self.logits).float()
                denoised = torch.sigmoid(denoised) if self.logits else denoised
                got["denoised_mse"] = (denoised - xb).flatten(1).pow(2).mean(1)
                got["noisy_mse"] = (noisy - xb).flatten(1).pow(2).mean(1)
            for key, value in got.items():
                parts.setdefault(key, []).append(value)
        plain.train(was_training)
        measured: dict[str, Any] = {k: torch.cat(v) for k, v in parts.items()}
        measured["y"] = y
        return measured

    def _held_out(self) -> list[int]:
        """Classes in the test split that training never saw (`--data.exclude_class`)."""
        if not self.data.meta.num_classes or self.data.y_test.dtype.is_floating_point:
            return []
        seen = set(self.data.y_train.unique().tolist())
        return sorted(set(self.data.y_test.unique().tolist()) - seen)

    def _anomaly(self, measured: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(scores of seen-class examples, scores of held-out ones, ROC AUC), None without both kinds."""
        from sklearn.metrics import roc_auc_score

        held = self._held_out()
        if not held:
            return None
        y = measured["y"].cpu().numpy()
        score = measured["loss"].cpu().numpy()
        unseen = np.isin(y, held)
        if unseen.all() or not unseen.any():
            return None
        return score[~unseen], score[unseen], float(roc_auc_score(unseen, score))

    @torch.no_grad()
    def _fit_code_gaussian(self) -> None:
        """Mean and covariance of the codes of the first `eval_size` training images: what `draw` samples from."""
        n = self.cfg.eval_size or len(self.data.x_train)
        x, plain = self.data.x_train[:n], _plain(self.model)
        if len(x) < 2:
            return
        was_training = plain.training
        plain.eval()
        codes = torch.cat([plain.encode(x[i:i + self.cfg.eval_batch_size]).float().flatten(1)
                           for i in range(0, len(x), self.cfg.eval_batch_size)])
        plain.train(was_training)
        self.code_mean, self.code_cov, self.code_count = codes.mean(0), torch.cov(codes.T).reshape(
            codes.shape[1], codes.shape[1]), len(codes)

    def evaluate(self) -> dict[str, float]:
        metrics = self._metrics(self._measure())
        self._fit_code_gaussian()
        if self.data.meta.kind == "images" and self.ctx.run_dir is not None and self.ctx.is_main:
            from neuralab.viz.grid import save_grid

            self.ctx.write_samples(self.steps, self.draw(64, seed=self.ctx.seed))
            rows = [images for _, images in self._reconstruction_rows(2 * GRID_COLUMNS)]
            blocks = [row[j:j + GRID_COLUMNS] for j in range(0, 2 * GRID_COLUMNS, GRID_COLUMNS) for row in rows]
            save_grid(torch.cat(blocks), self.ctx.run_dir / "reconstructions" / f"step-{self.steps:06d}.png",
                      GRID_COLUMNS)
        return metrics

    def _metrics(self, measured: dict[str, Any]) -> dict[str, float]:
        """The evaluation's metrics from `_measure`'s per-example values."""
        metrics = {"test/loss": float(measured["loss"].mean()), "test/mse": float(measured["mse"].mean()),
                   "test/code_sparseness": float(hoyer_sparseness(measured["code"]).mean()),
                   "test/code_mean": float(measured["code"].mean())}
        if "denoised_mse" in measured:
            metrics["test/denoised_mse"] = float(measured["denoised_mse"].mean())
            metrics["test/noisy_mse"] = float(measured["noisy_mse"].mean())
        anomaly = self._anomaly(measured)
        if anomaly is not None:
            metrics["test/anomaly_auc"] = anomaly[2]
        return metrics

    # Pictures

    def _pixels(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs or reconstructions (B, ...) as images (B, C, H, W) in [0, 1]: the data's normalisation undone."""
        meta = self.data.meta
        x = x.reshape(len(x), *meta.input_shape).float()
        return ((x * meta.std + meta.mean) * meta.pixel_scale / 255).clamp(0, 1)

    def _require_images(self, what: str) -> None:
        if self.data.meta.kind != "images":
            raise UserError(f"{what}: this autoencoder was trained on {self.data.meta.kind}, not images")

    @torch.no_grad()
    def _reconstruction_rows(self, n: int) -> list[tuple[str, torch.Tensor]]:
        """(label, images) rows: the first `n` test images, their corrupted versions when training used noise, and
        the reconstructions (of the corrupted images, for a denoising autoencoder)."""
        plain = _plain(self.model)
        x = self.data.x_test[:n]
        generator = torch.Generator(device=x.device).manual_seed(self.ctx.seed)
        seen = corrupt(x, self.cfg.noise, self.cfg.noise_level, generator)
        was_training = plain.training
        plain.eval()
        with self.ctx.autocast():
            recon = plain(seen).float()
        plain.train(was_training)
        rows = [("input", self._pixels(x))]
        if self.cfg.noise != "none":
            rows.append((f"{self.cfg.noise} noise {self.cfg.noise_level:g}", self._pixels(seen)))
        return rows + [("reconstruction", self._pixels(recon))]

    def _codes(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """`n` codes drawn from the Gaussian fitted at the last evaluation: mean + A eps with A A^T = covariance."""
        values, vectors = torch.linalg.eigh(self.code_cov.double())
        root = (vectors * values.clamp_min(0).sqrt()).float()
        eps = torch.randn(n, len(self.code_mean), generator=generator, device=self.code_mean.device)
        return self.code_mean + eps @ root.T

    @torch.no_grad()
    def draw(self, n: int, *, label: int | None = None, interpolate: bool = False, seed: int = 0) -> Drawn:
        if label is not None:
            raise UserError(f"--label {label}: an autoencoder is not conditional; leave out --label")
        self._require_images("sample")
        plain = _plain(self.model)
        generator = torch.Generator(device=self.code_mean.device).manual_seed(seed)
        if interpolate:  # one row per pair of drawn codes, walked in equal steps
            rows = -(-n // FRAMES)
            start, end = self._codes(2 * rows, generator).split(rows)
            t = torch.linspace(0, 1, FRAMES, device=start.device)[None, :, None]
            codes, nrow = (start[:, None] * (1 - t) + end[:, None] * t).flatten(0, 1), FRAMES
        else:
            codes, nrow = self._codes(n, generator), math.ceil(math.sqrt(n))
        was_training = plain.training
        plain.eval()
        images = self._pixels(plain.decode(codes))
        plain.train(was_training)
        fitted = (f"a Gaussian fitted to the codes of {self.code_count} training images (their mean and covariance "
                  "at the last evaluation)" if self.code_count else "N(0, I) (no evaluation has fitted the codes yet)")
        return Drawn(images, nrow, [f"an autoencoder has no prior to sample from: these decode codes drawn from "
                                    f"{fitted}; a VAE learns such a prior"])

    def plot(self, plots_dir: Path) -> list[Path]:
        """plots/reconstructions.png; plots/latent.png for a 2-D code; plots/anomaly.png when a class was held out."""
        from neuralab.viz.autoencoders import plot_anomaly_scores, plot_latent_map, plot_reconstructions

        if self.data.meta.kind != "images":
            return []
        made = [plot_reconstructions(self._reconstruction_rows(GRID_COLUMNS + 2),
                                     f"Test images and their reconstructions (step {self.steps})",
                                     plots_dir / "reconstructions.png")]
        measured = self._measure()
        names = list(self.data.meta.class_names) or [str(k) for k in range(int(measured["y"].max()) + 1)]
        if measured["code"].shape[1] == 2:
            made.append(plot_latent_map(measured["code"].cpu().numpy(), measured["y"].cpu().numpy(), names,
                                        f"2-D codes of {len(measured['y'])} test images", plots_dir / "latent.png"))
        anomaly = self._anomaly(measured)
        if anomaly is not None:
            seen, unseen, auc = anomaly
            held = ", ".join(names[k] for k in self._held_out())
            made.append(plot_anomaly_scores(seen, unseen, held, f"Reconstruction error as anomaly score: ROC AUC "
                                            f"{auc:.3f} for the held-out class {held}", plots_dir / "anomaly.png"))
        return made

    def report(self, run_dir: Path | None = None) -> str:
        """Test reconstruction metrics as a table; with a held-out class, each class's mean error and the AUC."""
        measured = self._measure()
        metrics = self._metrics(measured)
        lines = [f"Reconstruction of the first {len(measured['y'])} test images (code of {measured['code'].shape[1]} "
                 f"units, {sum(p.numel() for p in self.model.parameters()):,} parameters):", "",
                 "| metric | value |", "|---|---|", *(f"| {k} | {v:.4f} |" for k, v in metrics.items())]
        anomaly = self._anomaly(measured)
        if anomaly is None:
            return "\n".join(lines)
        held = self._held_out()
        y, score = measured["y"], measured["loss"]
        names = list(self.data.meta.class_names)
        lines += ["", f"Anomaly detection: reconstruction error ({self.cfg.loss}) as the score of the class(es) never "
                      f"seen in training, {', '.join(names[k] for k in held)}: ROC AUC {anomaly[2]:.3f} against the "
                      "seen classes.", "", "| class | in training | test images | mean error |", "|---|---|---|---|"]
        for k in sorted(set(y.tolist())):
            chosen = score[y == k]
            seen = "no" if k in held else "yes"
            lines.append(f"| {names[k]} | {seen} | {len(chosen)} | {float(chosen.mean()):.4f} |")
        return "\n".join(lines)

    # State

    def state_dict(self) -> dict[str, Any]:
        return {"model": _plain(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                "schedule": None if self.schedule is None else self.schedule.state_dict(), "steps": self.steps,
                "code_mean": self.code_mean, "code_cov": self.code_cov, "code_count": self.code_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _plain(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.schedule is not None:
            self.schedule.load_state_dict(state["schedule"])
        self.steps = state["steps"]
        self.code_mean = state["code_mean"].to(self.ctx.device)
        self.code_cov = state["code_cov"].to(self.ctx.device)
        self.code_count = state["code_count"]

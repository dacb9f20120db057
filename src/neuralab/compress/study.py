"""Compress a trained classifier and measure what each variant costs and keeps (curriculum C7).

From a finished run `neuralab compress RUN_DIR` builds, for each target sparsity:
- one-shot pruned: global magnitude pruning of the trained weights, no retraining;
- pruned + fine-tuned: iterative pruning in rounds (`pruning.iterative_prune`), each round fine-tuned by the
  run's own learning rule (its method, optimiser, augmentation) at a tenth of the recipe's learning rate
  without a schedule, the masks applied throughout;
- pruned + fine-tuned + int8: that network quantised (`quantization.quantize_int8`);
- fresh init, same mask: the recipe's model initialised anew (seed + 1), given the fine-tuned network's final
  mask, and trained by the recipe's own method config (its learning rate and schedule, planned over these
  steps) for the same number of steps on the same batches: the comparison of Frankle & Carbin ("The Lottery
  Ticket Hypothesis", 2019; random re-initialisation) and Liu et al. ("Rethinking the Value of Network
  Pruning", 2019), who found that with the full training budget a pruned architecture trained from scratch
  matches fine-tuning; with a fine-tuning budget the notes expect it to do worse.
and the dense fp32 and int8 networks. Each variant's weights are written in `neuralab.compress.storage`'s
format (size on disk is that file), scored on the run's test split, and timed on the CPU at batch 1 and 256.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab.api import LoadedRun, load
from neuralab.atomic import write_json_atomic
from neuralab.compress import latency, pruning, quantization, storage
from neuralab.config import override
from neuralab.contracts import RunContext
from neuralab.data.tensors import SupervisedData
from neuralab.errors import UserError
from neuralab.experiments.sweep import seeded_network
from neuralab.methods.supervised import evaluate_split
from neuralab.registry import METHODS
from neuralab.studies.tables import markdown_table, write_table

FINETUNE_LR_SCALE = 0.1  # fine-tuning starts from trained weights: a tenth of the recipe's (peak) rate
CALIBRATION = 1024  # training examples the int8 observers see
LATENCY_BATCHES = (1, 256)

Log = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """How `compress_run` prunes, fine-tunes and measures."""

    sparsities: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95)
    finetune_steps: int = 300  # per sparsity, over all rounds; the fresh-init network gets as many
    rounds: int = 3
    quantize: bool = True
    threads: int = 1  # torch threads while timing
    repeats: int = 30  # timed calls per latency figure (the median is reported)


@dataclass(frozen=True)
class Row:
    """One measured variant."""

    variant: str
    target: float | None  # requested sparsity, None for the dense networks
    sparsity: float  # measured share of exactly-zero conv/linear weights
    accuracy: float
    bytes: int
    ms: dict[int, float]  # batch size -> median milliseconds per forward pass
    file: str


@dataclass
class CompressResult:
    rows: list[Row]
    report: str
    files: list[Path]


def classifier(loaded: LoadedRun) -> tuple[nn.Module, SupervisedData]:
    """The run's trained network and its labelled data; a `UserError` for runs that are not a classifier."""
    from neuralab.export import exportable_model

    name = loaded.run.recipe.name
    data = loaded.run.data
    if not isinstance(data, SupervisedData) or data.y_test.dtype.is_floating_point or not loaded.run.method.predicts():
        raise UserError(f"{name}: not a classifier (compress scores variants by test accuracy on class labels)")
    model = exportable_model(loaded)  # one trained network, not a table or side-by-side variants
    if not pruning.prunable(model):
        raise UserError(f"{name}: model {loaded.run.recipe.model} has no convolution or linear layer to prune")
    return model, data


def weight_sparsity(model: nn.Module) -> float:
    """Share of zero conv/linear weights, float or torch.ao int8 (quantisation can round small weights to 0)."""
    zeros = total = 0
    for m in model.modules():
        w = getattr(m, "weight", None)
        if callable(w) and not isinstance(w, torch.Tensor):  # quantised layers hand out their weight by a call
            w = w()
        if not isinstance(w, torch.Tensor) or not (isinstance(m, pruning.PRUNABLE) or w.is_quantized):
            continue
        w = w.int_repr() if w.is_quantized else w
        zeros, total = zeros + int((w == 0).sum()), total + w.numel()
    return zeros / total


class Compressor:
    """The trained run, the learning rule that fine-tunes it and the measurements every variant gets."""

    def __init__(self, loaded: LoadedRun, settings: Settings, out: Path, log: Log | None) -> None:
        self.run, self.settings, self.out, self.log = loaded.run, settings, out, log
        model, self.data = classifier(loaded)
        # Weights in the default memory order: global pruning flattens them with `view`, which a channels-last
        # conv weight refuses, so variants are pruned, trained and timed in NCHW order.
        self.model = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
        self.method_cfg = self.run.sections["method"]
        self.seed = self.run.sections["run"].seed
        self.x_test, self.y_test = (t.cpu() for t in self.data.split("test"))

    def stream(self) -> SupervisedData:
        """A fresh batch stream over the run's training split, in the order of the run's seed: every variant
        that trains sees the same batches."""
        return SupervisedData(self.data.split("train"), self.data.split("test"), self.data.meta,
                              batch_size=self.run.sections["data"].batch_size, seed=self.seed,
                              val=self.data.split("val"))

    def train(self, net: nn.Module, steps: int, method_cfg: Any, stream: SupervisedData) -> None:
        """`steps` steps of the run's method on `net` with batches from `stream` (masks stay applied: prune's
        hooks recompute the weight before every forward pass)."""
        cfg = self.run.sections
        ctx = RunContext(total_steps=steps, device=self.data.device, seed=self.seed, run_dir=None,
                         model_name=self.run.recipe.model, model_config=cfg["model"])
        method = METHODS.get(self.run.recipe.method).build(method_cfg, net, stream, ctx)
        for _ in range(steps):
            method.step(stream.next_batch())
        net.eval()

    def fine_tune_config(self) -> Any:
        fields = {f.name for f in dataclasses.fields(self.method_cfg)}
        changes = {"lr": self.method_cfg.lr * FINETUNE_LR_SCALE} if "lr" in fields else {}
        if "schedule" in fields:
            changes["schedule"] = "none"
        return override(self.method_cfg, changes, "method")

    def fresh_network(self, masks: dict[str, torch.Tensor]) -> nn.Module:
        """The recipe's model from a new initialisation (seed + 1) with `masks` fixed on its layers."""
        net = seeded_network(self.run.recipe.model, self.run.sections["model"], self.seed + 1).to(self.data.device)
        pruning.apply_masks(net, masks)
        return net

    def measure(self, variant: str, target: float | None, model: nn.Module) -> Row:
        """Write, score and time `model`: a CPU network with its masks folded in, fp32 or int8."""
        slug = variant.split(" (")[0].replace(" + ", "-").replace(", ", "-").replace(" ", "-")
        path = self.out / "weights" / (slug + (f"-{target:g}" if target is not None else "") + ".safetensors")
        size = storage.write_weights(model, path)
        loss = getattr(self.method_cfg, "loss", "cross_entropy")
        acc = evaluate_split(model, self.x_test, self.y_test, loss, 500)["acc"]
        with latency.threads(self.settings.threads):
            ms = {b: latency.median_ms(model, latency.batch_of(self.x_test, b), self.settings.repeats)
                  for b in LATENCY_BATCHES}
        row = Row(variant, target, weight_sparsity(model), acc, size, ms, str(path))
        if self.log:
            shown = "" if target is None else f" at sparsity {target:g}"
            self.log(f"{variant}{shown}: test accuracy {acc:.4f}, {size / 1024:.1f} KiB, "
                     f"{ms[1]:.3f} ms at batch 1")
        return row

    def int8(self, model: nn.Module) -> nn.Module:
        return quantization.quantize_int8(model, self.data.split("train")[0][:CALIBRATION])

    def rows(self) -> list[Row]:
        s = self.settings
        dense = copy.deepcopy(self.model).cpu().eval()
        rows = [self.measure("dense fp32", None, dense)]
        if s.quantize:
            rows.append(self.measure("dense int8", None, self.int8(dense)))
        for target in s.sparsities:
            one_shot = copy.deepcopy(dense)
            pruning.prune_to(one_shot, target)
            rows.append(self.measure("one-shot pruned", target, pruning.make_permanent(one_shot)))
            tuned = copy.deepcopy(self.model)  # on the run's device, where it trains
            finetune, batches = self.fine_tune_config(), self.stream()  # one stream across the rounds
            pruning.iterative_prune(tuned, target, s.rounds, s.finetune_steps,
                                    lambda net, n, cfg=finetune, b=batches: self.train(net, n, cfg, b))
            mask = pruning.masks(tuned)
            tuned = pruning.make_permanent(tuned).cpu().eval()
            rows.append(self.measure(f"pruned + fine-tuned ({s.rounds} rounds)", target, tuned))
            if s.quantize:
                rows.append(self.measure("pruned + fine-tuned + int8", target, self.int8(tuned)))
            fresh = self.fresh_network(mask)
            self.train(fresh, s.finetune_steps, self.method_cfg, self.stream())
            rows.append(self.measure("fresh init, same mask", target, pruning.make_permanent(fresh).cpu().eval()))
        return rows


def _tables(rows: Sequence[Row], settings: Settings) -> tuple[list[str], list[list[Any]], list[str], list[list]]:
    dense = rows[0]
    header = ["variant", "target sparsity", "weight sparsity", "test acc", "file KiB", "size vs dense",
              *(f"batch {b} ms" for b in LATENCY_BATCHES)]
    table = [[r.variant, "" if r.target is None else r.target, round(r.sparsity, 4), round(r.accuracy, 4),
              round(r.bytes / 1024, 1), f"{r.bytes / dense.bytes:.3f}", *(round(r.ms[b], 3) for b in LATENCY_BATCHES)]
             for r in rows]
    tuned = {r.target: r.accuracy for r in rows if r.variant.startswith("pruned + fine-tuned (")}
    fresh = {r.target: r.accuracy for r in rows if r.variant == "fresh init, same mask"}
    claim_header = ["sparsity", f"pruned + fine-tuned, {settings.finetune_steps} steps",
                    f"fresh init, same mask, {settings.finetune_steps} steps", "fresh - fine-tuned"]
    claim = [[t, round(tuned[t], 4), round(fresh[t], 4), f"{fresh[t] - tuned[t]:+.4f}"] for t in settings.sparsities]
    return header, table, claim_header, claim


def compress_run(run_dir: str | Path, settings: Settings, *, out: str | Path | None = None, checkpoint: str = "latest",
                 command: str = "", log: Log | None = None) -> CompressResult:
    """Prune, fine-tune, retrain from scratch and quantise the network of `run_dir`; write OUT/compress.{csv,md,
    json}, OUT/retrain.{csv,md} and each variant's weights in OUT/weights (OUT defaults to RUN_DIR/compress)."""
    from neuralab.studies.results import machine_line

    if not settings.sparsities or not all(0 < s < 1 for s in settings.sparsities):
        raise UserError(f"--sparsity {','.join(map(str, settings.sparsities))}: each sparsity must lie strictly "
                        f"between 0 and 1 (the share of weights set to zero)")
    if settings.finetune_steps < settings.rounds or settings.rounds < 1:
        raise UserError(f"--finetune-steps {settings.finetune_steps} --rounds {settings.rounds}: give at least one "
                        f"round and at least one fine-tuning step per round")
    loaded = load(run_dir, checkpoint=checkpoint)
    out = Path(out) if out else Path(run_dir) / "compress"
    compressor = Compressor(loaded, settings, out, log)
    rows = compressor.rows()
    header, table, claim_header, claim = _tables(rows, settings)
    files = [*write_table(out, "compress", header, table), *write_table(out, "retrain", claim_header, claim)]
    write_json_atomic(out / "compress.json", {
        "run_dir": str(run_dir), "recipe": loaded.run.recipe.name, "step": loaded.step,
        "settings": dataclasses.asdict(settings), "finetune_lr_scale": FINETUNE_LR_SCALE,
        "rows": [{**dataclasses.asdict(r), "ms": {str(b): v for b, v in r.ms.items()}} for r in rows]})
    files.append(out / "compress.json")
    s = settings
    report = "\n".join([
        f"Generated by `{command or 'neuralab compress ' + str(run_dir)}` on {machine_line(settings.threads)}.",
        f"Run: {loaded.run.recipe.name}, step {loaded.step}. Pruning: global magnitude (L1) over all conv and "
        f"linear weights; fine-tuning: {s.rounds} rounds of prune-then-train, {s.finetune_steps} steps in all, the "
        f"recipe's method at {FINETUNE_LR_SCALE:g} x its learning rate without a schedule. int8: torch.ao static "
        f"post-training quantisation, {quantization.engine()} engine, {CALIBRATION} training images to calibrate. "
        "File: the weights in safetensors, each tensor dense or as non-zero values + a 1-bit mask, whichever is "
        f"smaller. Latency: median of {s.repeats} forward passes per batch size, {s.threads} torch thread(s), on "
        "a CPU shared with other work (absolute times are inflated; compare rows within the table).",
        "", markdown_table(header, table), "",
        f"Same mask, same {s.finetune_steps} steps, same batches: the fine-tuned pruned network against the pruned "
        f"architecture trained from a fresh initialisation (the recipe's own learning rate and schedule):",
        "", markdown_table(claim_header, claim)])
    return CompressResult(rows, report, files)

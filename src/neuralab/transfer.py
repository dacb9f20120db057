"""Transfer learning (curriculum C4; Yosinski, Clune, Bengio, Lipson, "How transferable are features in deep
neural networks?", 2014): start a model from another run's weights and freeze part of it.

`init_from` reads a run directory's best checkpoint (else its newest) through safetensors and copies every
tensor whose name and shape match into the new model, reporting the ones it skipped and why: a 10-class
head does not fit a 5-class one, and keeps its fresh initialisation. `freeze` turns off the gradients of
the parameters under some name prefixes; methods that train by gradient (`supervised` and the lessons built
on it) leave those parameters out of their optimiser, so neither weight decay nor momentum moves them.

Batch norm under a frozen prefix is frozen whole, as Keras does for a layer with `trainable=False` and
timm's `freeze_batch_norm_2d` does: the layer stays in inference mode during training, normalising with
the running statistics it was given, and never updates them. (Left in training mode it would normalise with
each batch's statistics and keep averaging them into its buffers: a "frozen" layer that still changes.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from neuralab import checkpoint
from neuralab.errors import UserError

NOT_IN_SOURCE, NOT_IN_MODEL = "not in the source (keeps its initialisation)", "not in this model"


@dataclass(frozen=True)
class Transfer:
    """What `prepare` did to a model: the tensors loaded from a source run and those skipped (name -> why),
    and the parameters frozen."""

    source: str = ""  # the source run directory, "" when nothing was loaded
    checkpoint: str = ""  # which of its checkpoints, e.g. "best checkpoint (step 300)"
    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    freeze: tuple[str, ...] = ()
    trainable: int = 0  # parameter counts (elements) after freezing
    frozen: int = 0

    def lines(self) -> list[str]:
        """The report printed when training starts: one line per loaded/skipped group and the counts."""
        out = []
        if self.source:
            layers = dict.fromkeys(name.rpartition(".")[0] or name for name in self.loaded)
            out.append(f"initialised from {self.source}, {self.checkpoint}: loaded {len(self.loaded)} tensors "
                       f"of {', '.join(layers)}")
            out += [f"  skipped {name}: {why}" for name, why in self.skipped.items()]
        if self.freeze:
            total = self.trainable + self.frozen
            out.append(f"parameters: {total:,} ({self.trainable:,} trainable, {self.frozen:,} frozen under "
                       f"{', '.join(self.freeze)})")
        return out


def source_weights(run_dir: str | Path) -> tuple[dict[str, torch.Tensor], str]:
    """The network weights of a run's best checkpoint (else its newest) -> (name -> tensor, which checkpoint).

    Only safetensors and JSON are read (`neuralab.checkpoint`); nothing is unpickled."""
    run_dir = Path(run_dir)
    where = f"--init-from {run_dir}"
    if not (run_dir / "config.json").is_file():
        raise UserError(f"{where}: not a run directory (no config.json)")
    ckpts = run_dir / "checkpoints"
    if checkpoint.latest_step(ckpts) is None:
        raise UserError(f"{where}: the run holds no checkpoint yet")
    which = "best" if checkpoint.best(ckpts) is not None else "latest"
    step, state = checkpoint.load(ckpts, which)
    weights = state.get("method", {}).get("model") if isinstance(state.get("method"), dict) else None
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise UserError(f"{where}: this run saved no single network (a comparison of variants, a Q-table); "
                        "initialise from a run that trains one model")
    return weights, f"{which} checkpoint (step {step})"


def load_matching(model: nn.Module, weights: dict[str, torch.Tensor],
                  where: str = "the source") -> tuple[list[str], dict[str, str]]:
    """Copy every tensor of `weights` whose name and shape match one of `model`'s parameters or buffers.

    Returns (loaded names, {skipped name: why}) in the model's order, then the source's extra names. A source
    that matches nothing is a user error: the runs are of unrelated models.
    """
    own = model.state_dict()
    loaded, skipped, matched = [], {}, {}
    for name, tensor in own.items():
        if name not in weights:
            skipped[name] = NOT_IN_SOURCE
        elif weights[name].shape != tensor.shape:
            skipped[name] = (f"shape {tuple(weights[name].shape)} in the source, {tuple(tensor.shape)} here")
        else:
            matched[name] = weights[name].to(dtype=tensor.dtype)
            loaded.append(name)
    skipped.update({name: NOT_IN_MODEL for name in weights if name not in own})
    if not loaded:
        raise UserError(f"{where}: no tensor matches this model by name and shape (source: "
                        f"{_short(list(weights))}; model: {_short(list(own))})")
    model.load_state_dict(matched, strict=False)
    return loaded, skipped


def _short(names: list[str], most: int = 6) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def top_level_prefixes(model: nn.Module) -> list[str]:
    """The first name component of the model's parameters (and the second, where there is only one first)."""
    firsts = list(dict.fromkeys(name.split(".")[0] for name, _ in model.named_parameters()))
    if len(firsts) == 1:
        return list(dict.fromkeys(".".join(name.split(".")[:2]) for name, _ in model.named_parameters()))
    return firsts


def freeze(model: nn.Module, prefixes: tuple[str, ...]) -> tuple[int, int]:
    """requires_grad=False on every parameter whose name starts with one of `prefixes`; batch norm under them
    is held in inference mode. Returns (trainable, frozen) parameter counts. A prefix matching no parameter,
    or one that freezes everything, is a user error."""
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(name.startswith(prefix) for name in names):
            raise UserError(f"--freeze {prefix}: no parameter name starts with it; top-level prefixes: "
                            f"{', '.join(top_level_prefixes(model))} (neuralab info RECIPE lists every layer)")
    for name, p in model.named_parameters():
        if name.startswith(prefixes):
            p.requires_grad_(False)
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and name.startswith(prefixes):
            module.register_forward_pre_hook(_inference_mode)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    if not trainable:
        raise UserError(f"--freeze {','.join(prefixes)}: that freezes every parameter, leaving nothing to train")
    return trainable, frozen


def _inference_mode(module: nn.Module, args: Any) -> None:
    """A frozen batch-norm layer normalises with its running statistics and leaves them as they are, even
    while the rest of the network trains (`model.train()` sets every layer back to training mode)."""
    module.train(False)


def prepare(model: nn.Module, init_from: str | Path | None = None, prefixes: tuple[str, ...] = ()) -> Transfer:
    """Initialise `model` from run `init_from` (if given), then freeze the parameters under `prefixes`."""
    source, which, loaded, skipped = "", "", [], {}
    if init_from:
        weights, which = source_weights(init_from)
        loaded, skipped = load_matching(model, weights, f"--init-from {init_from}")
        source = str(init_from)
    trainable, frozen = freeze(model, prefixes) if prefixes else (0, 0)
    return Transfer(source=source, checkpoint=which, loaded=loaded, skipped=skipped, freeze=tuple(prefixes),
                    trainable=trainable, frozen=frozen)

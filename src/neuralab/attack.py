"""`neuralab attack`: how a trained image classifier's test accuracy falls under FGSM or PGD as the budget
epsilon grows (curriculum C6), written as a table (CSV, JSON), a curve and a grid of example images.

Epsilon is in pixel units (pixels on [0, 1], whatever normalisation the run was trained with; see
`neuralab.methods.attacks`). The attacked images are a fixed random subset of the test split (`limit`, 0 for
all): the same images for every run and every epsilon. Each epsilon's PGD starts from its own random point,
drawn by a generator seeded afresh with `seed`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import torch

from neuralab.api import load
from neuralab.atomic import write_json_atomic, write_text_atomic
from neuralab.build import load_config
from neuralab.data.tensors import DataMeta
from neuralab.errors import UserError
from neuralab.methods.attacks import ATTACKS, PGD_ALPHA_FACTOR, PixelSpace, attack, fixed_subset
from neuralab.methods.supervised import Supervised
from neuralab.registry import METHODS
from neuralab.viz.adversarial import plot_accuracy_curve, plot_examples

DEFAULT_EPS = (0.0, 0.05, 0.1, 0.2, 0.3)


@dataclass
class AttackResult:
    """The accuracy under attack at each epsilon and the files written."""

    recipe: str
    step: int
    method: str
    description: str  # e.g. "PGD, 10 steps of 2.5 eps / 10 from a random start"
    images: int  # attacked test images
    eps: list[float]
    acc: list[float]
    files: list[Path] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"{self.recipe} at step {self.step}: {self.description}, on {self.images} test images",
                 f"  {'epsilon':>8}  {'accuracy':>8}"]
        lines += [f"  {e:>8.3f}  {a:>8.4f}" for e, a in zip(self.eps, self.acc, strict=True)]
        return "\n".join(lines)


def parse_eps(text: str) -> list[float]:
    """'0,0.05,0.1' -> [0.0, 0.05, 0.1] (sorted, each once); a value outside [0, 1] is a user error."""
    values = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise UserError(f"--eps {text}: {part.strip()!r} is not a number; give e.g. --eps 0,0.05,0.1") from None
        if not 0 <= value <= 1:
            raise UserError(f"--eps {text}: {value:g} is outside [0, 1]; epsilon is in pixel units, pixels on [0, 1] "
                            "(0.1 is about 25 grey levels)")
        values.append(value)
    return sorted(set(values))


def _describe(method: str, steps: int, alpha: float) -> str:
    if method == "fgsm":
        return "FGSM, one step of eps"
    size = f"{alpha:g}" if alpha else f"{PGD_ALPHA_FACTOR:g} eps / {steps}"
    return f"PGD, {steps} steps of {size} from a random start"


def attack_run(run_dir: str | Path, method: str = "pgd", eps: list[float] | None = None, *, steps: int = 10,
               alpha: float = 0.0, limit: int = 1000, examples: int = 6, out: str | Path | None = None,
               checkpoint: int | str = "latest", seed: int = 0) -> AttackResult:
    """Attack the run's test images at each epsilon; write accuracy.csv, accuracy.json, accuracy.png and
    examples.png (at the largest epsilon) into `out` (default RUN_DIR/attack-METHOD)."""
    eps = list(DEFAULT_EPS) if eps is None else eps
    if method not in ATTACKS:
        raise UserError(f"--method {method}: choose one of {', '.join(ATTACKS)}")
    for name, value, low in (("--steps", steps, 1), ("--alpha", alpha, 0), ("--limit", limit, 0),
                             ("--examples", examples, 1)):
        if value < low:
            raise UserError(f"{name} {value}: must be at least {low}")
    if not eps:
        raise UserError("--eps: give at least one epsilon")
    out = Path(out) if out is not None else Path(run_dir) / f"attack-{method}"
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; give a folder for the tables and plots")
    recipe, _, meta = load_config(Path(run_dir))  # refused before anything is built
    build = METHODS.get(recipe.method).build
    if not (isinstance(build, type) and issubclass(build, Supervised)):
        raise UserError(f"{run_dir}: this {recipe.name} run is trained by {recipe.method}; attacks need a "
                        "classifier trained by the supervised method (gradients of its loss)")
    space = PixelSpace.from_meta(DataMeta.from_dict(meta) if meta else None, "neuralab attack")
    if not meta["num_classes"]:
        raise UserError(f"{run_dir}: this run predicts numbers, not classes; attacks measure classification accuracy")
    loaded = load(run_dir, checkpoint=checkpoint)
    run = loaded.run
    x, y = run.data.split("test")
    x, y = fixed_subset(x, y, limit)
    batch = run.method.cfg.eval_batch_size
    model = run.model.eval()

    def predictions(inputs: torch.Tensor) -> torch.Tensor:
        return run.method.predict_proba(inputs).argmax(-1)

    acc, shown = [], None
    for e in eps:
        generator = torch.Generator(device=x.device).manual_seed(seed)
        preds, advs = [], []
        for i in range(0, len(x), batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            adv = attack(method, model, xb, yb, space, e, steps=steps, alpha=alpha, generator=generator,
                         loss=run.method.loss_fn)
            preds.append(predictions(adv))
            advs.append(adv if e == eps[-1] else adv[:0])
        pred = torch.cat(preds)
        acc.append(int((pred == y).sum()) / len(y))
        shown = (torch.cat(advs), pred)
    result = AttackResult(recipe=run.recipe.name, step=loaded.step, method=method,
                          description=_describe(method, steps, alpha), images=len(x), eps=eps, acc=acc)
    result.files = _write(result, out, loaded.meta.class_names, space, x, y, predictions(x), *shown, examples)
    return result


def _pick(y: torch.Tensor, clean: torch.Tensor, adv: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of up to k examples to show: first those the attack turned from right to wrong, then the rest."""
    flipped = (clean == y) & (adv != y)
    order = torch.cat([flipped.nonzero().flatten(), (~flipped).nonzero().flatten()])
    return order[:k]


def _write(result: AttackResult, out: Path, class_names: list[str], space: PixelSpace, x: torch.Tensor,
           y: torch.Tensor, clean: torch.Tensor, adv_x: torch.Tensor, adv_pred: torch.Tensor,
           examples: int) -> list[Path]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epsilon", "accuracy"])
    writer.writerows([[e, a] for e, a in zip(result.eps, result.acc, strict=True)])
    write_text_atomic(out / "accuracy.csv", buffer.getvalue())
    write_json_atomic(out / "accuracy.json", {
        "recipe": result.recipe, "step": result.step, "attack": result.method, "description": result.description,
        "images": result.images, "rows": [{"epsilon": e, "accuracy": a} for e, a in zip(result.eps, result.acc,
                                                                                          strict=True)]})
    title = f"{result.recipe} (step {result.step}): {result.description}, {result.images} test images"
    chance = 1 / len(class_names) if class_names else None
    curve = plot_accuracy_curve(result.eps, result.acc, title, out / "accuracy.png", chance)
    names = class_names or [str(i) for i in range(int(y.max()) + 1)]
    idx = _pick(y, clean, adv_pred, examples)
    true, before, after = ([names[int(i)] for i in labels[idx]] for labels in (y, clean, adv_pred))
    grid = plot_examples(space.to_pixels(x[idx]).cpu().numpy(), space.to_pixels(adv_x[idx]).cpu().numpy(),
                         true, before, after, result.eps[-1], title, out / "examples.png")
    return [out / "accuracy.csv", out / "accuracy.json", curve, grid]

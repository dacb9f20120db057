"""Sample quality of generative runs (`neuralab fid`): the Frechet distance of their images' features to a data set's,
and how the images spread over the classes, both read off a neuralab image classifier.

FID (Heusel et al. 2017) fits a Gaussian to the features of the generated images and one to the features of real
images, and reports the Frechet distance between the two (`neuralab.studies.frechet`). The papers take the features
from Inception-v3's pool layer; its weights cannot be downloaded here, so the features are the inputs of the last
linear layer of a classifier trained by neuralab (LeNet-5's 84 units for lenet5-mnist), caught by forward hooks.
The numbers are therefore comparable between runs measured with the same classifier and the same --n, never with
published FIDs. The real images are the classifier's test split; their statistics are computed once per classifier
checkpoint and cached beside it (RUN_DIR/fid/reference-step-NNNNNNNNN.safetensors).

The same classifier labels every image, which gives per-class coverage: how many classes the samples cover, the
share of the most common class, the KL divergence of the label histogram from uniform, the share labelled with
confidence, and with --label the share labelled as the requested class (a conditional model's accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neuralab.errors import UserError
from neuralab.studies.frechet import Gaussian, frechet_distance

CHUNK = 1000  # images per draw call and per forward pass: the first chunk is `neuralab sample --n 1000`'s grid
CONFIDENT = 0.9  # an image counts as confidently labelled when its top class probability reaches this
COVERED = 0.1  # a class counts as covered when it gets at least this fraction of a uniform share of the labels
BLUR_SIGMA = 1.0  # pixels: the Gaussian blur of the blurred-test-images baseline


@dataclass(frozen=True)
class Coverage:
    """How a set of images spreads over the classifier's classes."""

    counts: tuple[int, ...]  # images labelled as each class
    confident: float  # share labelled with top probability >= CONFIDENT

    @classmethod
    def of(cls, probs: torch.Tensor) -> Coverage:
        """From the classifier's class probabilities (N, K)."""
        top, labels = probs.max(-1)
        counts = torch.bincount(labels.cpu(), minlength=probs.shape[-1])
        return cls(tuple(int(c) for c in counts), float((top >= CONFIDENT).float().mean()))

    @property
    def shares(self) -> np.ndarray:
        counts = np.asarray(self.counts, dtype=np.float64)
        return counts / counts.sum()

    @property
    def covered(self) -> int:
        """Classes that get at least COVERED / K of the labels (1% of them for 10 classes)."""
        return int((self.shares >= COVERED / len(self.counts)).sum())

    @property
    def largest(self) -> float:
        """The share of the most common label (1/K when balanced, 1 when every image gets one label)."""
        return float(self.shares.max())

    @property
    def kl_uniform(self) -> float:
        """KL(labels || uniform) in nats = ln K - entropy: 0 when balanced, ln K when one class takes all."""
        p = self.shares[self.shares > 0]
        return float((p * np.log(p * len(self.counts))).sum())

    def share_of(self, label: int) -> float:
        return float(self.shares[label])


@dataclass(frozen=True)
class Score:
    """One image set measured: a generative run (its recipe and training seed) or a baseline (seed None)."""

    name: str  # the run's recipe, or what the baseline is
    source: str  # the run directory, or "baseline"
    seed: int | None
    images: int
    fid: float
    coverage: Coverage
    labelled: float | None  # share labelled as --label, when given


class FeatureClassifier:
    """A trained neuralab image classifier as FID's feature extractor and labeller."""

    def __init__(self, run_dir: Path, loaded: Any) -> None:
        from neuralab.methods.attacks import PixelSpace

        self.run_dir = run_dir
        self.loaded = loaded
        self.space = PixelSpace.from_meta(loaded.meta, "neuralab fid")
        linears = [m for m in loaded.run.model.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise UserError(f"--classifier {run_dir}: its model has no linear layer whose inputs could serve as "
                            "features; train a classifier such as lenet5-mnist")
        self.linears = linears

    @classmethod
    def open(cls, run_dir: str | Path, *, with_data: bool) -> FeatureClassifier:
        """Load the newest checkpoint of an image classifier run (`with_data`: also its train and test splits)."""
        from neuralab.api import load

        run_dir = Path(run_dir)
        check_classifier(run_dir)
        return cls(run_dir, load(run_dir, with_data=with_data))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.loaded.meta.input_shape)

    @property
    def class_names(self) -> list[str]:
        return list(self.loaded.meta.class_names)

    def describe(self) -> str:
        """e.g. 'lenet5-mnist at step 1770 (test/acc 0.9912)', for table headers."""
        acc = self.loaded.run.metrics.get("test/acc")
        tail = f" (test/acc {acc:.4f})" if acc is not None else ""
        return f"{self.loaded.run.recipe.name} at step {self.loaded.step}{tail}"

    @torch.no_grad()
    def embed_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features (N, D) in float64, class probabilities (N, K)) of inputs already in the classifier's space.

        The features are the inputs of the last linear layer to run in each forward pass (the classifier's head,
        whichever module registered it), caught by forward hooks, so any neuralab image classifier serves."""
        seen: dict[str, torch.Tensor] = {}
        batches: list[torch.Tensor] = []

        def on_linear(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            seen["last"] = inputs[0]

        def on_model(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            batch = seen.pop("last")
            batches.append(batch.reshape(len(inputs[0]), -1).double().cpu())

        model = self.loaded.run.model
        handles = [m.register_forward_hook(on_linear) for m in self.linears]
        handles.append(model.register_forward_hook(on_model))
        try:
            device = next(model.parameters()).device
            probs = [self.loaded.run.method.predict_proba(x[i:i + CHUNK].to(device)).cpu()
                     for i in range(0, len(x), CHUNK)]
        finally:
            for handle in handles:
                handle.remove()
        return torch.cat(batches), torch.cat(probs)

    def embed(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`embed_inputs` of images (N, C, H, W) with pixels in [0, 1], normalised as the classifier was trained."""
        if tuple(pixels.shape[1:]) != self.input_shape:
            raise UserError(f"images of shape {tuple(pixels.shape[1:])}, but the classifier {self.run_dir} takes "
                            f"{self.input_shape}; train a classifier on images of the generator's size")
        return self.embed_inputs(self.space.to_model(pixels.detach().float()))

    def pixels(self, split: str, limit: int = 0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (pixels in [0, 1]) and labels of one of the classifier's data splits (loaded with data): all of them,
        or `limit` picked by a permutation seeded with `seed`."""
        x, y = self.loaded.run.data.split(split)
        if limit:
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:limit].to(x.device)
            x, y = x[keep], y[keep]
        return self.space.to_pixels(x), y

    @property
    def reference_path(self) -> Path:
        return reference_path(self.run_dir, self.loaded.step)

    def reference(self) -> Gaussian:
        """The feature statistics of the classifier's test split: read from the cache, else computed and cached."""
        cached = read_reference(self.reference_path)
        if cached is not None:
            return cached
        x, _ = self.loaded.run.data.split("test")
        reference = Gaussian.of(self.embed_inputs(x)[0])
        write_reference(self.reference_path, reference)
        return reference


def check_classifier(run_dir: Path) -> dict[str, Any]:
    """The saved data description of an image classifier run; anything else is refused in one line before any
    model is built. The classifier must predict classes and have been trained on images."""
    from neuralab import checkpoint
    from neuralab.build import load_config
    from neuralab.registry import METHODS

    recipe, _, meta = load_config(run_dir)
    if not METHODS.get(recipe.method).build.predicts():
        raise UserError(f"--classifier {run_dir}: this {recipe.name} run does not classify (its method, "
                        f"{recipe.method}, predicts no classes); train an image classifier such as lenet5-mnist")
    if meta.get("kind") != "images" or not meta.get("num_classes"):
        what = "regression targets" if meta.get("kind") == "images" else f"{meta.get('kind') or 'non-image'} inputs"
        raise UserError(f"--classifier {run_dir}: this {recipe.name} run is trained on {what}; FID needs an image "
                        "classifier such as lenet5-mnist")
    if checkpoint.latest_step(run_dir / "checkpoints") is None:
        raise UserError(f"--classifier {run_dir}: no checkpoint to load")
    return meta


def reference_path(run_dir: Path, step: int) -> Path:
    """Where a classifier checkpoint's reference statistics are cached: one file per checkpoint step, so a
    classifier trained further never reuses the statistics of its earlier weights."""
    return run_dir / "fid" / f"reference-step-{step:09d}.safetensors"


def read_reference(path: Path) -> Gaussian | None:
    """Cached statistics, or None when there are none (or the file cannot be read: they are then recomputed)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        saved = load_file(str(path))
        return Gaussian(saved["mean"].numpy(), saved["cov"].numpy(), int(saved["count"]))
    except (SafetensorError, OSError, KeyError):
        return None


def write_reference(path: Path, reference: Gaussian) -> None:
    from safetensors.torch import save_file

    from neuralab.atomic import write_atomic

    tensors = {"mean": torch.from_numpy(reference.mean), "cov": torch.from_numpy(reference.cov),
               "count": torch.tensor(reference.count)}
    write_atomic(path, lambda tmp: save_file(tensors, tmp))


def chunk_seeds(seed: int, chunks: int) -> list[int]:
    """One draw seed per chunk: `seed` itself first (so --n 1000 draws what `neuralab sample --n 1000` draws), then
    seeds derived from (seed, chunk) that no other --seed's chunks share."""
    derived = [int(np.random.SeedSequence([seed, i]).generate_state(1, np.uint64)[0] >> 1) for i in range(1, chunks)]
    return [seed, *derived][:chunks]


def draw_images(method: Any, n: int, *, label: int | None, seed: int) -> Iterator[torch.Tensor]:
    """`n` images from a generative run's method, CHUNK at a time, each chunk with its own seed (`chunk_seeds`)."""
    for i, chunk_seed in enumerate(chunk_seeds(seed, math.ceil(n / CHUNK))):
        yield method.draw(min(CHUNK, n - i * CHUNK), label=label, seed=chunk_seed).images


def score(classifier: FeatureClassifier, reference: Gaussian, chunks: Iterator[torch.Tensor] | Sequence[torch.Tensor],
          *, name: str, source: str, seed: int | None, label: int | None) -> Score:
    """FID to the reference and coverage of the images in `chunks` (pixels in [0, 1])."""
    features, probs = [], []
    for images in chunks:
        f, p = classifier.embed(images)
        features.append(f)
        probs.append(p)
    features, probs = torch.cat(features), torch.cat(probs)
    coverage = Coverage.of(probs)
    return Score(name=name, source=source, seed=seed, images=len(features),
                 fid=frechet_distance(Gaussian.of(features), reference), coverage=coverage,
                 labelled=None if label is None else coverage.share_of(label))


def blur(pixels: torch.Tensor, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """Images (N, C, H, W) blurred by a Gaussian of `sigma` pixels (scipy.ndimage, edges reflected)."""
    from scipy.ndimage import gaussian_filter

    blurred = gaussian_filter(pixels.detach().cpu().double().numpy(), sigma=(0, 0, sigma, sigma), mode="reflect")
    return torch.from_numpy(blurred).float().clamp(0, 1)


def baselines(classifier: FeatureClassifier, n: int, seed: int) -> list[tuple[str, torch.Tensor]]:
    """Image sets whose FID says what the scale means: real training images (small: the same distribution), test
    images blurred or without one class (in between), and uniform noise (huge); up to `n` images each (the same
    test images blurred and, less those of the first class, left out)."""
    train, _ = classifier.pixels("train", n, seed)
    test, y = classifier.pixels("test", n, seed)
    others = test[(y != 0).to(test.device)]
    noise = torch.rand((n, *classifier.input_shape), generator=torch.Generator().manual_seed(seed))
    return [(f"train split ({len(train)} images)", train),
            (f"test split blurred (Gaussian, sigma {BLUR_SIGMA:g} px)", blur(test)),
            (f"test split without class {classifier.class_names[0]!r} ({len(others)} images)", others),
            ("uniform noise", noise)]


def measure(classifier_dir: str | Path, run_dirs: Sequence[str | Path], *, n: int, label: int | None = None,
            seed: int = 0, with_baselines: bool = False,
            log: Callable[[str], None] | None = None) -> tuple[FeatureClassifier, Gaussian, list[Score]]:
    """Score each generative run (n images drawn with `seed`, of class `label` if given) and, with
    `with_baselines`, the baseline sets, against the classifier's test-split statistics.

    Every mistake (a run that draws no images, a classifier that is no image classifier, shapes that differ, a label
    the classifier does not know) is refused before any image is drawn or any statistic computed."""
    from neuralab import checkpoint
    from neuralab.api import load
    from neuralab.build import load_config
    from neuralab.registry import METHODS

    if n < 2:
        raise UserError(f"--n {n}: FID fits a covariance to the images' features, which takes at least 2 images")
    if seed < 0:
        raise UserError(f"--seed {seed}: use a seed of 0 or more")
    classifier_dir = Path(classifier_dir)
    meta = check_classifier(classifier_dir)
    if label is not None and not 0 <= label < meta["num_classes"]:
        raise UserError(f"--label {label}: the classifier {classifier_dir} knows classes 0..{meta['num_classes'] - 1}")
    runs = []
    for run_dir in map(Path, run_dirs):
        recipe, sections, run_meta = load_config(run_dir)
        if not METHODS.get(recipe.method).build.draws():
            raise UserError(f"{run_dir}: this {recipe.name} run does not draw images (its method, {recipe.method}, "
                            "cannot); FID measures generative runs such as vae-mnist")
        shape = run_meta.get("input_shape")
        if shape and list(shape) != list(meta["input_shape"]):
            raise UserError(f"{run_dir}: this {recipe.name} run draws images of shape {tuple(shape)}, but the "
                            f"classifier {classifier_dir} takes {tuple(meta['input_shape'])}")
        runs.append((run_dir, recipe.name, sections["run"].seed))
    cached = read_reference(reference_path(classifier_dir, checkpoint.latest_step(classifier_dir / "checkpoints")))
    classifier = FeatureClassifier.open(classifier_dir, with_data=with_baselines or cached is None)
    reference = cached or classifier.reference()
    scores = []
    if with_baselines:
        for name, images in baselines(classifier, n, seed):
            scores.append(score(classifier, reference, [images[i:i + CHUNK] for i in range(0, len(images), CHUNK)],
                                name=name, source="baseline", seed=None, label=label))
            if log:
                log(f"{name}: FID {scores[-1].fid:.4g}")
    for run_dir, recipe, run_seed in runs:
        method = load(run_dir, with_data=False).run.method
        scores.append(score(classifier, reference, draw_images(method, n, label=label, seed=seed), name=recipe,
                            source=str(run_dir), seed=run_seed, label=label))
        if log:
            log(f"{run_dir}: FID {scores[-1].fid:.4g}")
    return classifier, reference, scores


def _spread(values: Sequence[float], digits: str = ".4g") -> str:
    """'mean ± std' over runs (sample std), or the value alone for one run."""
    from neuralab.studies.results import Spread

    s = Spread.of(values)
    return f"{s.mean:{digits}}" if len(values) == 1 else f"{s.mean:{digits}} ± {s.std:{digits}}"


def _columns(label: str | None) -> list[str]:
    tail = [f"labelled {label!r}"] if label is not None else []
    return ["FID", "classes covered", "largest class", "KL to uniform", f"confident (p ≥ {CONFIDENT:g})", *tail]


def _cells(group: Sequence[Score]) -> list[str]:
    cells = [_spread([s.fid for s in group]), _spread([float(s.coverage.covered) for s in group], ".3g")]
    cells += [_spread([getattr(s.coverage, k) for s in group], ".3f") for k in ("largest", "kl_uniform", "confident")]
    if group[0].labelled is not None:
        cells.append(_spread([s.labelled for s in group], ".3f"))
    return cells


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def format_table(classifier: FeatureClassifier, reference: Gaussian, scores: Sequence[Score], *, n: int,
                 label: int | None, seed: int, command: str, grouped: bool) -> str:
    """The markdown table, headed by how it was measured. `grouped`: one row per recipe, mean ± sample std over its
    runs (their training seeds listed); else one row per run."""
    label_name = None if label is None else classifier.class_names[label]
    width = len(reference.mean)
    head = (f"Generated by `{command}`. FID on the {width} inputs of the last linear layer of the classifier "
            f"{classifier.describe()}, against its test split ({reference.count} images); {n} images per run, "
            f"drawn with seed {seed}{'' if label is None else f' of class {label_name!r}'}. Not comparable with "
            f"published (Inception) FIDs, nor across classifiers or --n. Coverage reads the classifier's labels: "
            f"classes covered get at least {COVERED:g} of a uniform share; largest class: the most common label's "
            f"share; KL to uniform in nats (0 balanced, ln {len(classifier.class_names)} = "
            f"{math.log(len(classifier.class_names)):.3f} one class); confident: share labelled with probability "
            f"≥ {CONFIDENT:g}.")
    runs = any(s.seed is not None for s in scores)  # else baselines only: no run or seed columns
    groups: list[list[Score]] = [[s] for s in scores]
    if grouped:  # recipe names and baseline descriptions never coincide
        by_name: dict[str, list[Score]] = {}
        for s in scores:
            by_name.setdefault(s.name, []).append(s)
        groups = list(by_name.values())
    if grouped and runs:
        head += " Mean ± sample std over each recipe's runs."
    keys = ["recipe or set", *((["training seeds"] if grouped else ["run", "seed"]) if runs else [])]
    columns = [*keys, *_columns(label_name)]
    lines = [_row(columns), "|" + "---|" * len(columns)]
    for group in groups:
        first = group[0]
        baseline = first.seed is None
        who = [first.name if baseline else f"`{first.name}`"]
        if runs and grouped:
            who.append("—" if baseline else ", ".join(str(s.seed) for s in group))
        elif runs:
            who += ["—", "—"] if baseline else [first.source, str(first.seed)]
        lines.append(_row([*who, *_cells(group)]))
    return "\n".join([head, "", *lines])

"""`neuralab explain RUN_DIR --method NAME`: one interpretability picture of a trained image classifier.

Without `--input` the attribution methods explain a few test images of the run's data (the first of each
class) for their true class; with `--input IMAGE` they read and preprocess the file exactly as `predict` does
and explain the class the network predicts. The picture is written atomically to OUT/METHOD.png (OUT defaults
to RUN_DIR/explain).
"""

from __future__ import annotations

from pathlib import Path

import torch

from neuralab.api import LoadedRun, load
from neuralab.build import load_config
from neuralab.errors import UserError
from neuralab.interpret import METHOD_NAMES
from neuralab.interpret.activation_max import activation_max, unit_count
from neuralab.interpret.filters import first_filters
from neuralab.interpret.gradcam import gradcam
from neuralab.interpret.layers import class_logits, default_spatial_layer, evaluating, find_layer
from neuralab.interpret.occlusion import default_patch, occlusion
from neuralab.interpret.saliency import saliency
from neuralab.interpret.top_examples import top_examples
from neuralab.predict import read_inputs
from neuralab.registry import METHODS
from neuralab.viz.interpret import plot_filters, plot_image_grid, plot_maps

EXAMPLES = 8  # test images explained without --input
UNITS = 10  # units synthesised by activation-max without --unit
CHANNELS, TOP_K = 6, 8  # top-examples without --unit: this many channels, this many images each
TOP_K_ONE = 16  # top-examples of one --unit
# Which flags each method reads; any other is refused rather than silently ignored.
USES = {"filters": set(), "saliency": {"input"}, "occlusion": {"input"}, "gradcam": {"input", "layer"},
        "activation-max": {"layer", "unit"}, "top-examples": {"layer", "unit"}}
NEEDS_DATA = {"top-examples"}  # the test images, whatever the flags
ATTRIBUTIONS = {"saliency", "occlusion", "gradcam"}  # explain images: the test split's unless --input


def _check_request(run_dir: Path, method: str, flags: dict[str, object]) -> None:
    """Refuse, before anything is built, a method or flag that cannot apply to this run."""
    if method not in METHOD_NAMES:
        raise UserError(f"--method {method}: choose one of {', '.join(METHOD_NAMES)}")
    for flag, value in flags.items():
        if value is not None and flag not in USES[method]:
            uses = ", ".join(f"--{f}" for f in sorted(USES[method])) or "none"
            raise UserError(f"--{flag}: {method} does not use it (its options: {uses})")
    recipe, _, meta = load_config(run_dir)
    if not METHODS.get(recipe.method).build.predicts():
        raise UserError(f"{run_dir}: explain needs a classifier, and this {recipe.name} run (method "
                        f"{recipe.method}) trains no single classifier to ask")
    if meta.get("kind") != "images" or len(meta.get("input_shape", [])) != 3:
        raise UserError(f"{run_dir}: explain draws image classifiers, and this {recipe.name} run was trained on "
                        f"{meta.get('kind') or 'non-image'} data")


def _output_path(run_dir: Path, out: str | Path | None, method: str, image: str | None) -> Path:
    folder = Path(out) if out is not None else run_dir / "explain"
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {folder}: is a file, not a folder")
    return folder / (f"{method}-{Path(image).stem}.png" if image else f"{method}.png")


def _examples(loaded: LoadedRun, image: str | None) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
    """(x (N, C, H, W) on the model's device, true labels or None, a name per image)."""
    device = next(loaded.model.parameters()).device
    if image is not None:
        names, raw = read_inputs([image], loaded.meta)
        return loaded.preprocess(raw).to(device), None, [Path(n).name for n in names]
    x, y = loaded.run.data.split("test")
    firsts = {}
    for i, label in enumerate(y.tolist()):  # the first test image of each class, in class order
        firsts.setdefault(label, i)
        if len(firsts) == EXAMPLES:
            break
    chosen = sorted(firsts)
    index = [firsts[c] for c in chosen]
    return x[index].to(device), y[index].to(device), [f"test #{i}" for i in index]


def _captions(loaded: LoadedRun, x: torch.Tensor, y: torch.Tensor | None, names: list[str]) -> tuple[torch.Tensor,
                                                                                                       list[str]]:
    """(target classes, captions): the true class where known, else the predicted one."""
    with torch.no_grad(), evaluating(loaded.model):
        probs = class_logits(loaded.model, x).softmax(-1)
    pred = probs.argmax(-1)
    classes = loaded.meta.class_names
    target = pred if y is None else y
    captions = []
    for i, name in enumerate(names):
        guess = f"pred {classes[pred[i]]} ({float(probs[i, pred[i]]):.2f})"
        captions.append(f"{name}\n{guess}" if y is None else f"{name}\ntrue {classes[y[i]]}, {guess}")
    return target, captions


def explain_run(run_dir: str | Path, method: str, *, image: str | None = None, layer: str | None = None,
                unit: int | None = None, out: str | Path | None = None, checkpoint: int | str = "latest") -> Path:
    """Draw `method` (one of METHOD_NAMES) for the run in `run_dir`; returns the PNG's path."""
    run_dir = Path(run_dir)
    _check_request(run_dir, method, {"input": image, "layer": layer, "unit": unit})
    path = _output_path(run_dir, out, method, image)
    with_data = method in NEEDS_DATA or (method in ATTRIBUTIONS and image is None)
    loaded = load(run_dir, with_data=with_data, checkpoint=checkpoint)
    model = loaded.model
    head = f"{loaded.run.recipe.name}, step {loaded.step}"
    if method == "filters":
        name, weights = first_filters(model)
        return plot_filters(weights, f"{head}: first-layer filters ({name}, {tuple(weights.shape[1:])} each)", path)
    if method in ATTRIBUTIONS:
        return _attribution(loaded, method, image, layer, head, path)
    device = next(model.parameters()).device
    example = torch.zeros(1, *loaded.meta.input_shape, device=device)
    if layer is not None:
        find_layer(model, layer)
    if method == "activation-max":
        units = [unit] if unit is not None else list(range(min(UNITS, unit_count(model, example, layer))))
        images, scores = activation_max(model, tuple(loaded.meta.input_shape), units, layer)
        names = [f"class {loaded.meta.class_names[u]}" if layer is None else f"channel {u}" for u in units]
        captions = [f"{name}\nscore {float(s):.2f}" for name, s in zip(names, scores, strict=True)]
        return plot_image_grid(images.cpu(), captions, min(5, len(units)),
                               f"{head}: activation maximisation ({'logit' if layer is None else 'mean activation'}, "
                               "L2 + jitter)", path, "input (normalised units)")
    layer = layer or default_spatial_layer(model, example, "top-examples")
    x, _ = loaded.run.data.split("test")
    channels = [unit] if unit is not None else list(range(min(CHANNELS, unit_count(model, example, layer))))
    k = TOP_K if unit is None else TOP_K_ONE
    values, index = top_examples(model, x.to(device), layer, channels, k)
    captions = [f"#{int(i)}: {float(v):.2f}" for row_v, row_i in zip(values, index, strict=True)
                for v, i in zip(row_v, row_i, strict=True)]
    return plot_image_grid(x[index.flatten().cpu()].cpu(), captions, k if unit is None else TOP_K,
                           f"{head}: test images that most activate {layer} (strongest activation in the map)",
                           path, "input (normalised units)",
                           row_labels=[f"channel {c}" for c in channels] if unit is None else None)


def _attribution(loaded: LoadedRun, method: str, image: str | None, layer: str | None, head: str,
                 path: Path) -> Path:
    """Saliency, occlusion or Grad-CAM maps of the test examples (or --input) beside the images."""
    model = loaded.model
    x, y, names = _examples(loaded, image)
    target, captions = _captions(loaded, x, y, names)
    which = "the predicted class" if y is None else "the true class"
    if method == "saliency":
        maps = saliency(model, x, target)
        return plot_maps(x, maps, captions, "|d score / d pixel|",
                         f"{head}: gradient saliency for {which} (Simonyan et al. 2014)", path)
    if method == "occlusion":
        side, stride = default_patch(min(x.shape[-2:]))
        maps = occlusion(model, x, target, side, stride)
        return plot_maps(x, maps, captions, "drop in p(class)",
                         f"{head}: occlusion, grey {side}x{side} square, stride {stride}, for {which} "
                         "(Zeiler & Fergus 2014)", path, signed=True)
    layer = layer or default_spatial_layer(model, x, "gradcam")
    maps = gradcam(model, x, target, layer)
    return plot_maps(x, maps, captions, f"Grad-CAM at {layer}",
                     f"{head}: Grad-CAM on {layer} for {which} (Selvaraju et al. 2017)", path)

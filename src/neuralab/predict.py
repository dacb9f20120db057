"""Predictions on new files with a trained run: image files or a CSV -> label and probabilities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from neuralab.api import load
from neuralab.build import load_config
from neuralab.data.user import read_csv_features, read_image
from neuralab.errors import UserError
from neuralab.registry import METHODS


def read_inputs(paths: list[str], meta) -> tuple[list[str], torch.Tensor]:
    """(names, raw inputs) of image files or CSV rows, read as the run's data was: `UserError` on a file that
    is missing, unreadable or of the other kind."""
    names, rows = [], []
    for raw in paths:
        path = Path(raw)
        if path.suffix.lower() == ".csv":
            if meta.kind != "features":
                raise UserError(f"{path}: this run was trained on images; give image files")
            # Gaps are filled (in `preprocess`) only where training filled them: --data.missing mean.
            x = read_csv_features(path, None, features=meta.feature_names, missing="mean" if meta.fill else "error",
                                  hint="this run cannot fill it (train with --data.missing mean for that)").x
            names += [f"{path}:{i + 2}" for i in range(len(x))]
            rows.append(x.reshape(len(x), *meta.input_shape))  # a row of a sequence set is one (C, L) sequence
        else:
            if meta.kind != "images":
                raise UserError(f"{path}: this run was trained on CSV features; give a .csv file")
            if not path.is_file():
                raise UserError(f"{path}: file not found")
            c, h, _ = meta.input_shape
            rows.append(torch.from_numpy(read_image(path, h, c))[None])
            names.append(str(path))
    return names, torch.cat(rows)


def predict_files(run_dir: str | Path, inputs: list[str], top: int = 3) -> Iterator[str]:
    recipe, _, _ = load_config(Path(run_dir))
    if not METHODS.get(recipe.method).build.predicts():  # refused before anything is built
        raise UserError(f"{run_dir}: this {recipe.name} run does not predict class probabilities (its method, "
                        f"{recipe.method}, trains no single classifier to ask)")
    loaded = load(run_dir, with_data=False)
    if loaded.meta is None or not loaded.meta.class_names:
        raise UserError(f"{run_dir}: this run has no class labels to predict")
    names, raw = read_inputs(inputs, loaded.meta)
    probs = loaded.predict(loaded.preprocess(raw)).cpu()
    classes = loaded.meta.class_names
    for name, p in zip(names, probs, strict=True):
        best = p.topk(min(top, len(classes)))
        shown = ", ".join(f"{classes[i]} {v:.3f}" for v, i in zip(best.values.tolist(), best.indices.tolist(),
                                                                  strict=True))
        yield f"{name}\t{classes[int(p.argmax())]}\t{shown}"

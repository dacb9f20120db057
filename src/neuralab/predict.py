"""Predictions on new inputs with a trained run: image files, a CSV, or texts -> label and probabilities."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import torch

from neuralab.api import load
from neuralab.build import load_config
from neuralab.data.user import read_csv_features, read_image
from neuralab.data.vocab import PAD
from neuralab.errors import UserError
from neuralab.registry import METHODS


def read_texts(inputs: list[str], meta) -> tuple[list[str], torch.Tensor]:
    """(names, token ids (N, T)) of texts for a run trained on text: each input is a text, or a .txt file of one
    text a line (blank lines skipped). They go through the run's own vocabulary: words it never saw become <unk>
    and a text longer than its T tokens is cut, each noted once on stderr; an empty text is refused."""
    texts: list[tuple[str, str]] = []
    for raw in inputs:
        path = Path(raw)
        if path.suffix.lower() == ".txt":
            if not path.is_file():
                raise UserError(f"{path}: file not found")
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            texts += [(f"{path}:{i}", line) for i, line in enumerate(lines, 1) if line.strip()]
        else:
            texts.append((re.sub(r"\s+", " ", raw).strip(), raw))  # the text itself names it, on one line
    if not texts:
        raise UserError("no text to classify: the .txt files given hold only blank lines")
    vocab, length = meta.vocabulary(), meta.input_shape[-1]
    ids, unknown, cut = [], {}, 0
    for name, text in texts:
        encoded = vocab.encode(text)
        if not encoded:
            raise UserError(f"{name or repr(text)}: the text is empty; give some words")
        unknown.update(dict.fromkeys(vocab.unknown(text)))
        cut += len(encoded) > length
        ids.append(encoded)
    if unknown:
        shown = ", ".join(list(unknown)[:8]) + (" ..." if len(unknown) > 8 else "")
        print(f"note: {len(unknown)} word(s) this run never saw in training read as <unk>: {shown}", file=sys.stderr)
    if cut:
        print(f"note: {cut} text(s) longer than this run's {length} tokens were cut to their first {length}",
              file=sys.stderr)
    return [name for name, _ in texts], vocab.pad(ids, length)


def read_inputs(paths: list[str], meta) -> tuple[list[str], torch.Tensor]:
    """(names, raw inputs) of image files or CSV rows, read as the run's data was, or of texts for a run trained
    on text (`read_texts`): `UserError` on a file that is missing, unreadable or of the other kind."""
    if meta.kind == "text":
        return read_texts(paths, meta)
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
    x = raw.to(loaded.run.data.device) if loaded.meta.kind == "text" else loaded.preprocess(raw)  # ids as they are
    probs = loaded.predict(x).cpu()
    classes = loaded.meta.class_names
    if probs.dim() == 3:  # a tagger (N, T, K): the likeliest label of each token the input has
        lengths = (x != PAD).sum(1).tolist()
        for name, p, n in zip(names, probs, lengths, strict=True):
            yield f"{name}\t{', '.join(classes[i] for i in p[:n].argmax(-1).tolist())}"
        return
    for name, p in zip(names, probs, strict=True):
        best = p.topk(min(top, len(classes)))
        shown = ", ".join(f"{classes[i]} {v:.3f}" for v, i in zip(best.values.tolist(), best.indices.tolist(),
                                                                  strict=True))
        yield f"{name}\t{classes[int(p.argmax())]}\t{shown}"

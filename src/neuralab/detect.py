"""Objects in a new image with a trained detection run (`neuralab detect RUN_DIR image.png`): the image is read at
its own size, resized to the run's input size for the detector, and the boxes (and masks) found are mapped back to
the image's pixels, drawn on it as a PNG and returned as JSON-ready records: class name, score, box (x1, y1, x2, y2)
and, for a segmenting model, the mask as COCO's uncompressed RLE (`{"size": [h, w], "counts": [...]}`, column-major
runs starting with background, which `pycocotools.mask.frPyObjects` reads)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from neuralab.data.user import decode_image
from neuralab.errors import UserError

MASK_LEVEL = 0.5  # a mask of probabilities covers the pixels above this, as pycocotools' users binarise them


@dataclass(frozen=True)
class Found:
    """What `detect_image` found: one record per object (by decreasing score) and the picture it wrote."""

    records: list[dict[str, Any]]
    picture: Path


def read_picture(path: Path, channels: int) -> torch.Tensor:
    """An image file at its own size as (channels, h, w) float on [0, 1]; `DataError` naming an unreadable file."""
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    return torch.from_numpy(decode_image(path, channels)).float() / 255


def mask_rle(mask: torch.Tensor) -> dict[str, Any]:
    """A binary mask (h, w) as COCO's uncompressed RLE: run lengths of the column-major pixels, background first."""
    flat = mask.t().reshape(-1).to(torch.int8)
    change = torch.nonzero(flat[1:] != flat[:-1]).flatten() + 1
    edges = torch.cat([torch.tensor([0]), change, torch.tensor([len(flat)])])
    counts = torch.diff(edges).tolist()
    if bool(flat[0]):  # the runs start with background, of length 0 here
        counts = [0, *counts]
    return {"size": list(mask.shape), "counts": counts}


def _records(found: dict[str, torch.Tensor], class_names: list[str]) -> list[dict[str, Any]]:
    records = []
    for k in range(len(found["boxes"])):
        label = int(found["labels"][k])
        record = {"label": class_names[label] if 0 <= label < len(class_names) else str(label), "class": label,
                  "score": round(float(found["scores"][k]), 4),
                  "box": [round(float(v), 1) for v in found["boxes"][k]]}
        if "masks" in found:
            record["mask"] = mask_rle(found["masks"][k, 0] > MASK_LEVEL)
        records.append(record)
    return records


def detect_image(run_dir: str | Path, image: str | Path, out: str | Path | None = None, threshold: float = 0.5,
                 checkpoint: int | str = "latest") -> Found:
    """Detect the objects of `image` with the run's detector, keep those scoring `threshold` or more, draw them on
    the image at `out` (default RUN_DIR/detections/<image name>.png) and return them."""
    from neuralab.api import load
    from neuralab.build import load_config
    from neuralab.registry import METHODS
    from neuralab.viz.detection import draw_detections

    if not 0 <= threshold <= 1:
        raise UserError(f"--threshold {threshold}: a score threshold lies in [0, 1]")
    run_dir, image = Path(run_dir), Path(image)
    recipe, _, meta = load_config(run_dir)
    if not METHODS.get(recipe.method).build.detects():
        raise UserError(f"{run_dir}: this {recipe.name} run does not detect objects (its method, {recipe.method}, "
                        "cannot); detect with an object-detection run (e.g. faster-rcnn-mnist-scenes)")
    out = Path(out) if out else run_dir / "detections" / f"{image.stem}.png"
    if out.suffix.lower() != ".png":
        raise UserError(f"--out {out}: the picture is written as PNG; give a .png path")
    channels, height, width = meta["input_shape"]
    picture = read_picture(image, channels)  # (C, h, w)
    h, w = picture.shape[1:]
    method = load(run_dir, with_data=False, checkpoint=checkpoint).run.method
    resized = F.interpolate(picture[None], size=(height, width), mode="bilinear", align_corners=False,
                            antialias=True) if (h, w) != (height, width) else picture[None]
    found = {k: v.cpu() for k, v in method.detect(resized)[0].items()}
    keep = found["scores"] >= threshold
    found = {k: v[keep] for k, v in found.items()}
    found["boxes"] = found["boxes"] * torch.tensor([w / width, h / height] * 2)  # back to the image's pixels
    if "masks" in found and len(found["masks"]) and (h, w) != (height, width):
        found["masks"] = F.interpolate(found["masks"], size=(h, w), mode="bilinear", align_corners=False)
    title = f"{image.name}: {len(found['boxes'])} objects scoring >= {threshold:g}"
    draw_detections(picture[None], [found], list(meta["class_names"]), out, title=title, columns=1, panel_inches=5.0)
    return Found(_records(found, list(meta["class_names"])), out)

"""Save a test scene of a detection recipe's data as a PNG file, the picture `neuralab detect` draws on in
docs/detection.md: `python scripts/detection_scene.py --out docs/img/detection-scene.png [--recipe R] [--index K]`.

The scene is one the recipe is scored on (its test split, as its data config generates it), so the picture is never
one the detector trained on. Without --index: the first test scene with at least --objects objects."""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from neuralab.data.detection_scenes import SceneConfig, build_mnist_scenes
from neuralab.registry import RECIPES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--recipe", default="faster-rcnn-mnist-scenes", help="whose test scenes")
    parser.add_argument("--index", type=int, help="which test scene (0-based)")
    parser.add_argument("--objects", type=int, default=4, help="without --index: fewest objects in the scene")
    args = parser.parse_args()
    config = dict(RECIPES.get(args.recipe).data_config)
    config["n_train"] = 1  # training scenes come from their own generator: the test scenes do not change
    test = build_mnist_scenes(SceneConfig(**config), seed=0).test
    index = args.index if args.index is not None else int((test.counts >= args.objects).nonzero()[0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(test.images[index, 0].numpy()).save(args.out)  # (H, W) uint8
    print(f"{args.out}: test scene {index} of {args.recipe} ({int(test.counts[index])} objects)")


if __name__ == "__main__":
    main()

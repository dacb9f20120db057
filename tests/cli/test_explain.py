"""`neuralab explain`: every method draws a titled PNG for a trained LeNet-5, and mistakes get one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import neuralab
from neuralab.cli import main
from neuralab.interpret import METHOD_NAMES
from tests.conftest import assert_png_drawn

# (width, height) at least: 8 test images side by side for the maps; a 6-filter grid; 2 rows of 5; 6 rows of 8
MIN_SIZE = {"filters": (400, 250), "saliency": (1500, 400), "occlusion": (1500, 400), "gradcam": (1500, 400),
            "activation-max": (900, 400), "top-examples": (1200, 1000)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A briefly trained lenet5-digits run and an MLP run (no convolution) on the same digits."""
    root = tmp_path_factory.mktemp("explain")
    run = {"steps": 30, "eval_every": 30, "checkpoint_every": 30, "device": "cpu", "threads": 1}
    neuralab.train("lenet5-digits", {"run": run}, out=root / "lenet")
    neuralab.train("mlp-digits", {"run": run}, out=root / "mlp")
    return {"lenet": root / "lenet", "mlp": root / "mlp"}


def _explain(*args: object) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["explain", *map(str, args)])
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_draws_a_png_of_the_expected_size(method, runs, tmp_path):
    code, out, err = _explain(runs["lenet"], "--method", method, "--out", tmp_path)
    assert code == 0, err
    path = Path(out.strip())
    assert path == tmp_path / f"{method}.png"
    assert_png_drawn(path, min_size=MIN_SIZE[method])


def test_an_input_image_is_read_as_predict_reads_it(runs, tmp_path):
    pixels = np.zeros((40, 40), dtype=np.uint8)
    pixels[8:32, 18:22] = 255  # a "1", at another size than the model's: resized like predict does
    image = tmp_path / "one.png"
    Image.fromarray(pixels).save(image)
    code, out, err = _explain(runs["lenet"], "--method", "gradcam", "--input", image, "--layer", "features.0",
                              "--out", tmp_path)
    assert code == 0, err
    assert Path(out.strip()) == tmp_path / "gradcam-one.png"
    assert_png_drawn(tmp_path / "gradcam-one.png", min_size=(250, 300))


def test_one_unit_of_a_layer(runs, tmp_path):
    code, out, err = _explain(runs["lenet"], "--method", "top-examples", "--layer", "features.6", "--unit", "3",
                              "--out", tmp_path)
    assert code == 0, err
    assert_png_drawn(Path(out.strip()), min_size=(1200, 300))


@pytest.mark.parametrize("case, words", [
    ("not-a-run", ["not a run directory"]),
    ("gradcam-on-mlp", ["gradcam needs a convolutional layer", "has none"]),
    ("filters-on-mlp", ["filters needs a convolutional layer"]),
    ("unknown-layer", ["--layer features.99", "no such layer", "features.3", "classifier.1"]),
    ("linear-layer", ["--layer classifier.1", "not feature maps"]),
    ("unreadable-input", ["unreadable image"]),
    ("missing-input", ["file not found"]),
    ("unused-flag", ["--input", "filters does not use it"]),
    ("unit-out-of-range", ["--unit 10", "classes 0..9"]),
])
def test_mistakes_give_one_line_and_exit_2(case, words, runs, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    lenet, mlp = runs["lenet"], runs["mlp"]
    args = {"not-a-run": [tmp_path, "--method", "saliency"],
            "gradcam-on-mlp": [mlp, "--method", "gradcam"],
            "filters-on-mlp": [mlp, "--method", "filters"],
            "unknown-layer": [lenet, "--method", "gradcam", "--layer", "features.99"],
            "linear-layer": [lenet, "--method", "gradcam", "--layer", "classifier.1"],
            "unreadable-input": [lenet, "--method", "saliency", "--input", broken],
            "missing-input": [lenet, "--method", "saliency", "--input", tmp_path / "absent.png"],
            "unused-flag": [lenet, "--method", "filters", "--input", broken],
            "unit-out-of-range": [lenet, "--method", "activation-max", "--unit", "10"]}[case]
    code, out, err = _explain(*args, "--out", tmp_path / "out")
    assert code == 2 and out == "", err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neuralab: error: "), err
    for word in words:
        assert word in lines[0], lines[0]
    assert not (tmp_path / "out").exists()  # nothing half-written

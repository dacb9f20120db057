"""`neuralab info` prints every layer's output shape; a net that cannot take the data's images fails at build
time in one line naming the layer and the sizes (curriculum C1)."""

from __future__ import annotations

from tests.conftest import run_main


def test_info_prints_each_layers_output_shape_and_the_full_setting():
    r = run_main("info", "vgg11-fashion")
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.startswith("  ")}
    assert rows["input"][1] == "1x32x32"  # Fashion-MNIST resized by --data.resize 32
    assert rows["features.0"][1:3] == ["Conv2d", "16x32x32"]  # a quarter of the paper's 64 maps, size kept
    assert rows["features.3"][1:3] == ["MaxPool2d", "16x16x16"]  # each block halves the side
    assert rows["features.28"][1:3] == ["MaxPool2d", "128x1x1"]  # 32 / 2^5
    assert "--run.full (the paper's setting, for GPUs): model: batch_norm=False" in r.stdout


def test_an_imagenet_sized_net_on_28_px_images_fails_at_build_in_one_line(tmp_path):
    out = tmp_path / "run"
    r = run_main("train", "alexnet-fashion", "--model.stem", "imagenet", "--run.steps", "1", "--out", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("neuralab: error: alexnet cannot take 1x28x28 inputs: features.7 (MaxPool2d k=3 s=2): "
                           "input 2x2 is smaller than its 3x3 window"), line
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_info_takes_model_overrides_so_the_imagenet_configuration_can_be_read():
    r = run_main("info", "vgg", "--model.depth", "16", "--model.image_size", "224", "--model.in_channels", "3",
                "--model.num_classes", "1000", "--model.hidden", "4096")
    assert r.returncode == 0, r.stderr
    assert "parameters: 138,357,544" in r.stdout  # Simonyan & Zisserman's VGG-16
    rows = {line.split()[0]: line.split() for line in r.stdout.splitlines() if line.startswith("  ")}
    assert rows["input"][1] == "3x224x224" and rows["features.30"][1:3] == ["MaxPool2d", "512x7x7"]


def test_info_refuses_overrides_a_model_cannot_take_in_one_line():
    for args, message in ((("alexnet", "--run.seed", "1"), "a model takes --model.FIELD overrides only"),
                          (("alexnet", "--model.stem", "imagenet"), "features.7 (MaxPool2d k=3 s=2): input 2x2"),
                          (("alexnet-fashion", "--model.stem", "imagenet"), "alexnet cannot take 1x28x28 inputs")):
        r = run_main("info", *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        [line] = r.stderr.strip().splitlines()
        assert message in line, line

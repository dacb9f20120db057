"""AlexNet, ZFNet and VGG (curriculum C2): parameter counts at the ImageNet configuration against the published
figures, the small-input variants, and the paper settings that `--run.full` selects."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from neuralab.build import resolve
from neuralab.data.sources import MnistConfig, SyntheticConfig, build_mnist, build_synthetic
from neuralab.errors import DataError, UserError
from neuralab.nn.shapes import ShapeError, trace_shapes
from neuralab.registry import MODELS, RECIPES

IMAGENET = dict(in_channels=3, image_size=224, num_classes=1000, hidden=4096)


def _params(name: str, **changes) -> int:
    """Parameters of a model built on the meta device: shapes only, no memory for 138M weights."""
    entry = MODELS.get(name)
    with torch.device("meta"):
        model = entry.cls(dataclasses.replace(entry.config(), **changes))
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name, changes, published", [
    ("alexnet", dict(stem="imagenet", **IMAGENET), 60_965_224),  # the paper's two-GPU net ("60 million")
    ("zfnet", dict(stem="imagenet", **IMAGENET), 62_357_608),
    ("vgg", dict(depth=11, **IMAGENET), 132_863_336),  # torchvision vgg11 .. vgg19_bn
    ("vgg", dict(depth=13, **IMAGENET), 133_047_848),
    ("vgg", dict(depth=16, **IMAGENET), 138_357_544),
    ("vgg", dict(depth=19, **IMAGENET), 143_667_240),
    ("vgg", dict(depth=11, batch_norm=True, **IMAGENET), 132_868_840),
    ("vgg", dict(depth=16, batch_norm=True, **IMAGENET), 138_365_992),
    ("vgg", dict(depth=19, batch_norm=True, **IMAGENET), 143_678_248),
], ids=lambda v: v if isinstance(v, str) else None)
def test_parameter_counts_match_the_published_figures_within_1_percent(name, changes, published):
    assert _params(name, **changes) == pytest.approx(published, rel=0.01)


def test_lenet5_at_the_papers_configuration_has_its_60000_trainable_parameters():
    # LeCun et al. 1998: C1 156 + S2 12 + C3 1,516 + S4 32 + C5 48,120 + F6 10,164 = 60,000 trainable parameters
    # (the RBF output units are fixed). The default, modern net connects C3 to all six S2 maps (16 x (6 x 25 + 1)
    # = 2,416 instead of the table's 1,516), pools without trainable coefficients (S2, S4: 12 + 32) and ends in a
    # trained linear layer (84 x 10 + 10 = 850): 61,706.
    assert _params("lenet5", image_size=32, c3="table", pool="trainable", output="rbf") == 60_000
    assert _params("lenet5") == 61_706 == 60_000 + (2_416 - 1_516) - (12 + 32) + 850


def test_alexnet_single_tower_is_within_2_5_percent_of_torchvision():
    # torchvision's 61,100,840 uses other channel counts (64-192-384-256-256); ours keeps the paper's 96-256-...
    assert _params("alexnet", stem="imagenet", groups=1, **IMAGENET) == pytest.approx(61_100_840, rel=0.025)


@pytest.mark.parametrize("name, extra, maps", [
    ("alexnet", dict(stem="imagenet"), {"features.0": (96, 55, 55), "features.3": (96, 27, 27),
                                        "features.14": (256, 6, 6)}),
    ("zfnet", dict(stem="imagenet"), {"features.0": (96, 110, 110), "features.2": (96, 55, 55),
                                      "features.4": (256, 26, 26), "features.6": (256, 13, 13),
                                      "features.14": (256, 6, 6)}),  # the sizes of the paper's figure 3
    ("vgg", dict(depth=16), {"features.30": (512, 7, 7)}),
])
def test_imagenet_configurations_give_the_papers_map_sizes(name, extra, maps):
    entry = MODELS.get(name)
    with torch.device("meta"):
        model = entry.cls(dataclasses.replace(entry.config(), **extra, **IMAGENET))
    shapes = {s.name: s.output for s in trace_shapes(model, (3, 224, 224))}
    assert {k: shapes[k] for k in maps} == maps
    assert shapes[max(shapes, key=list(shapes).index)] == (1000,)


@pytest.mark.parametrize("name, changes, layer", [
    ("alexnet", dict(stem="imagenet"), r"features\.7 \(MaxPool2d k=3 s=2\): input 2x2 is smaller than its 3x3"),
    ("vgg", dict(image_size=28), r"features\.20 \(MaxPool2d k=2 s=2\): input 1x1 is smaller than its 2x2"),
    ("zfnet", dict(stem="imagenet", image_size=32), r"features\.14 \(MaxPool2d k=3 s=2 ceil\): input 1x1"),
])
def test_a_28_px_input_into_an_imagenet_sized_net_fails_naming_the_layer(name, changes, layer):
    entry = MODELS.get(name)
    with pytest.raises(ShapeError, match=layer):
        entry.cls(dataclasses.replace(entry.config(), **changes))


def test_run_full_applies_the_papers_setting_under_the_users_overrides():
    recipe = RECIPES.get("alexnet-fashion")
    cpu = resolve(recipe)
    full = resolve(recipe, {"run": {"full": True}, "method": {"lr": 0.005}})
    assert (cpu["model"].stem, cpu["data"].resize, cpu["method"].optimizer) == ("small", 0, "adam")
    assert (full["model"].stem, full["model"].width, full["model"].lrn) == ("imagenet", 1.0, True)
    assert (full["data"].resize, full["run"].epochs, full["method"].schedule) == (224, 90, "step")
    assert (full["method"].optimizer, full["method"].weight_decay, full["method"].lr) == ("momentum", 5e-4, 0.005)
    entry = MODELS.get("alexnet")
    with torch.device("meta"):  # the paper's net on Fashion-MNIST resized to 224: it fits, 10 outputs
        model = entry.cls(dataclasses.replace(full["model"], image_size=224))
    assert trace_shapes(model, (1, 224, 224))[-1].output == (10,)
    with pytest.raises(UserError, match="no separate full setting"):
        resolve(RECIPES.get("lenet5-digits"), {"run": {"full": True}})


def test_resize_gives_images_of_the_new_side_and_refuses_feature_rows(tmp_path):
    for label, value in (("dark", 40), ("light", 200)):  # a folder of 12x12 images, two classes
        (tmp_path / label).mkdir()
        for i in range(4):
            pixels = np.full((12, 12), value + 10 * i, dtype=np.uint8)
            pixels[:6] = 0
            Image.fromarray(pixels).save(tmp_path / label / f"{i}.png")
    plain = build_mnist(MnistConfig(path=str(tmp_path), image_size=12, test_fraction=0.25), seed=0)
    data = build_mnist(MnistConfig(path=str(tmp_path), image_size=12, test_fraction=0.25, resize=32), seed=0)
    assert data.meta.input_shape == [1, 32, 32] and data.x_test.shape[1:] == (1, 32, 32)
    assert data.meta.mean == plain.meta.mean  # statistics of the original pixels (resizing is linear)
    expected = torch.nn.functional.interpolate(plain.x_train, size=32, mode="bilinear", align_corners=False)
    assert torch.allclose(data.x_train, expected)
    with pytest.raises(DataError, match="--data.resize 32: synthetic-xor holds feature rows"):
        build_synthetic(SyntheticConfig(resize=32), seed=0)

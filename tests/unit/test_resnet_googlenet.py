"""ResNet and GoogLeNet: published parameter counts at the ImageNet configuration, block shapes, and auxiliary
classifiers that train but never evaluate, predict or export."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from neuralab.contracts import AuxiliaryOutputs, RunContext
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.methods.supervised import Supervised, SupervisedConfig, evaluate_split
from neuralab.models.cnn.googlenet import MODULES, GoogLeNet, GoogLeNetConfig
from neuralab.models.cnn.resnet import BasicBlock, Bottleneck, ResNet, ResNetConfig

IMAGENET = dict(in_channels=3, image_size=224, num_classes=1000, stem="imagenet")
# torchvision's documented counts (torchvision.models.resnetNN(weights=...).meta["num_params"]).
RESNET_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
TORCHVISION_GOOGLENET = 6_624_904  # without auxiliary heads; its "5x5" branch is a 3x3 (pytorch/vision#906)


def _params(model: torch.nn.Module, skip: str = "") -> int:
    return sum(p.numel() for name, p in model.named_parameters() if not (skip and name.startswith(skip)))


@pytest.mark.parametrize("depth", sorted(RESNET_PARAMS))
def test_resnet_at_the_imagenet_configuration_has_the_published_parameter_count(depth):
    with torch.device("meta"):  # shapes only: no memory, no init time
        model = ResNet(ResNetConfig(depth=depth, **IMAGENET))
        if depth == 50:  # one forward pass of a bottleneck net at 224x224 (shapes only)
            assert tuple(model(torch.empty(2, 3, 224, 224)).shape) == (2, 1000)
    assert _params(model) == pytest.approx(RESNET_PARAMS[depth], rel=0.01)
    assert _params(model) == RESNET_PARAMS[depth]  # in fact exactly: same layers as torchvision


def test_googlenet_parameter_count_is_torchvisions_with_the_papers_5x5_kernels():
    """Without auxiliary heads: torchvision's count plus what 5x5 instead of 3x3 kernels add, exactly. The paper's
    Table 1 column sums to 6.80M; its own layer widths give 7.0M (the column is rounded and does not match
    the widths), so the paper's net is 3% over that figure."""
    with torch.device("meta"):
        bn = GoogLeNet(GoogLeNetConfig(**IMAGENET))
        paper = GoogLeNet(GoogLeNetConfig(batch_norm=False, **IMAGENET))
        out = bn.eval()(torch.empty(2, 3, 224, 224))
    assert tuple(out.shape) == (2, 1000)
    five_by_five_extra = sum((25 - 9) * w[3] * w[4] for w in MODULES.values() if w)  # 5x5 reduce x 5x5 outputs
    assert _params(bn, skip="aux.") - five_by_five_extra == TORCHVISION_GOOGLENET
    assert _params(paper, skip="aux.") == pytest.approx(6.8e6, rel=0.03)
    assert _params(paper) - _params(paper, skip="aux.") == pytest.approx(2 * 3.2e6, rel=0.02)  # 2 heads of ~3.2M


def test_bottleneck_block_expands_four_times_and_halves_the_side_through_a_projection():
    block = Bottleneck(64, 32, stride=2)
    x = torch.randn(2, 64, 16, 16)
    assert tuple(block(x).shape) == (2, 128, 8, 8)
    assert [m.kernel_size for m in block.residual if isinstance(m, torch.nn.Conv2d)] == [(1, 1), (3, 3), (1, 1)]
    block.eval()
    with torch.no_grad():  # y = relu(F(x) + projection(x))
        assert torch.allclose(block(x), F.relu(block.residual(x) + block.shortcut(x)))


def test_basic_block_adds_its_input_unchanged_where_the_shape_is_kept():
    block = BasicBlock(16, 16, stride=1).eval()
    assert isinstance(block.shortcut, torch.nn.Identity)
    for p in block.residual.parameters():
        torch.nn.init.zeros_(p)  # F(x) = 0: the block is relu(x)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        assert torch.equal(block(x), F.relu(x))


def test_small_stem_keeps_the_image_side_and_the_imagenet_stem_divides_it_by_four():
    small = ResNet(ResNetConfig(in_channels=1, image_size=28, width=8))
    with torch.device("meta"):
        big = ResNet(ResNetConfig(**IMAGENET))
        assert tuple(big.stem(torch.empty(1, 3, 224, 224)).shape) == (1, 64, 56, 56)
    assert tuple(small.stem(torch.randn(1, 1, 28, 28)).shape) == (1, 8, 28, 28)


def _googlenet(**changes) -> GoogLeNet:
    torch.manual_seed(0)
    return GoogLeNet(GoogLeNetConfig(in_channels=1, image_size=28, num_classes=5, width=0.125, **changes))


def test_auxiliary_classifiers_answer_in_training_only():
    model, x = _googlenet(), torch.randn(3, 1, 28, 28)
    out = model.train()(x)
    assert isinstance(out, AuxiliaryOutputs) and out.weight == 0.3
    assert [tuple(a.shape) for a in out.auxiliary] == [(3, 5), (3, 5)]
    assert tuple(out.main.shape) == (3, 5)
    assert isinstance(model.eval()(x), torch.Tensor)
    assert isinstance(_googlenet(aux_classifiers=False).train()(x), torch.Tensor)


def _method(model: torch.nn.Module, **cfg) -> tuple[Supervised, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(16, 1, 28, 28, generator=g), torch.randint(0, 5, (16,), generator=g)
    data = SupervisedData((x, y), (x, y), DataMeta("images", [1, 28, 28], 5, list("abcde")), batch_size=16, seed=0)
    ctx = RunContext(total_steps=1, device=torch.device("cpu"), seed=0, run_dir=None)
    return Supervised(SupervisedConfig(**cfg), model, data, ctx), x, y


def test_a_training_step_adds_the_weighted_auxiliary_losses():
    model = _googlenet()
    method, x, y = _method(model, optimizer="sgd", lr=0.1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    out = model.train()(x)
    expected = 0.3 * sum(F.cross_entropy(a, y) for a in out.auxiliary).detach()
    model.load_state_dict(state)  # the step starts from the same weights, statistics and dropout masks
    torch.manual_seed(5)
    metrics = method.step((x, y))
    assert float(metrics["train/aux_loss"]) == pytest.approx(expected.item(), rel=1e-5)
    assert float(metrics["train/loss"]) == pytest.approx(F.cross_entropy(out.main, y).item(), rel=1e-5)
    head = model.aux["4a"].layers[-1].weight
    assert not torch.equal(head, state["aux.4a.layers.6.weight"])  # the heads learn from their own loss


def test_evaluation_and_prediction_use_the_main_output_alone():
    model = _googlenet()
    method, x, y = _method(model)
    method.step((x, y))
    model.eval()
    with torch.no_grad():
        logits = model(x)
    assert torch.allclose(method.predict_proba(x), logits.softmax(-1))
    acc = (logits.argmax(-1) == y).float().mean().item()
    assert evaluate_split(model, x, y, "cross_entropy", 8)["acc"] == pytest.approx(acc)


def test_width_scales_every_layer():
    narrow = _params(GoogLeNet(dataclasses.replace(GoogLeNetConfig(), width=0.5)), skip="aux.")
    full = _params(GoogLeNet(GoogLeNetConfig()), skip="aux.")
    assert 0.2 < narrow / full < 0.3  # parameters of convolutions scale with width squared

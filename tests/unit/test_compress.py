"""Pruning, masks under fine-tuning, int8 quantisation and the compressed weight files (neuralab.compress)."""

from __future__ import annotations

import copy

import pytest
import torch

import neuralab
from neuralab.compress import pruning, storage
from neuralab.compress.quantization import fusable_groups, quantize_int8
from neuralab.compress.study import weight_sparsity
from neuralab.contracts import RunContext
from neuralab.data.tensors import DataMeta, SupervisedData
from neuralab.methods.supervised import SupervisedConfig, evaluate_split
from neuralab.registry import METHODS


def _masked(model: torch.nn.Module) -> int:
    return sum(int((m.weight_mask == 0).sum()) for _, m in pruning.prunable(model))


@pytest.mark.parametrize("target", [0.5, 0.9, 0.95])
def test_global_pruning_reaches_the_requested_sparsity_exactly(target):
    torch.manual_seed(0)
    model = neuralab.create_model("lenet5")
    total = pruning.total_weights(model)
    pruning.prune_to(model, target)
    assert _masked(model) == round(target * total)
    assert pruning.sparsity(model) == pytest.approx(round(target * total) / total, abs=0)


def test_pruning_is_global_by_magnitude_and_iterative_rounds_land_on_the_target():
    torch.manual_seed(1)
    model = neuralab.create_model("lenet5")
    before = {n: m.weight.detach().clone() for n, m in pruning.prunable(model)}
    for level in pruning.schedule(0.9, 3):
        pruning.prune_to(model, level)
    assert _masked(model) == round(0.9 * pruning.total_weights(model))
    masks = pruning.masks(model)
    pruned = torch.cat([before[n][masks[n] == 0].abs() for n in masks])
    kept = torch.cat([before[n][masks[n] == 1].abs() for n in masks])
    assert pruned.max() <= kept.min()  # one threshold for the whole network...
    shares = [float((masks[n] == 0).float().mean()) for n in masks]
    assert max(shares) - min(shares) > 0.1  # ...so layers lose different shares


def test_schedule_removes_the_same_share_of_survivors_each_round():
    levels = pruning.schedule(0.875, 3)
    assert levels == pytest.approx([0.5, 0.75, 0.875])


def _digits_like(n: int = 256) -> SupervisedData:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g)
    meta = DataMeta(kind="images", input_shape=[1, 28, 28], num_classes=10, class_names=[str(i) for i in range(10)])
    return SupervisedData((x, y), (x[:64], y[:64]), meta, batch_size=32, seed=0)


def test_masks_stay_applied_while_the_supervised_rule_fine_tunes():
    torch.manual_seed(2)
    model = neuralab.create_model("lenet5")
    pruning.prune_to(model, 0.8)
    masks = pruning.masks(model)
    start = {n: m.weight_orig.detach().clone() for n, m in pruning.prunable(model)}
    data = _digits_like()
    # Adam with weight decay moves even the masked entries of weight_orig; the effective weights must not move.
    cfg = SupervisedConfig(optimizer="adam", lr=1e-2, weight_decay=1e-2)
    method = METHODS.get("supervised").build(cfg, model, data, RunContext(total_steps=10, device=torch.device("cpu"),
                                                                          seed=0, run_dir=None))
    for _ in range(10):
        method.step(data.next_batch())
    for name, m in pruning.prunable(model):
        assert torch.all(m.weight[masks[name] == 0] == 0)
        assert not torch.equal(m.weight_orig[masks[name] == 1], start[name][masks[name] == 1])  # it did train
    pruning.make_permanent(model)
    assert pruning.sparsity(model) == pytest.approx(0.8, abs=1e-4)
    assert not any(torch.nn.utils.prune.is_pruned(m) for _, m in pruning.prunable(model))


def test_same_mask_on_a_fresh_initialisation():
    torch.manual_seed(3)
    trained, fresh = neuralab.create_model("lenet5"), neuralab.create_model("lenet5")
    pruning.prune_to(trained, 0.9)
    pruning.apply_masks(fresh, pruning.masks(trained))
    for (_, a), (_, b) in zip(pruning.prunable(trained), pruning.prunable(fresh), strict=True):
        assert torch.equal(a.weight == 0, b.weight == 0)
        assert not torch.equal(a.weight, b.weight)


@pytest.fixture(scope="module")
def trained_lenet(tmp_path_factory):
    """LeNet-5 trained 60 steps on the 8x8 digits (upscaled): a tiny trained classifier."""
    run = neuralab.train("lenet5-digits", {"run": {"steps": 60, "threads": 1}},
                         out=tmp_path_factory.mktemp("lenet") / "run")
    return run


def test_int8_keeps_accuracy_and_its_file_is_about_four_times_smaller(trained_lenet, tmp_path):
    run = trained_lenet
    model = copy.deepcopy(run.model).cpu().eval()
    x, y = (t.cpu() for t in run.data.split("test"))
    q = quantize_int8(model, run.data.split("train")[0][:512])
    fp32 = evaluate_split(model, x, y, "cross_entropy", 500)["acc"]
    int8 = evaluate_split(q, x, y, "cross_entropy", 500)["acc"]
    assert fp32 > 0.8  # trained, so the comparison means something
    assert abs(int8 - fp32) <= 0.02
    dense_bytes = storage.write_weights(model, tmp_path / "fp32.safetensors")
    int8_bytes = storage.write_weights(q, tmp_path / "int8.safetensors")
    assert 3.6 < dense_bytes / int8_bytes < 4.1
    # The file holds the quantised network: decoding it gives back its dequantised weights.
    decoded = storage.read_weights(tmp_path / "int8.safetensors")
    conv = q.module.features[6].weight()
    assert torch.allclose(decoded["module.features.6.weight"], conv.dequantize(), atol=0, rtol=1e-6)


def test_pruned_int8_keeps_pruned_zeros(trained_lenet):
    model = copy.deepcopy(trained_lenet.model).cpu().eval()
    pruning.prune_to(model, 0.9)
    pruning.make_permanent(model)
    q = quantize_int8(model, trained_lenet.data.split("train")[0][:256])
    assert weight_sparsity(q) >= weight_sparsity(model) == pytest.approx(0.9, abs=1e-4)


def test_sparse_file_round_trips_and_shrinks_with_sparsity(tmp_path):
    torch.manual_seed(4)
    model = neuralab.create_model("lenet5").eval()
    dense_bytes = storage.write_weights(model, tmp_path / "dense.safetensors")
    pruning.prune_to(model, 0.9)
    pruning.make_permanent(model)
    sparse_bytes = storage.write_weights(model, tmp_path / "sparse.safetensors")
    decoded = storage.read_weights(tmp_path / "sparse.safetensors")
    for name, t in model.state_dict().items():
        assert torch.equal(decoded[name], t), name
    # 10% of the values plus one bit per weight: about 4 / (0.1 * 4 + 1/8) = 7.6x smaller.
    assert 6.5 < dense_bytes / sparse_bytes < 8


def test_conv_or_linear_followed_by_relu_is_fused():
    mlp = neuralab.create_model("mlp", hidden=(32, 16))
    assert fusable_groups(mlp) == [["net.1", "net.2"], ["net.3", "net.4"]]
    assert fusable_groups(neuralab.create_model("lenet5")) == []  # tanh: nothing to fuse

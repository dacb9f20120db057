"""Contract tests run over every registered model: no per-model code needed."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from neuralab.config import describe, validate
from neuralab.contracts import AuxiliaryOutputs
from neuralab.registry import MODELS

ENTRIES = [entry for _, entry in MODELS.items()]


def _heads(out):
    """Every output a training-mode forward pass makes: the main one, then any auxiliary classifiers'."""
    return (out.main, *out.auxiliary) if isinstance(out, AuxiliaryOutputs) else (out,)


def _call(model, x):
    """The model on its example input: a tuple (source and target tokens of a seq2seq model) is unpacked."""
    return model(*x) if isinstance(x, tuple) else model(x)


def _batch(x) -> int:
    return (x[0] if isinstance(x, tuple) else x).shape[0]


def _build(entry, seed=0):
    torch.manual_seed(seed)
    cfg = entry.config()
    return entry.cls(cfg), cfg


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_forward_shape_and_finite(entry):
    model, cfg = _build(entry)
    x = entry.example_input(cfg)
    for out in _heads(_call(model, x)):
        assert out.shape[0] == _batch(x)
        assert torch.isfinite(out).all()
    model.eval()  # auxiliary classifiers train only: evaluation sees the main output alone
    assert isinstance(_call(model, x), torch.Tensor)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_trainable_parameter_gets_a_gradient(entry):
    model, cfg = _build(entry)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        pytest.skip(f"{entry.name} is trained without gradients")
    x = entry.example_input(cfg)
    outs = _heads(_call(model, x))
    loss = sum(out.float().pow(2).mean() for out in outs)
    if hasattr(model, "discriminate"):  # a GAN's discriminator scores the generator's output under the same labels
        loss = loss + model.discriminate(outs[0], *(x[1:] if isinstance(x, tuple) else ())).float().pow(2).mean()
    loss.backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None, name
            grad = p.grad.coalesce().values() if p.grad.is_sparse else p.grad  # word2vec's sparse embeddings
            assert torch.isfinite(grad).all(), name


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_seeded_construction_is_deterministic(entry):
    a, _ = _build(entry, seed=3)
    b, _ = _build(entry, seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_config_fields_are_documented(entry):
    cfg = entry.config()
    assert dataclasses.is_dataclass(cfg)
    for name, _, _, doc in describe(cfg):
        assert doc.strip(), f"{entry.name}.{name} has no doc"
    assert entry.paper, f"{entry.name} names no paper"


# data-set (and environment) sizes
SIZE_FIELDS = ("num_classes", "in_features", "image_size", "in_channels", "length", "horizon", "steps", "n_actions")
# sizes of the output's last axis: classes, forecast, generated, one value per action
OUTPUT_FIELDS = ("num_classes", "horizon", "steps", "n_actions")


def _resized(entry):
    """The default config with every size field moved off its default to another valid value."""
    cfg = entry.config()
    changes = {}
    for f in dataclasses.fields(cfg):
        if f.name not in SIZE_FIELDS:
            continue
        choices = f.metadata.get("choices")
        default = getattr(cfg, f.name)
        changes[f.name] = next(c for c in choices if c != default) if choices else default + 3
    return dataclasses.replace(cfg, **changes), changes


SIZED = [entry for entry in ENTRIES if any(f.name in SIZE_FIELDS for f in dataclasses.fields(entry.config()))]


@pytest.mark.parametrize("entry", SIZED, ids=lambda e: e.name)
def test_non_default_sizes_give_the_right_output_shape(entry):
    cfg, changes = _resized(entry)
    validate(cfg, "model")
    x = entry.example_input(cfg)
    first = x[0] if isinstance(x, tuple) else x  # inputs and labels (a conditional model): the inputs
    for name, value in changes.items():  # the example input follows the config (a generator's is a latent code)
        if getattr(entry.cls, "latent_input", False):
            break
        axis = {"in_features": -1, "image_size": -1, "length": -1, "in_channels": 1}.get(name)
        if axis is not None:
            assert first.shape[axis] == value, (name, tuple(first.shape))
    out = _heads(_call(entry.cls(cfg), x))[0]
    # A model whose output's last axis follows another field names it (an autoencoder: ("in_features",)).
    width = next((getattr(cfg, name) for name in getattr(entry.cls, "output_fields", OUTPUT_FIELDS) if name in changes),
                 None)
    if hasattr(entry.cls, "output_width"):  # several heads in one tensor (an actor-critic: policy, then value)
        width = entry.cls.output_width(cfg)
    batch = _batch(x)
    if out.dim() == 4:  # images (B, C, H, W): a generator's, a decoder's or an image-to-image network's
        assert out.shape[0] == batch, tuple(out.shape)
        for name, axis in (("in_channels", 1), ("image_size", 2), ("image_size", 3)):
            if name in changes:
                assert out.shape[axis] == changes[name], (name, tuple(out.shape))
    elif width is None:  # one output per example (a score or a sign)
        assert out.shape in ((batch,), (batch, 1)), tuple(out.shape)
    elif out.dim() == 3:  # one output per step of a sequence (B, T, K): a tagger's or a decoder's
        assert out.shape[0] == batch and out.shape[2] == width, tuple(out.shape)
    else:
        assert tuple(out.shape) == (batch, width)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_state_dict_round_trip_gives_identical_outputs(entry):
    """A model seeded differently computes exactly what the original does once it loads its state_dict."""
    a, cfg = _build(entry, seed=3)
    b, _ = _build(entry, seed=4)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()  # dropout off: the outputs are a function of the weights alone
    x = entry.example_input(cfg)
    with torch.no_grad():
        assert torch.equal(_call(a, x), _call(b, x))

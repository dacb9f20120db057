"""Contract tests run over every registered model: no per-model code needed."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from neuralab.config import describe
from neuralab.registry import MODELS

ENTRIES = [entry for _, entry in MODELS.items()]


def _build(entry, seed=0):
    torch.manual_seed(seed)
    cfg = entry.config()
    return entry.cls(cfg), cfg


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_forward_shape_and_finite(entry):
    model, cfg = _build(entry)
    x = entry.example_input(cfg)
    out = model(x)
    assert out.shape[0] == x.shape[0]
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_trainable_parameter_gets_a_gradient(entry):
    model, cfg = _build(entry)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        pytest.skip(f"{entry.name} is trained without gradients")
    model(entry.example_input(cfg)).float().pow(2).mean().backward()
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_seeded_construction_is_deterministic_and_state_dict_round_trips(entry):
    a, _ = _build(entry, seed=3)
    b, _ = _build(entry, seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)
    c, _ = _build(entry, seed=4)
    c.load_state_dict(a.state_dict())
    for k, v in a.state_dict().items():
        assert torch.equal(v, c.state_dict()[k])


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_config_fields_are_documented(entry):
    cfg = entry.config()
    assert dataclasses.is_dataclass(cfg)
    for name, _, _, doc in describe(cfg):
        assert doc.strip(), f"{entry.name}.{name} has no doc"
    assert entry.paper, f"{entry.name} names no paper"

"""Regularisation inside the supervised step: clipping, L2, max-norm, augmentation, early stopping."""

from __future__ import annotations

import dataclasses
import json

import torch

from neuralab.build import build, resolve
from neuralab.data.sources import DigitsConfig, build_digits
from neuralab.engine import fit
from neuralab.registry import RECIPES


def make(method: dict | None = None, model: dict | None = None):
    recipe = RECIPES.get("mlp-digits")
    overrides = {"method": {"schedule": "none", **(method or {})}, "model": model or {},
                 "run": {"device": "cpu"}}
    return build(recipe, resolve(recipe, overrides))


def params(run) -> list[torch.Tensor]:
    return [p.detach().clone() for p in run.model.parameters()]


def test_clip_by_value_bounds_each_sgd_move_by_lr_times_value():
    run = make({"optimizer": "sgd", "lr": 1.0, "clip_grad_value": 0.01})
    before = params(run)
    run.method.step(run.data.next_batch())
    moves = torch.cat([(a - b).abs().flatten() for a, b in zip(params(run), before, strict=True)])
    assert moves.max() <= 0.01 + 1e-6
    assert (moves > 0.0099).sum() > 100  # many entries were clipped to exactly the bound


def test_clip_by_norm_bounds_the_whole_sgd_step():
    run = make({"optimizer": "sgd", "lr": 1.0, "clip_grad_norm": 0.05})
    before = params(run)
    run.method.step(run.data.next_batch())
    step = torch.cat([(a - b).flatten() for a, b in zip(params(run), before, strict=True)])
    torch.testing.assert_close(step.norm(), torch.tensor(0.05), atol=1e-5, rtol=0)


def test_l2_penalty_equals_sgd_weight_decay_on_a_net_without_biases():
    a = make({"optimizer": "sgd", "lr": 0.5, "l2": 0.3}, {"bias": False})
    b = make({"optimizer": "sgd", "lr": 0.5, "weight_decay": 0.3}, {"bias": False})
    batch = a.data.next_batch()
    metrics = a.method.step(batch)
    b.method.step(batch)
    for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert float(metrics["train/penalty"]) > 0


def test_max_norm_holds_after_every_step():
    run = make({"optimizer": "sgd", "lr": 5.0, "max_norm": 0.5})
    for _ in range(3):
        run.method.step(run.data.next_batch())
        for w in (p for p in run.model.parameters() if p.dim() > 1):
            assert (w.detach().norm(dim=1) <= 0.5 + 1e-5).all()


def test_augmentation_feeds_the_model_changed_inputs_and_resumes_its_stream():
    run = make({"augment": ("shift", "noise")})
    seen = []
    run.model.net[1].register_forward_pre_hook(lambda m, i: seen.append(i[0].detach().clone()))
    x, y = run.data.next_batch()
    run.method.step((x, y))
    assert seen[0].shape == x.flatten(1).shape and not torch.allclose(seen[0], x.flatten(1))
    state = run.method.state_dict()
    run.method.step((x, y))
    other = make({"augment": ("shift", "noise")})
    other.model.net[1].register_forward_pre_hook(lambda m, i: seen.append(i[0].detach().clone()))
    other.method.load_state_dict(state)
    other.method.step((x, y))
    assert torch.equal(seen[1], seen[2]) and not torch.equal(seen[0], seen[1])


def test_early_stopping_watches_the_validation_split_when_there_is_one(tmp_path):
    """Validation labels shifted by one class: the better the net, the worse val/loss. A run that stops on
    patience while test/loss is still at its best can only be watching the validation split."""
    data = build_digits(DigitsConfig(batch_size=64, image_size=8, val_fraction=0.2), seed=0)
    data.y_val = (data.y_val + 1) % 10
    recipe = dataclasses.replace(RECIPES.get("mlp-digits"), monitor="test/loss", mode="min")
    run = fit(recipe, {"run": {"patience": 3, "eval_every": 5, "epochs": 20, "device": "cpu"}},
              out=tmp_path / "run", progress=False, data=data)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "val/loss" in r]
    assert summary["stopped_early"] and run.step < 20 * data.steps_per_epoch
    val, test = [r["val/loss"] for r in evals], [r["test/loss"] for r in evals]
    assert min(val[-3:]) >= min(val[:-3])  # the last `patience` evaluations did not improve val/loss
    assert test[-1] == min(test)  # while test/loss was still improving


def build_compare(**method):
    recipe = RECIPES.get("regularization-compare")
    return build(recipe, resolve(recipe, {"run": {"device": "cpu"}, "method": method}))


def test_compare_variants_start_from_the_same_weights_and_differ_only_in_their_regulariser():
    run = build_compare()
    variants = run.method.sweep.rules
    first = [m.weight for m in variants["none"].model.modules() if isinstance(m, torch.nn.Linear)]
    for name, v in variants.items():
        linears = [m.weight for m in v.model.modules() if isinstance(m, torch.nn.Linear)]
        assert all(torch.equal(a, b) for a, b in zip(first, linears, strict=True)), name
    assert variants["l2"].cfg.l2 > 0 and variants["none"].cfg.l2 == 0
    assert variants["dropout"].model.cfg.dropout > 0 and variants["batch_norm"].model.cfg.batch_norm


def test_compare_refuses_data_without_a_validation_split():
    import pytest

    from neuralab.errors import UserError

    recipe = RECIPES.get("regularization-compare")
    with pytest.raises(UserError, match="val_fraction"):
        build(recipe, resolve(recipe, {"run": {"device": "cpu"}, "data": {"val_fraction": 0}}))

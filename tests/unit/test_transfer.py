"""neuralab.transfer: which tensors a source gives a model (and why not), which checkpoint it reads, and what
freezing holds still."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from neuralab import checkpoint
from neuralab.api import create_model
from neuralab.errors import UserError
from neuralab.transfer import NOT_IN_MODEL, NOT_IN_SOURCE, freeze, load_matching, prepare, source_weights


def _lenet(classes: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return create_model("lenet5", num_classes=classes)


def test_matching_tensors_load_and_the_rest_are_reported_with_the_reason():
    source = _lenet(10, seed=0).state_dict()
    source["extra.weight"] = torch.ones(3)  # a layer this model does not have
    del source["features.0.bias"]  # a layer the source lacks
    target = _lenet(5, seed=1)
    before = {k: v.clone() for k, v in target.state_dict().items()}

    loaded, skipped = load_matching(target, source)

    assert skipped == {"features.0.bias": NOT_IN_SOURCE,
                       "classifier.3.weight": "shape (10, 84) in the source, (5, 84) here",
                       "classifier.3.bias": "shape (10,) in the source, (5,) here",
                       "extra.weight": NOT_IN_MODEL}
    assert set(loaded) == set(before) - {"features.0.bias", "classifier.3.weight", "classifier.3.bias"}
    after = target.state_dict()
    for name in loaded:
        assert torch.equal(after[name], source[name]), name
    for name in ("features.0.bias", "classifier.3.weight", "classifier.3.bias"):  # kept their initialisation
        assert torch.equal(after[name], before[name]), name


def test_a_source_with_nothing_in_common_is_refused():
    mlp = create_model("mlp", hidden=(8,)).state_dict()
    with pytest.raises(UserError, match="no tensor matches this model by name and shape"):
        load_matching(_lenet(10, seed=0), mlp)


def _fake_run(run_dir, states: dict[int, dict], best: int | None = None) -> None:
    """A run directory with config.json and checkpoints holding `states` ({step: method state})."""
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"recipe": "lenet5-digits"}))
    for step, method in sorted(states.items()):
        checkpoint.save(run_dir / "checkpoints", step, {"method": method})
    if best is not None:
        checkpoint.save_best(run_dir / "checkpoints", best, {"method": states[best]}, "test/acc", 0.9)


def test_the_best_checkpoint_is_read_before_the_newest(tmp_path):
    early, late = _lenet(10, seed=0).state_dict(), _lenet(10, seed=1).state_dict()
    _fake_run(tmp_path / "with-best", {2: {"model": early}, 4: {"model": late}}, best=2)
    _fake_run(tmp_path / "no-best", {2: {"model": early}, 4: {"model": late}})

    weights, which = source_weights(tmp_path / "with-best")
    assert which == "best checkpoint (step 2)"
    assert torch.equal(weights["features.0.weight"], early["features.0.weight"])
    weights, which = source_weights(tmp_path / "no-best")
    assert which == "latest checkpoint (step 4)"
    assert torch.equal(weights["features.0.weight"], late["features.0.weight"])


def test_sources_that_are_not_runs_of_one_network_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a run directory"):
        source_weights(tmp_path / "empty")
    _fake_run(tmp_path / "untrained", {})
    with pytest.raises(UserError, match="holds no checkpoint"):
        source_weights(tmp_path / "untrained")
    _fake_run(tmp_path / "variants", {2: {"variants": {"a": {"model": _lenet(10, 0).state_dict()}}}})
    with pytest.raises(UserError, match="no single network"):
        source_weights(tmp_path / "variants")


def test_freeze_turns_off_gradients_under_the_prefixes_and_counts_parameters():
    model = _lenet(10, seed=0)
    trainable, frozen = freeze(model, ("features", "classifier.1"))
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["classifier.3.weight", "classifier.3.bias"]
    assert (trainable, frozen) == (84 * 10 + 10, sum(p.numel() for p in model.parameters()) - 850)


@pytest.mark.parametrize("prefixes, words", [
    (("feature_extractor",), ["--freeze feature_extractor", "top-level prefixes: features, classifier"]),
    (("features", "classifier"), ["freezes every parameter"]),
])
def test_freeze_refuses_a_prefix_without_parameters_or_freezing_everything(prefixes, words):
    with pytest.raises(UserError) as err:
        freeze(_lenet(10, seed=0), prefixes)
    for word in words:
        assert word in str(err.value)


def test_frozen_batch_norm_keeps_its_running_statistics_and_normalises_with_them():
    torch.manual_seed(0)
    model = create_model("mlp", in_features=4, hidden=(6, 6), batch_norm=True, num_classes=2)
    frozen_bn, free_bn = model.net[2], model.net[5]
    frozen_bn.running_mean.fill_(0.5)
    stats = frozen_bn.running_mean.clone(), frozen_bn.running_var.clone()
    prepare(model, None, ("net.1", "net.2"))
    x = torch.randn(32, 4) * 3 + 1
    model.eval()
    expected = model.net[:3](x)
    model.train()
    out = model.net[:3](x)
    assert torch.allclose(out, expected)  # running statistics, not the batch's, even in training mode
    model(x)
    assert torch.equal(frozen_bn.running_mean, stats[0]) and torch.equal(frozen_bn.running_var, stats[1])
    assert frozen_bn.training is False and free_bn.training is True
    assert not torch.equal(free_bn.running_mean, torch.zeros(6))  # the layer that trains keeps updating

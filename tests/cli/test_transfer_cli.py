"""`neuralab train --init-from RUN_DIR --freeze PREFIX`: what a fine-tuned run starts from, what stays frozen,
its one-line refusals and an exact resume."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import neuralab
from neuralab.cli import main
from tests.conftest import final_tensors

QUICK = ["--quiet", "--run.steps", "4", "--run.checkpoint_every", "2", "--run.threads", "1", "--device", "cpu"]
BN = {"batch_norm": True}  # a batch-norm layer under the frozen prefix: its running statistics must hold too


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A finished 4-step mlp-digits run with batch norm, the run the tests fine-tune from."""
    out = tmp_path_factory.mktemp("transfer") / "source"
    neuralab.train("mlp-digits", {"run": {"steps": 4, "threads": 1}, "model": BN}, out=out, device="cpu")
    return out


def test_frozen_parameters_and_statistics_stay_while_the_rest_trains(source, tmp_path):
    # Momentum and weight decay: an optimiser that held the frozen weights would still move them.
    run = neuralab.train("mlp-digits", {"run": {"steps": 6, "threads": 1}, "model": BN,
                                        "method": {"optimizer": "momentum", "lr": 0.1, "weight_decay": 0.1}},
                         out=tmp_path / "tuned", device="cpu", init_from=source, freeze="net.1,net.2")
    start, end = final_tensors(source), run.model.state_dict()
    frozen = ["net.1.weight", "net.1.bias", "net.2.weight", "net.2.bias", "net.2.running_mean", "net.2.running_var"]
    for name in frozen:
        assert torch.equal(end[name], start[f"method.model.{name}"]), name
    for name in ("net.4.weight", "net.4.bias"):
        assert not torch.equal(end[name], start[f"method.model.{name}"]), f"{name} did not train"
    optimised = {id(p) for group in run.method.optimizer.param_groups for p in group["params"]}
    assert optimised == {id(p) for name, p in run.model.named_parameters() if not name.startswith(("net.1", "net.2"))}
    assert run.transfer.loaded == list(run.model.state_dict()) and run.transfer.skipped == {}
    saved = json.loads((tmp_path / "tuned" / "config.json").read_text())["sections"]["run"]
    assert saved["init_from"] == str(source) and saved["freeze"] == ["net.1", "net.2"]


def test_the_train_log_reports_loaded_skipped_and_frozen_tensors(source, tmp_path, capsys):
    code = main(["train", "mlp-digits", *QUICK[1:], "--model.batch_norm", "true", "--model.hidden", "128,32",
                 "--init-from", str(source), "--freeze", "net.1", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"initialised from {source}, best checkpoint (step 4): loaded 7 tensors of net.1, net.2" in err
    assert "skipped net.4.weight: shape (10, 128) in the source, (32, 128) here" in err
    assert "skipped net.7.weight: not in the source (keeps its initialisation)" in err
    assert "parameters: 13,098 (4,778 trainable, 8,320 frozen under net.1)" in err


def test_resuming_a_fine_tuned_run_is_bit_identical_and_does_not_reload_the_source(source, tmp_path, capsys):
    copy = tmp_path / "source"
    shutil.copytree(source, copy)
    args = ["train", "mlp-digits", *QUICK, "--model.batch_norm", "true", "--init-from", str(copy),
            "--freeze", "net.1"]
    assert main([*args, "--out", str(tmp_path / "whole")]) == 0
    killed = tmp_path / "killed"
    shutil.copytree(tmp_path / "whole", killed)
    for path in (killed / "checkpoints").glob("step-000000004*"):
        path.unlink()
    (killed / "checkpoints" / "latest.json").write_text(json.dumps({"step": 2, "name": "step-000000002"}))
    shutil.rmtree(copy)  # a resumed run continues from its own checkpoint, not from the source
    assert main([*args, "--out", str(killed), "--resume"]) == 0, capsys.readouterr().err
    a, b = final_tensors(tmp_path / "whole"), final_tensors(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    capsys.readouterr()
    assert main([*args[:-1], "net.2", "--out", str(killed), "--resume"]) == 2
    assert "--resume: the run was started with --run.freeze ('net.1',)" in capsys.readouterr().err


@pytest.mark.parametrize("case, words", [
    ("missing", ["--init-from", "not a run directory"]),
    ("not-a-run", ["--init-from", "not a run directory"]),
    ("no-match", ["--init-from", "no tensor matches this model by name and shape"]),
    ("bad-prefix", ["--freeze classifier", "no parameter name starts with it", "top-level prefixes: net.1, net.3"]),
    ("variants", ["init-symmetry does not train the recipe's model"]),
])
def test_mistakes_give_one_line_exit_2_and_write_nothing(case, words, source, tmp_path, capsys):
    (tmp_path / "not-a-run").mkdir()
    recipe, extra = {"missing": ("mlp-digits", ["--init-from", tmp_path / "missing"]),
                     "not-a-run": ("mlp-digits", ["--init-from", tmp_path / "not-a-run"]),
                     "no-match": ("lenet5-digits", ["--init-from", source]),
                     "bad-prefix": ("mlp-digits", ["--freeze", "classifier"]),
                     "variants": ("init-symmetry", ["--freeze", "net.1"])}[case]
    out = tmp_path / "out"
    code = main(["train", recipe, *QUICK, *map(str, extra), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith("neuralab: error: ")
    for word in words:
        assert word in line
    assert not out.exists()

"""Run-directory formats: what a run records about its format, and reading a run written by the previous format.

`tests/fixtures/run-format-1-mlp-xor` is a 20-step mlp-xor run written by neuralab 0.1.0 before format versions
existed (format 1: no version fields, no digests); it must keep evaluating and resuming in every later release.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import neuralab
from neuralab import checkpoint, run_format
from neuralab.cli import main

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run-format-1-mlp-xor"
# The fixture's own settings: a resume repeats them (a changed field would be refused).
SETTINGS = ["--run.steps", "20", "--run.checkpoint_every", "10", "--run.eval_every", "10", "--run.log_every", "5",
            "--run.threads", "1", "--run.device", "cpu"]


@pytest.fixture
def old_run(tmp_path) -> Path:
    run = tmp_path / "old"
    shutil.copytree(FIXTURE, run)
    return run


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_the_fixture_is_format_1():
    assert "format_version" not in _json(FIXTURE / "config.json")
    assert "format_version" not in _json(FIXTURE / "checkpoints" / "step-000000020.json")


def test_a_format_1_run_evaluates_as_it_did(old_run, capsys):
    assert main(["eval", str(old_run)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "mlp-xor at step 20" in out
    summary = _json(FIXTURE / "summary.json")["metrics"]
    assert _json(old_run / "eval.json")["metrics"]["test/acc"] == summary["test/acc"]


def test_a_format_1_run_resumes_to_the_weights_it_reached_and_is_then_written_in_the_current_format(old_run):
    ckpts = old_run / "checkpoints"
    for path in ckpts.glob("step-000000020.*"):  # as if killed just after its step-10 checkpoint
        path.unlink()
    (ckpts / "latest.json").write_text(json.dumps({"step": 10, "name": "step-000000010"}))
    overrides = {"run": {"steps": 20, "checkpoint_every": 10, "eval_every": 10, "log_every": 5, "threads": 1,
                         "device": "cpu"}}
    neuralab.train("mlp-xor", overrides, out=old_run, resume=True, progress=False)

    written, kept = load_file(str(ckpts / "step-000000020.safetensors")), \
        load_file(str(FIXTURE / "checkpoints" / "step-000000020.safetensors"))
    assert written.keys() == kept.keys()
    for key in kept:  # the fixture was written on another machine: equal to float32 rounding, not bit for bit
        torch.testing.assert_close(written[key], kept[key], rtol=1e-6, atol=1e-7, msg=key)
    for path in (old_run / "config.json", ckpts / "step-000000020.json"):
        assert _json(path)["format_version"] == run_format.FORMAT_VERSION
        assert _json(path)["neuralab_version"] == neuralab.__version__
    assert "format_version" not in _json(ckpts / "step-000000010.json")  # the old files are read, never rewritten
    assert checkpoint.load(ckpts, 10)[0] == 10


def test_a_new_checkpoint_records_the_digest_of_its_tensors(tmp_path):
    run = tmp_path / "run"
    neuralab.train("mlp-xor", {"run": {"steps": 3, "threads": 1, "device": "cpu"}}, out=run, progress=False)
    meta = _json(run / "checkpoints" / "step-000000003.json")
    data = (run / "checkpoints" / "step-000000003.safetensors").read_bytes()
    assert meta["sha256"] == hashlib.sha256(data).hexdigest() and meta["size"] == len(data)


@pytest.mark.parametrize("file, version, words", [
    ("config.json", 3, ["run format 3", "reads formats up to 2", "upgrade neuralab"]),
    ("checkpoints/step-000000020.json", 3, ["run format 3", "upgrade neuralab"]),
    ("config.json", "2", ["unknown run format '2'"]),
    ("checkpoints/step-000000020.json", 0, ["unknown run format 0"]),
])
def test_a_newer_or_unknown_format_is_refused_in_one_line(file, version, words, old_run, capsys):
    path = old_run / file
    path.write_text(json.dumps({**_json(path), "format_version": version, "neuralab_version": "9.9.9"}))
    assert main(["eval", str(old_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err, err
    for word in words:
        assert word in err, err


@pytest.mark.parametrize("content", ['[]', '{"step": 20}', '{"step": 20, "state": {"a": {"__tensor__": 5}}}',
                                     '{"step": "20", "state": {}}', '{"step": 20, "state": {}, "size": []}'])
def test_a_malformed_checkpoint_json_is_one_line(content, old_run, capsys):
    (old_run / "checkpoints" / "step-000000020.json").write_text(content)
    assert main(["eval", str(old_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "step-000000020" in err, err

"""What a new user reaches for in the first hour: --version, eval of a chosen checkpoint and split, a quiet
Python API, missing values in a CSV, the resume line, and export to ONNX or safetensors."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
import torch

import neuralab
from neuralab.cli import main
from tests.conftest import cli_env, run_cli, run_main

# lr 0.3 makes val/acc peak at step 3 (0.49, then 0.38 at steps 4 and 5): the best checkpoint is neither the
# newest nor one of the two that pruning keeps.
TRAIN = ["train", "mlp-digits", "--run.steps", "5", "--run.eval_every", "1", "--data.val_fraction", "0.2",
         "--method.lr", "0.3", "--run.device", "cpu", "--quiet"]
TINY = ["--run.steps", "2", "--run.device", "cpu"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("first-hour") / "run"
    result = run_main(*TRAIN, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def cli(capsys, *argv) -> tuple[int, str, str]:
    """The CLI in this process (no second torch import): exit code, stdout, stderr."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(capsys, *argv) -> str:
    """The CLI's one `neuralab: error:` line for a user mistake (exit code 2, nothing else on stderr)."""
    code, _, err = cli(capsys, *argv)
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("neuralab: error: "), err
    return err.strip()


def logged(run_dir: Path, key: str) -> dict[int, float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r[key] for r in rows if key in r}


def best_pointer(run_dir: Path) -> dict:
    return json.loads((run_dir / "checkpoints" / "best.json").read_text())


def test_version_is_the_installed_one_and_imports_no_torch():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout == f"neuralab {version('neuralab')}\n", result.stderr
    probe = "import sys; from neuralab.cli import main; main(['--version']); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env(), timeout=60)
    assert done.stdout.splitlines()[-1] == "False", done.stderr


def test_best_checkpoint_is_the_best_evaluation_and_survives_pruning(run):
    val_acc = logged(run, "val/acc")
    best_step = max(val_acc, key=lambda s: (val_acc[s], -s))  # first of equal maxima: only improvements count
    pointer = best_pointer(run)
    assert pointer["step"] == best_step and pointer["metric"] == "val/acc" and pointer["value"] == val_acc[best_step]
    ckpt = run / "checkpoints"
    assert best_step < max(val_acc) - 1, "the run no longer peaks early; the test would not tell best from latest"
    assert not (ckpt / f"step-{best_step:09d}.json").exists()  # pruned: only the newest two steps stay
    assert (ckpt / f"best-{best_step:09d}.json").exists() and (ckpt / f"best-{best_step:09d}.safetensors").exists()
    assert len(list(ckpt.glob("best-*.json"))) == 1  # earlier bests were replaced


def test_eval_of_the_best_checkpoint_on_one_split_reproduces_its_logged_metrics(run, capsys):
    best_step = best_pointer(run)["step"]
    code, out, _ = cli(capsys, "eval", run, "--checkpoint", "best", "--split", "val")
    assert code == 0 and f"at step {best_step} (best checkpoint, val split)" in out
    saved = json.loads((run / "eval.json").read_text())
    assert (saved["step"], saved["checkpoint"], saved["split"]) == (best_step, "best", "val")
    assert set(saved["metrics"]) == {"val/acc", "val/loss"}
    assert saved["metrics"]["val/acc"] == pytest.approx(logged(run, "val/acc")[best_step], abs=1e-12)
    assert saved["expect"] == {}  # the recipe expects test/acc, which this evaluation did not compute

    code, out, _ = cli(capsys, "eval", run, "--checkpoint", 4)
    saved = json.loads((run / "eval.json").read_text())
    assert code == 0 and saved["step"] == 4 and saved["split"] is None
    assert saved["metrics"]["test/acc"] == pytest.approx(logged(run, "test/acc")[4], abs=1e-12)
    assert saved["expect"]["test/acc"]["value"] == saved["metrics"]["test/acc"]


def test_eval_names_the_available_checkpoints_and_splits(run, capsys):
    before = (run / "eval.json").read_bytes() if (run / "eval.json").exists() else None
    best_step = best_pointer(run)["step"]
    steps = ", ".join(map(str, sorted({best_step, 4, 5})))
    line = error_line(capsys, "eval", run, "--checkpoint", 2)
    assert line.endswith(f"no checkpoint at step 2; available steps: {steps} (best: {best_step})")
    line = error_line(capsys, "eval", run, "--split", "train")
    assert line == "neuralab: error: split 'train': this run's evaluation has no such split; its splits: test, val"
    line = error_line(capsys, "eval", run, "--checkpoint", "newest")
    assert line == "neuralab: error: --checkpoint newest: choose latest, best or a step number"
    assert ((run / "eval.json").read_bytes() if (run / "eval.json").exists() else None) == before


def test_load_and_evaluate_print_nothing(run, capfd):
    loaded = neuralab.load(run, checkpoint="best")
    metrics = loaded.evaluate("test")
    assert set(metrics) == {"test/acc", "test/loss"} and loaded.step == best_pointer(run)["step"]
    assert capfd.readouterr() == ("", "")


def test_resume_says_once_where_it_continues(tmp_path, capfd):
    out = tmp_path / "run"
    neuralab.train("mlp-digits", {"run": {"steps": 2, "device": "cpu"}, "method": {"schedule": "none"}}, out=out,
                   progress=True)
    assert "resumed" not in capfd.readouterr().err
    neuralab.train("mlp-digits", {"run": {"steps": 3}}, out=out, resume=True)  # progress off: silent
    assert capfd.readouterr() == ("", "")
    neuralab.train("mlp-digits", {"run": {"steps": 4}}, out=out, resume=True, progress=True)
    err = capfd.readouterr().err
    assert err.count("resumed from step 3") == 1 and "mlp-digits step 4/4" in err


# --- missing values in a CSV ------------------------------------------------------------------------------

GAPS = {5: "a", 17: "a", 30: "b"}  # data row -> its missing column; row i is on line i + 2


@pytest.fixture(scope="module")
def gaps_csv(tmp_path_factory) -> Path:
    """Two Gaussian clusters in columns a, b (class in cls), with three missing cells."""
    rng = np.random.default_rng(0)
    lines = ["a,b,cls"]
    for i in range(60):
        c = i % 2
        a, b = rng.normal(2.0 if c else -2.0, 0.3, 2)
        cells = {"a": f"{a:.4f}", "b": f"{b:.4f}"}
        if i in GAPS:
            cells[GAPS[i]] = "NA" if GAPS[i] == "b" else ""
        lines.append(f"{cells['a']},{cells['b']},{'yes' if c else 'no'}")
    path = tmp_path_factory.mktemp("gaps") / "gaps.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def train_csv(capsys, csv: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return cli(capsys, "train", "mlp-digits", "--data.path", csv, "--data.label", "cls", *TINY, "--out", out, *extra)


def test_a_missing_cell_is_one_error_line_naming_file_row_column_and_option(gaps_csv, tmp_path, capsys):
    line = error_line(capsys, "train", "mlp-digits", "--data.path", gaps_csv, "--data.label", "cls", *TINY,
                      "--out", tmp_path / "run", "--quiet")
    assert line == (f"neuralab: error: {gaps_csv}: line 7, column 'a': missing value ''; set --data.missing drop "
                    "(drop such rows) or mean (fill the column mean)")
    assert not (tmp_path / "run").exists()


def test_missing_drop_drops_the_rows_and_says_so_once(gaps_csv, tmp_path, capsys):
    code, _, err = train_csv(capsys, gaps_csv, tmp_path / "run", "--data.missing", "drop")
    assert code == 0 and err.count("dropped 3 of 60 rows with missing values") == 1, err
    data = neuralab.load(tmp_path / "run").run.data
    assert len(data.x_train) + len(data.x_test) == 57 and not data.x_train.isnan().any()
    new = tmp_path / "new.csv"
    new.write_text("a,b\n1.0,\n")  # this run learnt no values to fill gaps with
    line = error_line(capsys, "predict", tmp_path / "run", new)
    assert line.endswith("line 2, column 'b': missing value ''; this run cannot fill it (train with --data.missing "
                         "mean for that)")


def test_missing_mean_fills_training_means_and_predict_fills_the_same(gaps_csv, tmp_path, capsys):
    code, _, err = train_csv(capsys, gaps_csv, tmp_path / "run", "--data.missing", "mean")
    assert code == 0 and err.count("filled 3 missing cells with the training rows' column means") == 1, err
    fill = json.loads((tmp_path / "run" / "config.json").read_text())["data_meta"]["fill"]
    assert len(fill) == 2 and all(abs(v) < 1.0 for v in fill)  # balanced clusters at -2 and 2: means near 0
    gappy, filled = tmp_path / "gappy.csv", tmp_path / "filled.csv"
    gappy.write_text("a,b\n,2.0\n-2.0,NA\n1.5,1.5\n")
    filled.write_text(f"a,b\n{fill[0]!r},2.0\n-2.0,{fill[1]!r}\n1.5,1.5\n")
    outputs = []
    for path in (gappy, filled):
        code, out, _ = cli(capsys, "predict", tmp_path / "run", path)
        assert code == 0
        outputs.append([line.split("\t", 1)[1] for line in out.splitlines()])
    assert outputs[0] == outputs[1] and len(outputs[0]) == 3


# --- export -----------------------------------------------------------------------------------------------

def test_onnx_export_runs_in_onnxruntime_like_the_pytorch_model(run, capfd):
    ort = pytest.importorskip("onnxruntime")
    code, out, err = cli(capfd, "export", run, "--format", "onnx", "--checkpoint", "best")
    assert code == 0 and out.strip() == str(run / "model.onnx") and err == "", err  # the exporter's chatter is muted
    session = ort.InferenceSession(str(run / "model.onnx"), providers=["CPUExecutionProvider"])
    described = json.loads(session.get_modelmeta().custom_metadata_map["neuralab"])
    assert described["step"] == best_pointer(run)["step"] and described["model"] == "mlp"
    x = torch.randn(7, *described["data_meta"]["input_shape"], generator=torch.Generator().manual_seed(0))
    (got,) = session.run(None, {"input": x.numpy()})  # a batch of 7: the batch dimension is dynamic
    with torch.no_grad():
        best = neuralab.load(run, with_data=False, checkpoint="best").model.eval()(x)
        latest = neuralab.load(run, with_data=False).model.eval()(x)
    np.testing.assert_allclose(got, best.numpy(), atol=1e-5, rtol=0)
    assert not np.allclose(got, latest.numpy(), atol=1e-3)  # it is the best checkpoint's network, not the newest


def test_safetensors_export_holds_the_weights_alone_and_rebuilds_the_model(run, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import load_model

    out = tmp_path / "weights.safetensors"
    code, printed, _ = cli(capsys, "export", run, "--format", "safetensors", "--out", out)
    assert code == 0 and printed.strip() == str(out)
    trained = neuralab.load(run, with_data=False).model.eval()
    with safe_open(str(out), "pt") as f:
        described, keys = json.loads(f.metadata()["neuralab"]), set(f.keys())
    assert keys == set(trained.state_dict())  # no optimizer state, no RNG: the model's tensors only
    model = neuralab.create_model(described["model"], **described["model_config"])
    load_model(model, str(out))
    x = torch.randn(5, *described["data_meta"]["input_shape"])
    with torch.no_grad():
        assert torch.equal(model.eval()(x), trained(x))


def test_a_q_table_run_is_refused_in_one_line(tmp_path, capsys):
    pytest.importorskip("gymnasium")
    neuralab.train("qlearning-cliffwalking", {"run": {"steps": 2}}, out=tmp_path / "run")
    line = error_line(capsys, "export", tmp_path / "run", "--format", "onnx")
    assert "model qtable has no parameters" in line and "no network to export" in line
    assert not (tmp_path / "run" / "model.onnx").exists()

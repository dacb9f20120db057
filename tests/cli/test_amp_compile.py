"""`--amp` (bfloat16 autocast) and `--compile` (torch.compile) train where supported, refuse cleanly where not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from neuralab.acceleration import check_amp, cpu_has_bf16, use_amp
from neuralab.config import RunConfig, override
from neuralab.contracts import RunContext
from neuralab.errors import UserError
from neuralab.models.mlp.mlp import MLP, MLPConfig
from tests.conftest import cli_env, run_cli, run_main


def checkpoint_tensors(run_dir: Path) -> dict[str, torch.Tensor]:
    name = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["name"]
    return load_file(str(run_dir / "checkpoints" / f"{name}.safetensors"))


@pytest.mark.parametrize("amp", [True, False])
def test_autocast_runs_linear_layers_in_bfloat16_only_under_amp(amp):
    ctx = RunContext(total_steps=1, device=torch.device("cpu"), seed=0, run_dir=None, amp=amp)
    model = MLP(MLPConfig(in_features=8, hidden=(16,), num_classes=3))
    dtypes = []
    for layer in model.modules():
        if isinstance(layer, torch.nn.Linear):
            layer.register_forward_hook(lambda m, i, out: dtypes.append(out.dtype))
    with ctx.autocast():
        model(torch.randn(4, 8))
    assert dtypes == [torch.bfloat16 if amp else torch.float32] * 2
    assert all(p.dtype == torch.float32 for p in model.parameters())  # weights stay float32


def test_amp_trains_mlp_digits_on_cpu(tmp_path):
    done = run_main("train", "mlp-digits", "--quiet", "--amp", "--run.steps", "20", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["metrics"]["train/loss"] < 2.0  # from ln 10 = 2.30 at the start
    assert json.loads((tmp_path / "run" / "config.json").read_text())["sections"]["run"]["amp"] == "on"
    weights = {k: v for k, v in checkpoint_tensors(tmp_path / "run").items() if k.startswith("method.model.")}
    assert weights and all(v.dtype == torch.float32 for v in weights.values())


def test_amp_is_refused_where_autocast_is_missing():
    with pytest.raises(UserError, match=r"^--run.amp: torch has no autocast for meta devices"):
        check_amp(torch.device("meta"))


def test_compile_without_a_cxx_compiler_is_refused_in_one_line(tmp_path):
    done = run_cli("train", "mlp-digits", "--quiet", "--compile", "--run.steps", "2", "--out", tmp_path / "run",
                   env=cli_env(CXX=str(tmp_path / "no-such-compiler")))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "neuralab: error: --run.compile: no working C++ compiler found (Inductor looks for $CXX, else g++); "
        "install one or drop --run.compile"]
    assert not (tmp_path / "run").exists()


COMPILED_VS_EAGER = """
import sys
import torch
from torch._dynamo.utils import counters
import neuralab

runs = {c: neuralab.train("mlp-digits", {"run": {"steps": 3, "compile": c}}, out=f"{sys.argv[1]}/{c}")
        for c in (False, True)}
print(counters["frames"]["ok"])
eager, compiled = (r.model.state_dict() for r in (runs[False], runs[True]))
print(max((eager[k] - compiled[k]).abs().max().item() for k in eager))
"""


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="no C++ compiler: refused instead")
def test_compile_trains_the_same_weights_as_eager(tmp_path):
    done = subprocess.run([sys.executable, "-c", COMPILED_VS_EAGER, str(tmp_path)], capture_output=True,
                          text=True, env=cli_env(), timeout=600)
    assert done.returncode == 0, done.stderr
    frames, difference = done.stdout.split()
    assert int(frames) >= 1  # Dynamo really compiled the model's forward
    assert float(difference) < 1e-5


@pytest.mark.parametrize(("caps", "expected"), [({"avx2": True}, False), ({"avx512_bf16": True}, True),
                                                ({"amx_bf16": True, "avx512_bf16": False}, True)])
def test_bf16_instructions_are_what_auto_amp_looks_for(caps, expected):
    assert cpu_has_bf16(caps) is expected


def test_auto_amp_on_this_cpu_follows_its_capabilities():
    cpu = torch.device("cpu")
    assert use_amp("auto", cpu) is cpu_has_bf16(torch.cpu.get_capabilities())
    assert use_amp("off", cpu) is False
    assert use_amp("on", torch.device("cpu")) is True  # asked for explicitly: on wherever autocast works


@pytest.mark.parametrize(("given", "stored"), [(True, "on"), (False, "off"), ("true", "on"), ("auto", "auto")])
def test_amp_switch_values_from_older_configs_and_the_api_are_understood(given, stored):
    assert override(RunConfig(), {"amp": given}, "run").amp == stored
    with pytest.raises(UserError, match="--run.amp: 'sometimes' is not one of off, on, auto"):
        override(RunConfig(), {"amp": "sometimes"}, "run")

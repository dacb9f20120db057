"""A seeded sample of the kill -9 campaign (`scripts/kill_campaign.py`): two trainings SIGKILLed at random steps,
resumed, and found bit-identical to their uninterrupted runs (tensors, state, metrics.jsonl)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kill_campaign.py"


def test_killed_runs_resume_bit_identical_to_uninterrupted_ones(tmp_path):
    args = ["--kills", "2", "--recipes", "mlp-digits,gan-ring-nonsaturating", "--seed", "3", "--out", str(tmp_path)]
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=cli_env(),
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("mlp-digits", "gan-ring"))]
    assert len(rows) == 2 and all(row.rstrip().endswith("identical") for row in rows), done.stdout
    assert "2/2 killed runs resumed identical" in done.stdout
    # One uninterrupted run per recipe, one killed-and-resumed run per kill.
    assert len(list(tmp_path.glob("*/whole"))) == 2
    assert len(list(tmp_path.glob("*/killed-at-*"))) == 2

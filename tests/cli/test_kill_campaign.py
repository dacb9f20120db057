"""A seeded sample of the kill -9 campaign (`scripts/kill_campaign.py`): two trainings SIGKILLed at random steps,
resumed, and found bit-identical to their uninterrupted runs (tensors, state, metrics.jsonl)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kill_campaign.py"


def test_killed_runs_resume_bit_identical_to_uninterrupted_ones(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("before\n<!-- results:kill-campaign:start -->\nold\n<!-- results:kill-campaign:end -->\nafter\n")
    runs = tmp_path / "runs"
    args = ["--kills", "2", "--recipes", "mlp-digits,gan-ring-nonsaturating", "--seed", "3", "--out", str(runs),
            "--write", str(doc)]
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=cli_env(),
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith(("mlp-digits", "gan-ring"))]
    assert len(rows) == 2 and all(row.rstrip().endswith("identical") for row in rows), done.stdout
    assert "2/2 killed runs resumed identical" in done.stdout
    # One uninterrupted run per recipe, one killed-and-resumed run per kill.
    assert len(list(runs.glob("*/whole"))) == 2
    assert len(list(runs.glob("*/killed-at-*"))) == 2
    # --write: the summary replaced the block, one row per recipe and the totals, the rest of the file untouched.
    text = doc.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert "| `mlp-digits` | supervised | 1 | 1/1 | 0 |" in text and "| all | | 2 | 2/2 | 0 |" in text, text

"""Kill -9 campaign: SIGKILL trainings at seeded random steps, resume them, and compare with uninterrupted runs.

For each recipe (one or more of every paradigm: supervised, GAN, VAE, RBM, DQN, PPO, a language model) one
uninterrupted run is trained through the CLI on the CPU. Then each kill trains the same command in a fresh
directory, sends SIGKILL once the run has logged a step drawn at random (the kill lands anywhere: mid-step,
mid-checkpoint write), resumes it with `--resume` and compares the final checkpoint with the uninterrupted one:
every tensor bit for bit (weights, optimiser moments, buffers, replay memories, generator states), the rest of
the state (counters, data position, best value) and every row of metrics.jsonl exactly, wall-clock fields aside.

    python scripts/kill_campaign.py                       # the full campaign: 20 kills over 8 recipes, seed 0
    python scripts/kill_campaign.py --kills 2 --recipes mlp-digits,gan-ring-nonsaturating --seed 1
    python scripts/kill_campaign.py --seed 3 --write docs/reliability.md  # also its summary into the docs

Prints one table row per kill and exits 1 if any resumed run differs from its uninterrupted twin. `--write`
puts a summary (kills and identical resumes per recipe, the seed, the wall time, the machine) between
<!-- results:kill-campaign:start/end --> in the file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

SRC = Path(__file__).resolve().parents[1] / "src"
# recipe -> (paradigm, its overrides): a few dozen steps of each, evaluated mid-run and at the end, so a kill can land
# before or after an evaluation and in a checkpoint write; sizes cut so one run takes seconds on a CPU core.
RECIPES: dict[str, tuple[str, list[str]]] = {
    "mlp-digits": ("supervised", ["--run.steps", "40", "--model.dropout", "0.2"]),
    "lenet5-digits": ("supervised CNN", ["--run.steps", "30"]),
    "gan-ring-nonsaturating": ("GAN", ["--run.steps", "40"]),
    "vae-mnist": ("VAE", ["--run.steps", "30", "--data.train_limit", "2048", "--data.test_limit", "256"]),
    "rbm-mnist": ("RBM (CD-1)", ["--run.steps", "30", "--data.train_limit", "2048", "--data.test_limit", "256"]),
    "dqn-cartpole": ("DQN", ["--run.steps", "40", "--data.num_envs", "4", "--method.learning_starts", "32",
                             "--data.eval_episodes", "2", "--data.max_episode_steps", "100"]),
    "ppo-cartpole": ("PPO", ["--run.steps", "12", "--data.num_envs", "4", "--method.n_steps", "16",
                             "--method.batch_size", "32", "--data.eval_episodes", "2", "--data.max_episode_steps",
                             "100"]),
    "gpt-shakespeare": ("language model", ["--run.steps", "30", "--data.train_limit", "50000", "--data.test_limit",
                                           "4000", "--model.layers", "2", "--model.d_model", "64"]),
}
CLOCK_KEYS = {"seconds", "elapsed", "time"}  # wall-clock durations: the one thing a resumed run does not repeat
CHECKPOINT_EVERY = 3


def _command(recipe: str, out: Path, *extra: str) -> list[str]:
    _, overrides = RECIPES[recipe]
    steps = int(overrides[overrides.index("--run.steps") + 1])
    return [sys.executable, "-m", "neuralab", "train", recipe, "--quiet", "--out", str(out), *overrides,
            "--run.device", "cpu", "--run.threads", "1", "--run.log_every", "1",
            "--run.checkpoint_every", str(CHECKPOINT_EVERY), "--run.eval_every", str(steps // 2), *extra]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH", "")) if p)
    return env


def _train(recipe: str, out: Path, *extra: str) -> None:
    done = subprocess.run(_command(recipe, out, *extra), capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        raise SystemExit(f"{recipe}: training failed ({done.returncode}): {done.stderr.strip()}")


def _logged_step(run_dir: Path) -> int:
    """The last step metrics.jsonl holds a row of (0 before the first row); a line being written is skipped."""
    try:
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError):
            continue
    return 0


def _kill_at(recipe: str, out: Path, step: int) -> bool:
    """Train into `out` and SIGKILL the process once it has logged `step`; False if it ended first."""
    proc = subprocess.Popen(_command(recipe, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    while proc.poll() is None and _logged_step(out) < step:
        time.sleep(0.002)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def _latest(run_dir: Path) -> tuple[int | None, dict[str, torch.Tensor], dict]:
    ckpts = run_dir / "checkpoints"
    try:
        pointer = json.loads((ckpts / "latest.json").read_text())
    except (FileNotFoundError, ValueError):
        return None, {}, {}
    return (pointer["step"], load_file(str(ckpts / f"{pointer['name']}.safetensors")),
            json.loads((ckpts / f"{pointer['name']}.json").read_text()))


def _timeless(state):
    """A checkpoint's JSON state without wall-clock durations (keys named seconds, elapsed or time, or time/...)."""
    if isinstance(state, dict):
        return {k: _timeless(v) for k, v in state.items() if k not in CLOCK_KEYS and not k.startswith("time/")}
    if isinstance(state, list):
        return [_timeless(v) for v in state]
    return state


def _rows(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [_timeless(row) for row in rows]


def compare(whole: Path, resumed: Path) -> dict[str, str]:
    """'same' or what differs, for the tensors, the rest of the state and the metrics log."""
    _, a, a_meta = _latest(whole)
    _, b, b_meta = _latest(resumed)
    if a.keys() != b.keys():
        tensors = f"tensor names differ ({sorted(a.keys() ^ b.keys())[:3]})"
    else:
        differ = [k for k in a if a[k].dtype != b[k].dtype or not torch.equal(a[k], b[k])]
        tensors = "same" if not differ else f"{len(differ)} differ, e.g. {differ[0]}"
    state = "same" if _timeless(a_meta["state"]) == _timeless(b_meta["state"]) else "differs"
    a_rows, b_rows = _rows(whole), _rows(resumed)
    bad = next((i for i, (x, y) in enumerate(zip(a_rows, b_rows, strict=False)) if x != y), None)
    metrics = ("same" if bad is None and len(a_rows) == len(b_rows)
               else f"{len(b_rows)} rows vs {len(a_rows)}" if bad is None else f"row {bad} differs")
    return {"tensors": tensors, "state": state, "metrics": metrics}


def plan(recipes: list[str], kills: int, seed: int) -> list[tuple[str, int]]:
    """(recipe, kill step) pairs: recipes in turn, each kill step drawn uniformly after the first checkpoint."""
    rng = random.Random(seed)
    out = []
    for i in range(kills):
        recipe = recipes[i % len(recipes)]
        steps = int(RECIPES[recipe][1][RECIPES[recipe][1].index("--run.steps") + 1])
        out.append((recipe, rng.randint(CHECKPOINT_EVERY, steps - 2)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="number of kills (default 20)")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma list (default: all eight)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill steps (default 0)")
    parser.add_argument("--out", help="keep the run directories here (default: a temporary folder, removed)")
    parser.add_argument("--write", type=Path, metavar="FILE.md",
                        help="also write a summary between <!-- results:kill-campaign:start/end --> in FILE.md")
    args = parser.parse_args(argv)
    recipes = [r for r in args.recipes.split(",") if r]
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown or args.kills < 1:
        parser.error(f"unknown recipes {unknown}; choose among {', '.join(RECIPES)}" if unknown else "--kills >= 1")
    if args.write:  # a missing file or markers is found now, not after the campaign
        from neuralab.studies.results import write_block

        write_block(args.write, "kill-campaign", "", dry_run=True)
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kill-campaign-"))
    t0 = time.monotonic()
    rows = []
    try:
        wholes = {}
        for recipe, step in plan(recipes, args.kills, args.seed):
            if recipe not in wholes:
                wholes[recipe] = root / recipe / "whole"
                _train(recipe, wholes[recipe])
            killed = root / recipe / f"killed-at-{step}-{len(rows)}"
            hit = _kill_at(recipe, killed, step)
            start, _, _ = _latest(killed)
            # Killed before it wrote any checkpoint file, a run starts over; otherwise it resumes.
            _train(recipe, killed, *(["--resume"] if any((killed / "checkpoints").glob("*.json")) else []))
            result = compare(wholes[recipe], killed)
            same = all(v == "same" for v in result.values())
            rows.append({"recipe": recipe, "paradigm": RECIPES[recipe][0], "killed after step": step if hit else "-",
                         "resumed from": start if start is not None else "start", **result,
                         "result": ("identical" if same else "DIFFERENT") if hit else "not killed (ended first)"})
    finally:
        if not args.out:
            shutil.rmtree(root, ignore_errors=True)
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-|-".join("-" * widths[c] for c in columns))
    for r in rows:
        print(" | ".join(str(r[c]).ljust(widths[c]) for c in columns))
    killed = [r for r in rows if r["killed after step"] != "-"]
    identical = sum(r["result"] == "identical" for r in killed)
    wall = time.monotonic() - t0
    print(f"\n{identical}/{len(killed)} killed runs resumed identical to the uninterrupted run "
          f"({len(rows) - len(killed)} ended before their kill); seed {args.seed}; {wall:.0f} s")
    if args.write:
        write_block(args.write, "kill-campaign", summary(rows, args.seed, wall))
    return 0 if identical == len(killed) and killed else 1


def summary(rows: list[dict], seed: int, wall: float) -> str:
    """The campaign as a markdown table: kills and identical resumes per recipe, then the totals."""
    from neuralab.studies.results import machine_line

    lines = ["| recipe | paradigm | kills | resumed identical | ended before the kill |", "|---|---|---|---|---|"]
    for recipe in dict.fromkeys(r["recipe"] for r in rows):
        mine = [r for r in rows if r["recipe"] == recipe]
        killed = [r for r in mine if r["killed after step"] != "-"]
        lines.append(f"| `{recipe}` | {mine[0]['paradigm']} | {len(killed)} | "
                     f"{sum(r['result'] == 'identical' for r in killed)}/{len(killed)} | {len(mine) - len(killed)} |")
    killed = [r for r in rows if r["killed after step"] != "-"]
    lines.append(f"| all | | {len(killed)} | {sum(r['result'] == 'identical' for r in killed)}/{len(killed)} | "
                 f"{len(rows) - len(killed)} |")
    return "\n".join(lines) + (f"\n\nGenerated by `python scripts/kill_campaign.py --seed {seed} --write FILE`: "
                                f"{wall:.0f} s; {machine_line()}.")


if __name__ == "__main__":
    sys.exit(main())

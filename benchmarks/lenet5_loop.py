"""Our `lenet5-mnist` training loop against the plain PyTorch tutorial loop, side by side in one run.

Peer: `DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)` feeding the same LeNet-5 and the
same optimiser (Adam), the loop from the PyTorch "Training a classifier" tutorial. Both train on the same
normalised MNIST tensors for the same number of samples; we report samples/s of each and their ratio,
then run the full `lenet5-mnist` recipe and report the wall time until its test accuracy first reaches
99.0%. Targets (issue 2): ratio >= 1.5, time to 99% < 120 s on 2 CPU cores.

    python benchmarks/lenet5_loop.py [--samples 30000] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import neuralab
from neuralab.engine import build, resolve
from neuralab.registry import RECIPES


def tutorial_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, samples: int) -> float:
    """The PyTorch tutorial loop; returns samples/s."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    seen, start = 0, time.perf_counter()
    while seen < samples:
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs), labels)
            loss.backward()
            optimizer.step()
            seen += len(labels)
            if seen >= samples:
                break
    return seen / (time.perf_counter() - start)


def our_loop(batch_size: int, samples: int) -> float:
    """neuralab's engine on the lenet5-mnist recipe for `samples` examples; returns samples/s."""
    steps = samples // batch_size
    out = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        run = neuralab.train("lenet5-mnist", {"data": {"batch_size": batch_size},
                                              "run": {"steps": steps, "eval_every": 10**9}}, out=out)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        train_time = max(r["time"] for r in rows if "train/loss" in r)
        return run.step * batch_size / train_time
    finally:
        shutil.rmtree(out, ignore_errors=True)


def time_to_target(target: float = 0.99) -> tuple[float | None, float, float]:
    """Run the full recipe; (seconds when test/acc first >= target, final acc, total seconds)."""
    out = Path(tempfile.mkdtemp(prefix="bench-full-"))
    try:
        run = neuralab.train("lenet5-mnist", out=out)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        hit = next((r["time"] for r in rows if r.get("test/acc", 0) >= target), None)
        return hit, run.metrics["test/acc"], run.metrics["time/seconds"]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30_000, help="training samples timed per loop")
    parser.add_argument("--skip-full", action="store_true", help="skip the full run to 99%")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu")
    recipe = RECIPES.get("lenet5-mnist")
    run = build(recipe, resolve(recipe, {"run": {"device": "cpu"}}))
    x, y = run.data.x_train, run.data.y_train
    torch.manual_seed(0)
    peer = tutorial_loop(run.model, x, y, args.samples)
    print(f"tutorial loop  (DataLoader, batch 64):        {peer:8.0f} samples/s")
    same_batch = our_loop(64, args.samples)
    print(f"neuralab loop  (batch 64, same as the peer):  {same_batch:8.0f} samples/s  ratio {same_batch / peer:.2f}")
    batch = recipe.sections()["data"].batch_size
    ours = our_loop(batch, args.samples)
    print(f"neuralab loop  (recipe batch {batch}):          {ours:8.0f} samples/s  ratio {ours / peer:.2f}")
    if not args.skip_full:
        hit, acc, total = time_to_target()
        when = "never" if hit is None else f"{hit:.1f} s"
        print(f"lenet5-mnist full recipe: test/acc {acc:.4f} after {total:.1f} s; 99.0% first reached at {when}")


if __name__ == "__main__":
    main()

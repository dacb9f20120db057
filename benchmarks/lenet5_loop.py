"""Our `lenet5-mnist` training loop against the plain PyTorch tutorial loop, side by side in one run.

Peer: `DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)` feeding the same LeNet-5 and the
same optimiser (Adam), the loop of the PyTorch "Training a classifier" tutorial, on the same normalised
MNIST tensors. Each loop trains for the same number of samples; the loops take turns `--repeats` times
and the median samples/s of each is reported (a shared 2-core machine is noisy). Then the full
`lenet5-mnist` recipe runs and we report the wall time until its test accuracy first reaches 99.0%.
Targets (issue 2): ratio >= 1.5, time to 99% < 120 s on 2 CPU cores.

    python benchmarks/lenet5_loop.py [--samples 30720] [--repeats 3] [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from mnist_examples_peer import neuralab_recipe  # the same clock to 99%: a sibling script in benchmarks/
from torch.utils.data import DataLoader, TensorDataset

import neuralab
from neuralab.build import build, resolve
from neuralab.registry import RECIPES

# neuralab with the peer's settings: batch 64, no augmentation, default memory order.
PEER_SETTINGS = {"data": {"batch_size": 64}, "method": {"augment": ()}, "run": {"channels_last": False}}


def tutorial_loop(x: torch.Tensor, y: torch.Tensor, samples: int) -> float:
    """The PyTorch tutorial loop on a fresh LeNet-5; returns samples/s."""
    torch.manual_seed(0)
    model = neuralab.create_model("lenet5")
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


def our_loop(overrides: dict, samples: int) -> float:
    """neuralab's engine on the lenet5-mnist recipe for `samples` examples; returns samples/s."""
    batch = overrides.get("data", {}).get("batch_size", RECIPES.get("lenet5-mnist").sections()["data"].batch_size)
    out = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        run_overrides = {**overrides, "run": {**overrides.get("run", {}), "steps": samples // batch,
                                              "eval_every": 10**9}}
        run = neuralab.train("lenet5-mnist", run_overrides, out=out)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        train_time = max(r["time"] for r in rows if "train/loss" in r)
        return run.step * batch / train_time
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30_720, help="training samples timed per loop and repeat")
    parser.add_argument("--repeats", type=int, default=3, help="turns each loop takes; the median is reported")
    parser.add_argument("--skip-full", action="store_true", help="skip the full run to 99%%")
    args = parser.parse_args()
    recipe = RECIPES.get("lenet5-mnist")
    sections = recipe.sections()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu, "
          f"{args.samples} samples x {args.repeats} repeats per loop")
    run = build(recipe, resolve(recipe, {"run": {"device": "cpu"}}))
    x, y = run.data.x_train, run.data.y_train
    loops = {
        "tutorial loop (DataLoader, batch 64)": lambda: tutorial_loop(x, y, args.samples),
        "neuralab, the peer's settings (batch 64, no augmentation)": lambda: our_loop(PEER_SETTINGS, args.samples),
        f"neuralab, recipe settings (batch {sections['data'].batch_size}, channels-last, augment "
        f"{','.join(sections['method'].augment)})": lambda: our_loop({}, args.samples),
    }
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, loop in loops.items():
            rates[name].append(loop())
    peer = statistics.median(rates[next(iter(loops))])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:<74} {median:8.0f} samples/s  ratio {median / peer:.2f}  "
              f"(runs: {', '.join(f'{v:.0f}' for v in values)})")
    if not args.skip_full:
        hit, acc, total = neuralab_recipe("lenet5-mnist", 0.99)
        when = "never" if hit is None else f"{hit:.1f} s"
        print(f"lenet5-mnist full recipe: test/acc {acc:.4f} after {total:.1f} s of training; "
              f"99.0% first reached at {when}")


if __name__ == "__main__":
    main()

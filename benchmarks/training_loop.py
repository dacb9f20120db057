"""A recipe's training throughput in neuralab's engine against a plain PyTorch loop, side by side in one run,
and what channels-last, bf16 autocast and `--compile` each change on the CPU at hand.

Peer: the loop of the PyTorch tutorials, `DataLoader(TensorDataset(x, y), batch_size=B, shuffle=True)` feeding
the same network (built from the recipe, sized by its data) with the same optimiser, batch size and data
tensors, in float32 and the default memory order. neuralab then trains the same recipe with the peer's settings
(float32, contiguous, no augmentation) and with each acceleration switched on alone, and with the recipe's own
settings. Every loop takes turns `--repeats` times; the median samples/s is printed with its ratio to the peer.
Rates are steady state: the clock runs from the first logged step to the last, so start-up and compilation
are left out (compilation's one-off cost is printed separately).

    python benchmarks/training_loop.py [--recipe lenet5-mnist] [--samples 30720] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import neuralab
from neuralab.acceleration import native_bf16
from neuralab.build import resolve, sized_model
from neuralab.methods.optim import make_optimizer
from neuralab.registry import RECIPES

PEER = {"run": {"amp": "off", "channels_last": False, "compile": False}, "method": {"augment": ()}}
WARMUP = 4  # steps left out of every clock (first-call allocations, oneDNN primitive caches)


def plain_loop(recipe: str, samples: int) -> tuple[float, float]:
    """The tutorial loop on the recipe's network; (samples/s after `WARMUP` steps, seconds until then)."""
    r = RECIPES.get(recipe)
    sections = resolve(r, {"run": {"device": "cpu"}})
    torch.manual_seed(0)
    data, model = sized_model(r, sections)
    m = sections["method"]
    optimizer = make_optimizer(m.optimizer, model.parameters(), m.lr, m.momentum, m.weight_decay)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=sections["data"].batch_size,
                        shuffle=True)
    seen, steps, begun, start = 0, 0, time.perf_counter(), 0.0
    while seen < samples:
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            steps += 1
            if steps == WARMUP:
                start = time.perf_counter()
            elif steps > WARMUP:
                seen += len(y)
            if seen >= samples:
                break
    return seen / (time.perf_counter() - start), start - begun


def engine_loop(recipe: str, overrides: dict, samples: int) -> tuple[float, float]:
    """neuralab's engine for `samples` examples after `WARMUP` steps; (samples/s, seconds until step WARMUP)."""
    batch = resolve(RECIPES.get(recipe), overrides)["data"].batch_size
    steps = WARMUP + max(2, samples // batch)
    out = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        run_overrides = {**overrides, "run": {**overrides.get("run", {}), "steps": steps, "eval_every": 10**9,
                                              "device": "cpu", "log_every": steps - WARMUP}}
        neuralab.train(recipe, run_overrides, out=out)
        rows = [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if "train/loss" in r]
        first, last = rows[0], rows[-1]  # steps WARMUP and `steps`
        rate = (last["step"] - first["step"]) * batch / (last["time"] - first["time"])
        return rate, first["time"]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="lenet5-mnist", help="recipe to time")
    parser.add_argument("--samples", type=int, default=30_720, help="training samples timed per loop and repeat")
    parser.add_argument("--repeats", type=int, default=3, help="turns each loop takes; the median is reported")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant (slow to build)")
    args = parser.parse_args()
    run_cfg = RECIPES.get(args.recipe).sections()["run"]
    cpu = torch.device("cpu")
    print(f"{args.recipe}: torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, bf16 in hardware: {native_bf16(cpu)}; "
          f"{args.samples} samples x {args.repeats} repeats per loop")
    print(f"recipe settings: amp {run_cfg.amp}, channels_last {run_cfg.channels_last}, compile {run_cfg.compile}")

    def ours(overrides: dict) -> Callable[[], tuple[float, float]]:
        return lambda: engine_loop(args.recipe, overrides, args.samples)

    def alone(**run: object) -> dict:
        return {**PEER, "run": {**PEER["run"], **run}}

    loops: dict[str, Callable[[], tuple[float, float]]] = {
        "plain PyTorch loop (DataLoader, fp32, contiguous)": lambda: plain_loop(args.recipe, args.samples),
        "neuralab, the peer's settings (fp32, contiguous, no augmentation)": ours(PEER),
        "neuralab + channels-last only": ours(alone(channels_last=True)),
        "neuralab + bf16 autocast only": ours(alone(amp="on")),
        "neuralab, recipe settings": ours({}),
    }
    if not args.no_compile:
        loops["neuralab + torch.compile only"] = ours(alone(compile=True))
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, loop in loops.items():
            results[name].append(loop())
    peer = statistics.median(rate for rate, _ in results[next(iter(loops))])
    print(f"{'loop':<68} {'samples/s':>9}  {'ratio':>5}  {'start-up s':>10}  runs")
    for name, values in results.items():
        rate = statistics.median(r for r, _ in values)
        startup = statistics.median(s for _, s in values)
        print(f"{name:<68} {rate:9.0f}  {rate / peer:5.2f}  {startup:10.1f}  "
              f"{', '.join(f'{r:.0f}' for r, _ in values)}")


if __name__ == "__main__":
    main()

"""DCGAN throughput on MNIST: generator forward images/s, and training images/s of neuralab's `adversarial` step
beside the training loop of pytorch/examples' dcgan/main.py on the same two networks, in one run.

Generator forward: the `dcgan-mnist` generator in evaluation mode under no_grad, `--batch` codes per pass. Training:
one step = one discriminator update (a real and a generated batch) and one generator update; images/s counts the
real images the discriminator sees (the batch size per step). The peer is the pytorch/examples loop (BCELoss on
sigmoid outputs, zero_grad/backward/step by hand) driving the same generator and discriminator, built from the same
seed. The peer reuses the discriminator step's generated batch for the generator step (one generator pass per
step); the adversarial step draws fresh noise for the generator update, as Goodfellow et al.'s Algorithm 1 does (two
generator passes, one of them without gradients), which costs it speed on a network whose generator dominates the
work. Each measurement takes `--repeats` turns and the median is printed; on a shared machine the numbers move with
the load, so compare the ratio, measured in the same run.

    python benchmarks/dcgan_throughput.py [--steps 40] [--batch 256] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from neuralab.build import build, resolve
from neuralab.registry import RECIPES
from neuralab.studies.results import machine_line, write_block


def generator_rate(generator: nn.Module, latent_dim: int, batch: int, passes: int, device: torch.device) -> float:
    """Images/s of the generator's forward pass alone."""
    generator.eval()
    z = torch.randn(batch, latent_dim, device=device)
    with torch.no_grad():
        generator(z)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(passes):
            generator(z)
        _sync(device)
    return batch * passes / (time.perf_counter() - start)


def neuralab_rate(method, data, steps: int, device: torch.device) -> float:
    """Real images/s through the adversarial method's `step` (one D and one G update per step)."""
    method.step(data.next_batch())  # warm-up
    _sync(device)
    start, seen = time.perf_counter(), 0
    for _ in range(steps):
        x, y = data.next_batch()
        method.step((x, y))
        seen += len(x)
    _sync(device)
    return seen / (time.perf_counter() - start)


def examples_rate(generator: nn.Module, discriminator: nn.Module, data, latent_dim: int, steps: int,
                  device: torch.device) -> float:
    """Real images/s of the pytorch/examples dcgan loop (Adam 2e-4, betas (0.5, 0.999), BCELoss) on the same nets."""
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    generator.train(), discriminator.train()

    def one(x: torch.Tensor) -> None:
        real = x * 2 - 1
        discriminator.zero_grad()
        out = torch.sigmoid(discriminator(real))
        err_real = criterion(out, torch.ones_like(out))
        err_real.backward()
        fake = generator(torch.randn(len(x), latent_dim, device=device))
        out = torch.sigmoid(discriminator(fake.detach()))
        err_fake = criterion(out, torch.zeros_like(out))
        err_fake.backward()
        opt_d.step()
        generator.zero_grad()
        out = torch.sigmoid(discriminator(fake))
        criterion(out, torch.ones_like(out)).backward()
        opt_g.step()

    one(data.next_batch()[0])  # warm-up
    _sync(device)
    start, seen = time.perf_counter(), 0
    for _ in range(steps):
        x = data.next_batch()[0]
        one(x)
        seen += len(x)
    _sync(device)
    return seen / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):9.0f} images/s (runs: {', '.join(f'{v:.0f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="training steps timed per loop and repeat")
    parser.add_argument("--batch", type=int, default=256, help="codes per generator forward pass")
    parser.add_argument("--passes", type=int, default=20, help="generator forward passes timed per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="turns each measurement takes; the median is printed")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument("--write", metavar="FILE.md", help="also write the output between the "
                                                          "<!-- results:bench-dcgan:start/end --> markers of FILE.md")
    args = parser.parse_args()
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    recipe = RECIPES.get("dcgan-mnist")
    run = build(recipe, resolve(recipe, {"run": {"device": args.device}}))
    device, model, method, data = run.procs.device, run.model, run.method, run.data
    batch = data.batch_size
    say(f"dcgan-mnist on {device}: torch {torch.__version__}, {torch.get_num_threads()} threads, width "
          f"{model.cfg.width}, {model.cfg.g_base_convs} stride-1 generator layer(s), latent {model.latent_dim}, "
          f"training batch {batch}")
    forward = [generator_rate(model.generator, model.latent_dim, args.batch, args.passes, device)
               for _ in range(args.repeats)]
    say(f"generator forward (batch {args.batch}, no_grad)      {_median(forward)}")
    ours, peer = [], []
    for _ in range(args.repeats):  # the loops take turns, so a change of load hits both
        ours.append(neuralab_rate(method, data, args.steps, device))
        peer.append(examples_rate(model.generator, model.discriminator, data, model.latent_dim, args.steps, device))
    say(f"training, pytorch/examples dcgan loop             {_median(peer)}")
    say(f"training, neuralab adversarial step               {_median(ours)}  "
          f"ratio {statistics.median(ours) / statistics.median(peer):.2f}")
    if args.write:
        text = (f"Output of `python benchmarks/dcgan_throughput.py` on {machine_line()}:\n\n```\n" + "\n".join(lines)
                + "\n```")
        write_block(Path(args.write), "bench-dcgan", text)


if __name__ == "__main__":
    main()

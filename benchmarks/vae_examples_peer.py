"""`vae-examples-mnist` against pytorch/examples' VAE: wall time to the peer's 10-epoch test loss, one process.

Peer: github.com/pytorch/examples `vae/main.py` as it runs on a CPU, written out here: fc1 784->400, fc21/fc22
400->20 (mean, log-variance), fc3 20->400, fc4 400->784 with a sigmoid; loss = binary cross-entropy summed over the
grey pixels (no binarisation) + the closed-form KL, Adam lr 1e-3, batch 128, seed 1, a test pass after every epoch
(test loss = summed loss / 10,000, z sampled as in training). Its data comes from torchvision's `datasets.MNIST` with
`ToTensor()`, which builds every example in Python (PIL image, to float); torchvision cannot be installed beside this
torch build, so `TorchvisionStyleMNIST` does the same per-example work with PIL on the same uint8 images, through a
`DataLoader` (shuffled, batch 128) as in the example. Left out, in the peer's favour: the reconstruction and sample
PNGs the example writes every epoch.

Ours: the `vae-examples-mnist` recipe, the same network, loss, optimiser and batch through the engine (test/neg_elbo:
the same quantity, z drawn from a seeded generator). Both clocks include the test passes. Target (issue 10): ours
reaches the peer's final test loss in at most half the peer's time.

    python benchmarks/vae_examples_peer.py [--epochs 10] [--races 3] [--write docs/benchmarks.md]
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
from mnist_examples_peer import TorchvisionStyleMNIST  # the same per-example loading (this folder is on sys.path)
from torch import nn
from torch.utils.data import DataLoader

import neuralab
from neuralab.data import mnist
from neuralab.studies.results import machine_line, write_block


class ExamplesVAE(nn.Module):
    """The VAE of pytorch/examples vae/main.py."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h1 = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h1), self.fc22(h1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def examples_loss(recon: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    bce = F.binary_cross_entropy(recon, x.view(-1, 784), reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def examples_peer(epochs: int) -> list[tuple[float, float]]:
    """Run the peer; (seconds since the start, test loss) after each epoch."""
    (x_tr, y_tr), (x_te, y_te) = mnist.load("mnist")
    torch.manual_seed(1)  # the example's default --seed
    model = ExamplesVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train = DataLoader(TorchvisionStyleMNIST(x_tr, y_tr, normalize=False), batch_size=128, shuffle=True)
    test = DataLoader(TorchvisionStyleMNIST(x_te, y_te, normalize=False), batch_size=128, shuffle=False)
    start, curve = time.perf_counter(), []
    for epoch in range(1, epochs + 1):
        model.train()
        for x, _ in train:
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            loss = examples_loss(recon, x, mu, logvar)
            loss.backward()
            optimizer.step()
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for x, _ in test:
                recon, mu, logvar = model(x)
                test_loss += float(examples_loss(recon, x, mu, logvar))
        test_loss /= len(test.dataset)
        curve.append((time.perf_counter() - start, test_loss))
        print(f"  peer epoch {epoch}: test loss {test_loss:.4f} at {curve[-1][0]:.1f} s", flush=True)
    return curve


def ours(epochs: int) -> list[tuple[float, float]]:
    """Train vae-examples-mnist; (seconds since the start of training, test/neg_elbo) at each evaluation."""
    out = Path(tempfile.mkdtemp(prefix="bench-vae-"))
    try:
        neuralab.train("vae-examples-mnist", {"run": {"epochs": epochs}}, out=out)
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return [(r["time"], r["test/neg_elbo"]) for r in rows if "test/neg_elbo" in r]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each (the issue's peer figure: 10)")
    parser.add_argument("--races", type=int, default=3, help="peer and ours run by turns this many times; the "
                                                             "ratio is of the median times (default 3)")
    parser.add_argument("--write", metavar="FILE.md", help="also write the output between the "
                                                          "<!-- results:bench-vae:start/end --> markers of FILE.md")
    args = parser.parse_args()
    lines = [f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
             f"{torch.backends.cpu.get_cpu_capability()}"]
    print(lines[0], flush=True)
    peer_times, our_times = [], []
    for race in range(1, args.races + 1):
        # By turns, so that a slow spell of a shared machine falls on both sides rather than on one.
        peer = examples_peer(args.epochs)
        target = peer[-1][1]  # seeded: the same every race
        peer_times.append(peer[-1][0])
        lines += [f"race {race}: pytorch/examples vae: {args.epochs} epochs in {peer[-1][0]:.1f} s "
                  f"({peer[-1][0] / args.epochs:.1f} s an epoch), final test loss {target:.2f}"]
        print(lines[-1], flush=True)
        curve = ours(args.epochs)
        hit = next(((t, v) for t, v in curve if v <= target), None)
        lines += [f"race {race}: ours (vae-examples-mnist): {args.epochs} epochs in {curve[-1][0]:.1f} s, final "
                  f"test/neg_elbo {curve[-1][1]:.2f}"]
        if hit is None:
            lines += [f"ours never reached {target:.2f} in {args.epochs} epochs"]
            break
        lines += [f"race {race}: ours reached {hit[1]:.2f} <= {target:.2f} after epoch {curve.index(hit) + 1}, "
                  f"{hit[0]:.1f} s: ours / peer {hit[0] / peer[-1][0]:.2f}"]
        print("\n".join(lines[-2:]), flush=True)
        our_times.append(hit[0])
    if len(our_times) == args.races:
        peer_s, ours_s = statistics.median(peer_times), statistics.median(our_times)
        lines += [f"median of {args.races} races: peer {peer_s:.1f} s, ours {ours_s:.1f} s to the peer's final test "
                  f"loss; ours / peer: {ours_s / peer_s:.2f} (target <= 0.5)"]
    print(lines[-1])
    if args.write:
        text = f"Output of `python benchmarks/vae_examples_peer.py` on {machine_line()}:\n\n```\n" + \
               "\n".join(lines) + "\n```"
        write_block(Path(args.write), "bench-vae", text)


if __name__ == "__main__":
    main()

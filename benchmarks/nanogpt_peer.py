"""`gpt-shakespeare` against a nanoGPT-style plain PyTorch loop at nanoGPT's CPU setting: wall time for each to reach
the peer's final validation loss, one run, one machine, side by side.

Peer: Karpathy's nanoGPT (github.com/karpathy/nanoGPT, `train.py` with `config/train_shakespeare_char.py`) as its
README runs it on a CPU: `--device=cpu --compile=False --eval_iters=20 --log_interval=1 --block_size=64
--batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0`. Written
out below: its GPT (pre-norm blocks, causal `F.scaled_dot_product_attention`, no biases, output layer tied to the
token embedding, N(0, 0.02) init), AdamW (lr 1e-3, betas 0.9/0.99, weight decay 0.1 on matrices only), 100 warm-up
iterations then a cosine to 1e-4, gradient clipping at 1.0, float32 on the CPU, `loss.item()` every iteration, an
estimate of both splits' losses (20 batches each) every 250 iterations, and its `get_batch`, which builds each
window with NumPy and stacks them in Python. nanoGPT's `shakespeare_char` data is tiny-shakespeare (1.1M characters,
90/10 split); both runs here use this package's Shakespeare text (5.06M characters, the last 10% held out) and its
vocabulary, so the numbers are not nanoGPT's own ~1.88.

The target both are timed to: the peer's final model's loss on a fixed validation slice (the first --val-chars
characters of the held-out text). Ours is `neuralab.train("gpt-shakespeare")` at the same model size, batch and
context with the recipe's own training (Muon on the blocks' matrices and AdamW on the rest, a cosine from the start,
no weight decay, its own step count; untied output layer, biases kept), evaluated on that slice every --eval-every
steps; its clock is the engine's (evaluations and checkpoints included). Target (issue 9): ours reaches the peer's
final loss in <= half the peer's wall time.

    python benchmarks/nanogpt_peer.py [--iters 2000] [--steps N] [--compile]     # --iters 20 --steps 20: a smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import neuralab
from neuralab.data import corpora
from neuralab.data.text_stream import TextStreamConfig, build_text_stream, windows
from neuralab.studies.results import machine_line, write_block

BLOCK, BATCH, LAYERS, HEADS, WIDTH = 64, 12, 4, 4, 128


class PeerBlock(nn.Module):
    """nanoGPT's Block: x + attn(ln_1(x)), x + mlp(ln_2(x)), no biases."""

    def __init__(self) -> None:
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(WIDTH, bias=False), nn.LayerNorm(WIDTH, bias=False)
        self.c_attn, self.c_proj = nn.Linear(WIDTH, 3 * WIDTH, bias=False), nn.Linear(WIDTH, WIDTH, bias=False)
        self.mlp = nn.Sequential(nn.Linear(WIDTH, 4 * WIDTH, bias=False), nn.GELU(),
                                 nn.Linear(4 * WIDTH, WIDTH, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(WIDTH, dim=2)
        q, k, v = (z.view(b, t, HEADS, c // HEADS).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).contiguous().view(b, t, c)
        x = x + self.c_proj(y)
        return x + self.mlp(self.ln_2(x))


class PeerGPT(nn.Module):
    """nanoGPT's GPT at the CPU setting (output layer tied to the token embedding)."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, WIDTH), nn.Embedding(BLOCK, WIDTH)
        self.h = nn.ModuleList(PeerBlock() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(WIDTH, bias=False)
        self.lm_head = nn.Linear(WIDTH, vocab, bias=False)
        self.wte.weight = self.lm_head.weight
        self.apply(lambda m: nn.init.normal_(m.weight, 0.0, 0.02) if isinstance(m, nn.Linear | nn.Embedding) else None)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * LAYERS))

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


def peer(train: np.ndarray, val: np.ndarray, vocab: int, iters: int) -> tuple[PeerGPT, float, float]:
    """nanoGPT's training loop; returns (model, seconds, its own last estimate of the validation loss)."""
    torch.manual_seed(1337)
    model = PeerGPT(vocab)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                                  lr=1e-3, betas=(0.9, 0.99))

    def get_batch(data: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        ix = torch.randint(len(data) - BLOCK, (BATCH,))
        x = torch.stack([torch.from_numpy(data[i:i + BLOCK].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + BLOCK].astype(np.int64)) for i in ix])
        return x, y

    def lr_at(it: int) -> float:
        if it < 100:
            return 1e-3 * (it + 1) / 101
        ratio = min(1.0, (it - 100) / max(1, iters - 100))
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * ratio)) * (1e-3 - 1e-4)

    @torch.no_grad()
    def estimate_loss() -> float:
        model.eval()
        losses = {}
        for name, data in (("train", train), ("val", val)):
            losses[name] = float(np.mean([model(*get_batch(data))[1].item() for _ in range(20)]))
        model.train()
        return losses["val"]

    start, last = time.perf_counter(), float("nan")
    for it in range(iters + 1):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(it)
        if it % 250 == 0 or it == iters:
            last = estimate_loss()
        if it == iters:
            break
        _, loss = model(*get_batch(train))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss.item()  # log_interval=1: printed every iteration
    return model, time.perf_counter() - start, last


@torch.no_grad()
def slice_loss(model: PeerGPT, tokens: torch.Tensor) -> float:
    """Mean loss on non-overlapping windows of the fixed validation slice (as neuralab's evaluation reads it)."""
    model.eval()
    x, y = windows(tokens, BLOCK)
    return float(sum(model(x[i:i + 64], y[i:i + 64])[1] * y[i:i + 64].numel() for i in range(0, len(x), 64))
                 / y.numel())


def ours(seed: int, target: float, args: argparse.Namespace, say) -> float | None:
    """Train `gpt-shakespeare` at `seed`; the engine's clock when its validation loss first reached `target`."""
    with tempfile.TemporaryDirectory() as tmp:
        run = neuralab.train("gpt-shakespeare", {
            "run": {**({"steps": args.steps} if args.steps else {}), "eval_every": args.eval_every,
                    "threads": args.threads, "device": "cpu", "compile": args.compile, "seed": seed},
            "data": {"test_limit": args.val_chars}}, out=Path(tmp) / "ours")
        rows = [json.loads(line) for line in (Path(run.run_dir) / "metrics.jsonl").read_text().splitlines()]
    reached = next(((r["time"], r["step"], r["val/loss"]) for r in rows if r.get("val/loss", math.inf) <= target),
                   None)
    say(f"ours (gpt-shakespeare, seed {seed}): {run.step} steps in {run.metrics['time/seconds']:.1f} s, final "
        f"val/loss {run.metrics['val/loss']:.4f}; " + ("never reached the target" if reached is None else
                                                       f"{reached[2]:.4f} <= {target:.4f} at step {reached[1]}, "
                                                       f"{reached[0]:.1f} s"))
    return None if reached is None else reached[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=2000, help="the peer's iterations (nanoGPT's CPU setting: 2000)")
    parser.add_argument("--steps", type=int, default=0, help="our steps; 0: the recipe's own")
    parser.add_argument("--seeds", type=int, default=3, help="our runs, at seeds 0..N-1")
    parser.add_argument("--val-chars", type=int, default=32768, help="characters of the fixed validation slice")
    parser.add_argument("--eval-every", type=int, default=100, help="our evaluation interval in steps")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads for both runs")
    parser.add_argument("--compile", action="store_true", help="run ours with --run.compile")
    parser.add_argument("--write", type=Path, metavar="FILE.md", help="also write the output between the "
                        "<!-- results:bench-nanogpt:start/end --> markers of FILE.md")
    args = parser.parse_args()
    if args.write:  # a missing file or markers is found now, not after minutes of training
        write_block(args.write, "bench-nanogpt", "", dry_run=True)
    torch.set_num_threads(args.threads)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    data = build_text_stream(corpora.shakespeare(), TextStreamConfig(test_limit=args.val_chars), 0, "shakespeare")
    model, peer_seconds, peer_estimate = peer(data.train.numpy().astype(np.uint16), data.val.numpy().astype(np.uint16),
                                              len(data.meta.vocab), args.iters)
    target = slice_loss(model, data.val)
    say(f"peer (nanoGPT loop): {args.iters} iterations in {peer_seconds:.1f} s; its own val estimate "
        f"{peer_estimate:.4f}, on the fixed {len(data.val):,}-character slice {target:.4f}")
    times = [ours(seed, target, args, say) for seed in range(args.seeds)]
    ratios = np.array([t / peer_seconds for t in times if t is not None])
    spread = ratios.std(ddof=1) if len(ratios) > 1 else 0.0
    say(f"time to the peer's final loss, ours / peer: {ratios.mean():.2f} +- {spread:.2f} over "
        f"{len(ratios)} of {args.seeds} seeds that reached it (target <= 0.5)" if len(ratios) else
        "time to the peer's final loss: no seed of ours reached it")
    if args.write:
        write_block(args.write, "bench-nanogpt", f"Output of `python benchmarks/nanogpt_peer.py --write "
                    f"{args.write}` on {machine_line(args.threads)}:\n\n```\n" + "\n".join(lines) + "\n```")


if __name__ == "__main__":
    main()

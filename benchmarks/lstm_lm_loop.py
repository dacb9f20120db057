"""Training speed of `lstm-shakespeare` against a plain PyTorch loop over the same network: tokens per second, side
by side in one run, one machine.

Plain loop: what a d2l/Keras user writes: the same embedding -> nn.LSTM -> linear network and Adam, batches cut from
the stream tensor each step by Python slicing (d2l's sequential partitioning), the hidden state carried and detached,
float32, `loss.item()` every step for the progress line. Ours: the recipe through the engine (its batch layout,
bf16 autocast where the CPU has AMX/AVX512-BF16, gradient clipping, metrics log, checkpoints at the end); its
tokens/s is the method's own count over the training steps, evaluations excluded.

    python benchmarks/lstm_lm_loop.py [--steps 60] [--threads 2]     # --steps 3: a smoke run
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import neuralab
from neuralab.data import corpora
from neuralab.data.text_stream import TextStreamConfig, build_text_stream
from neuralab.registry import RECIPES

RECIPE = "lstm-shakespeare"


def plain_loop(tokens: torch.Tensor, vocab: int, model_cfg: dict, batch: int, seq_len: int, lr: float,
               steps: int, warmup: int) -> float:
    """Tokens per second of a plain truncated-BPTT loop over `steps` steps after `warmup` untimed ones."""
    torch.manual_seed(0)
    embed = nn.Embedding(vocab, model_cfg["embed_dim"])
    lstm = nn.LSTM(model_cfg["embed_dim"], model_cfg["hidden_size"], model_cfg["layers"], batch_first=True)
    head = nn.Linear(model_cfg["hidden_size"], vocab)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=lr)
    length = (len(tokens) - 1) // batch
    rows = tokens[:batch * length].view(batch, length)
    state, pos = None, 0
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        if pos + seq_len + 1 > length:
            pos, state = 0, None
        x = torch.stack([rows[b, pos:pos + seq_len] for b in range(batch)])  # Python slicing per row, as d2l
        y = torch.stack([rows[b, pos + 1:pos + seq_len + 1] for b in range(batch)])
        pos += seq_len
        out, state = lstm(embed(x), state)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(head(out).flatten(0, 1), y.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
    return steps * batch * seq_len / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="timed training steps of each loop")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps before the plain loop's clock starts "
                                                              "(ours: as many as the timed ones)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads for both")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    recipe = RECIPES.get(RECIPE)
    sections = recipe.sections()
    data_cfg, model_cfg = sections["data"], sections["model"]
    data = build_text_stream(corpora.shakespeare(), TextStreamConfig(), 0, "shakespeare")

    with tempfile.TemporaryDirectory() as tmp:
        # Ours: `steps` warm-up steps, an evaluation (which restarts the method's token clock), the timed steps.
        run = neuralab.train(RECIPE, {"run": {"steps": 2 * args.steps, "eval_every": args.steps,
                                              "threads": args.threads, "device": "cpu"},
                                      "data": {"test_limit": 2048}}, out=Path(tmp) / "ours")
    ours = run.metrics["time/tokens_per_s"]
    plain = plain_loop(data.train, len(data.meta.vocab), {"embed_dim": model_cfg.embed_dim,
                                                          "hidden_size": model_cfg.hidden_size,
                                                          "layers": model_cfg.layers},
                       data_cfg.batch_size, data_cfg.seq_len, sections["method"].lr, args.steps, args.warmup)
    print(f"{RECIPE}: {model_cfg.layers}x{model_cfg.hidden_size} LSTM, batch {data_cfg.batch_size} x "
          f"{data_cfg.seq_len} tokens, {args.threads} threads, {args.steps} timed steps")
    print(f"  plain PyTorch loop (float32): {plain:,.0f} tokens/s")
    print(f"  neuralab (recipe as trained): {ours:,.0f} tokens/s")
    print(f"  ratio ours / plain: {ours / plain:.2f}")


if __name__ == "__main__":
    main()

"""`rbm-sklearn-setting` against scikit-learn's BernoulliRBM: training time and test pseudo-likelihood, one process.

Peer: `sklearn.neural_network.BernoulliRBM(n_components=256, learning_rate=0.06, batch_size=20, n_iter=1,
random_state=0)` fitted on the 60k MNIST training images as float64 pixels / 255 (grey, not binarised, as
scikit-learn's RBM example scales its digits), batches in file order; its clock is `fit` alone. Its algorithm:
persistent CD-1 with one chain per batch example (chains kept as hidden samples, started at h = 0), plain SGD with
update lr / batch_size * sum = lr * mean of the statistics, N(0, 0.01) weights, zero biases.

Ours: the `rbm-sklearn-setting` recipe through `neuralab.train` (the engine, with its logging), the same algorithm
in float32 (persistent CD-1, one chain per example started at the first batch's data, plain SGD lr 0.06 on the
means of the statistics), on the same pixels in a seeded shuffled order; then a second setting of our choosing,
`--batch 40 --lr 0.12` (the learning rate scaled with the batch: half the updates, each on twice the examples). Its
clock is the engine's at the last step, logged before the end-of-run evaluation and checkpoint (also printed: the
engine's time with them, and the whole `neuralab.train` call with building the run and the plots). Both sides are
scored by THE SAME function: our weights are copied into a BernoulliRBM (components_ = W^T) whose `score_samples`
runs on the 10k test images with random_state 0, so both flip the same pixel of each test image;
`neuralab.models.energy.pseudo_likelihood` with those flips is printed beside it as a check.

Time to the peer's pseudo-likelihood: a run of N steps is bit for bit the first N steps of the full run (same seed,
same batches, no schedule), so runs of 1/10, 2/10, ... of the epoch are trained until one scores at least the
peer's final value; its time is ours to that value. Timings compare only inside one run on a quiet machine.

    python benchmarks/rbm_sklearn_peer.py [--batch 40 --lr 0.12] [--threads N] [--train-limit 2000]
                                          [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.neural_network import BernoulliRBM
from threadpoolctl import threadpool_info, threadpool_limits

import neuralab
from neuralab.data import mnist
from neuralab.models.energy.pseudo_likelihood import pseudo_likelihood
from neuralab.models.energy.rbm import RBM
from neuralab.studies.results import machine_line, write_block

RECIPE = "rbm-sklearn-setting"
PEER = dict(n_components=256, learning_rate=0.06, batch_size=20, n_iter=1, random_state=0)
SCORE_SEED = 0  # score_samples' random_state on both sides: the same flipped pixel per test image
GRID = 10  # time to the peer's score: runs of 1/GRID, 2/GRID, ... of the epoch


def pixels(train_limit: int) -> tuple[np.ndarray, np.ndarray]:
    """The registered `mnist` source's images as float64 (N, 784) in [0, 1], training (limited) and test."""
    (x_tr, _), (x_te, _) = mnist.load("mnist")
    x_tr = x_tr[:train_limit] if train_limit else x_tr
    return (x_tr.reshape(len(x_tr), -1).numpy() / 255.0, x_te.reshape(len(x_te), -1).numpy() / 255.0)


def score(peer: BernoulliRBM, x_test: np.ndarray) -> float:
    """Mean pseudo-likelihood on the test images by scikit-learn's estimator, flips seeded by SCORE_SEED."""
    peer.random_state = SCORE_SEED
    return float(peer.score_samples(x_test).mean())


def twin(model: RBM) -> BernoulliRBM:
    """A fitted BernoulliRBM holding our weights (float64 copies; components_ is W^T, (H, V))."""
    peer = BernoulliRBM(**PEER)
    peer.components_ = model.weight.detach().double().T.cpu().numpy().copy()
    peer.intercept_hidden_ = model.hidden_bias.detach().double().cpu().numpy().copy()
    peer.intercept_visible_ = model.visible_bias.detach().double().cpu().numpy().copy()
    peer.n_features_in_ = model.cfg.in_features
    peer.h_samples_ = np.zeros((PEER["batch_size"], PEER["n_components"]))
    return peer


def check(model: RBM, x_test: np.ndarray) -> float:
    """Our `pseudo_likelihood` on the test images with the same flips as score_samples (SCORE_SEED)."""
    flip = torch.from_numpy(np.random.RandomState(SCORE_SEED).randint(0, x_test.shape[1], len(x_test)))
    return float(pseudo_likelihood(copy.deepcopy(model).double().cpu(), torch.from_numpy(x_test), flip=flip).mean())


def train_ours(overrides: dict, steps: int = 0) -> tuple[RBM, float, float, float]:
    """Train the recipe through the engine -> (model, seconds to the last step, seconds of the engine's loop with its
    end-of-run evaluation and checkpoint, seconds of the whole call with building the run and the plots)."""
    run_over = {**overrides.get("run", {}), "steps": steps}
    out = Path(tempfile.mkdtemp(prefix="bench-rbm-"))
    try:
        start = time.perf_counter()
        run = neuralab.train(RECIPE, {**overrides, "run": run_over}, out=out / "run")
        call_s = time.perf_counter() - start
        rows = [json.loads(line) for line in (out / "run" / "metrics.jsonl").read_text().splitlines()]
        # the engine logs the last step's training metrics, with its clock, before it evaluates
        trained_s = next(r["time"] for r in rows if r["step"] == run.step and "train/recon_error" in r)
        return run.method.model, trained_s, run.metrics["time/seconds"], call_s
    finally:
        shutil.rmtree(out, ignore_errors=True)


def load() -> str:
    """The 1-minute load average against the cores: other processes inflate both clocks, unevenly."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=40, help="batch of our second setting")
    parser.add_argument("--lr", type=float, default=0.12, help="learning rate of our second setting (0.06 scaled "
                                                                "with the batch)")
    parser.add_argument("--threads", type=int, default=0, help="pin torch's threads and scikit-learn's BLAS threads "
                                                               "to N (0: torch's default, BLAS as it comes)")
    parser.add_argument("--train-limit", type=int, default=0, help="training images (0: all 60k; small for a smoke "
                                                                   "run)")
    parser.add_argument("--write", metavar="FILE.md", help="also write the output between the "
                                                          "<!-- results:bench-rbm:start/end --> markers of FILE.md")
    args = parser.parse_args()
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    x_train, x_test = pixels(args.train_limit)
    with threadpool_limits(args.threads or None, user_api="blas"):
        blas = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info()
                         if p["user_api"] == "blas")
        say(f"torch {torch.__version__}, {args.threads or torch.get_num_threads()} torch threads; scikit-learn "
            f"BLAS threads: {blas}; {len(x_train)} training, {len(x_test)} test images; {load()}")
        peer = BernoulliRBM(**PEER)
        start = time.perf_counter()
        peer.fit(x_train)
        peer_s, peer_pl = time.perf_counter() - start, score(peer, x_test)
    say(f"scikit-learn BernoulliRBM (256 hidden, lr 0.06, batch 20, 1 epoch, float64): fit {peer_s:.2f} s, "
        f"test pseudo-likelihood {peer_pl:.2f}")
    base = {"run": {"threads": args.threads}, "data": {"train_limit": args.train_limit}}
    settings = [("the peer's setting", "batch 20, lr 0.06", base),
                ("our setting", f"batch {args.batch}, lr {args.lr:g}",
                 {**base, "data": {**base["data"], "batch_size": args.batch}, "method": {"lr": args.lr}})]
    for name, label, overrides in settings:
        model, loop_s, engine_s, call_s = train_ours(overrides)
        pl = score(twin(model), x_test)
        say(f"ours, {name} ({label}, PCD-1, plain SGD, 1 epoch, float32): {loop_s:.2f} s training "
            f"({engine_s:.2f} s with the engine's end-of-run evaluation and checkpoint, {call_s:.2f} s for the whole "
            f"neuralab.train call with loading MNIST and the plots), test pseudo-likelihood {pl:.2f} "
            f"(neuralab's pseudo_likelihood, same flips: {check(model, x_test):.2f})")
        say(f"  full epoch: speed ratio peer / ours {peer_s / loop_s:.1f}x, pseudo-likelihood "
            f"{'at least' if pl >= peer_pl else 'below'} the peer's ({pl - peer_pl:+.2f})")
        steps_per_epoch = -(-len(x_train) // overrides["data"].get("batch_size", PEER["batch_size"]))
        for tenth in range(1, GRID + 1):
            steps = round(steps_per_epoch * tenth / GRID)
            model, loop_s = (model, loop_s) if tenth == GRID else train_ours(overrides, steps)[:2]
            pl = score(twin(model), x_test)
            if pl >= peer_pl:
                say(f"  to the peer's pseudo-likelihood: {tenth}/{GRID} epoch ({steps} steps) scores {pl:.2f} after "
                    f"{loop_s:.2f} s: {peer_s / loop_s:.1f}x faster (target >= 5x)")
                break
        else:
            say(f"  never reached the peer's {peer_pl:.2f} within the epoch")
    say(f"at the end: {load()}")
    if args.write:
        command = " ".join(["python benchmarks/rbm_sklearn_peer.py", *(a for a in sys.argv[1:] if a != "--write"
                                                                         and a != args.write)])
        text = (f"Output of `{command}` on {machine_line(args.threads)}:\n\n```\n"
                + "\n".join(lines) + "\n```")
        write_block(Path(args.write), "bench-rbm", text)


if __name__ == "__main__":
    main()

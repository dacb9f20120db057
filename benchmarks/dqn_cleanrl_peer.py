"""`dqn-cartpole` against a CleanRL-style DQN loop on CartPole-v1: wall time until the mean return of the last 20
training episodes first reaches 475, both in one process, one after the other.

Peer: CleanRL's `dqn.py` (Huang et al., "CleanRL: High-quality Single-file Implementations of Deep Reinforcement
Learning Algorithms", 2022) written out here at its CartPole-v1 defaults, with no cleanrl dependency: 500k total
steps, Adam lr 2.5e-4, buffer 10k, gamma 0.99, tau 1.0, target copied every 500 steps, batch 128, epsilon 1 -> 0.05
linearly over half the run, learning_starts 10k, one update every 10 steps, a 120-84 ReLU MLP, the MSE TD loss
CleanRL uses; one gymnasium CartPole-v1 in a `SyncVectorEnv` (same-step autoreset, the final observation of a
truncated episode stored as its next observation, as CleanRL does), a NumPy replay buffer sampled with
`np.random.randint` as Stable-Baselines3's is (which CleanRL imports), Python's `random` for exploration.

Ours: the `dqn-cartpole` recipe built as `neuralab train` builds it (tensor CartPole, its own settings), stepped by
calling the method's `step` on the stream, the engine's per-step call, without the engine's logging, periodic
greedy evaluation and checkpoints (the peer has none of them either).

Both clocks start after the environments and networks exist and stop at the first step whose last 20 finished
training episodes (epsilon-greedy, as they were played) average >= 475. Wall times compare only within one run on
a quiet machine: on a machine shared with other jobs both are inflated, unevenly.

    python benchmarks/dqn_cleanrl_peer.py [--seeds 3] [--threads 1] [--side both|ours|peer] [--set method.lr=1e-3]
                                          [--write docs/rl.md]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import deque
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neuralab.build import build, resolve
from neuralab.registry import RECIPES
from neuralab.studies.results import machine_line, write_block

RECIPE = "dqn-cartpole"
TARGET, WINDOW = 475.0, 20
PEER = dict(total_timesteps=500_000, learning_rate=2.5e-4, buffer_size=10_000, gamma=0.99, tau=1.0,
            target_network_frequency=500, batch_size=128, start_e=1.0, end_e=0.05, exploration_fraction=0.5,
            learning_starts=10_000, train_frequency=10)


class QNetwork(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        self.network = nn.Sequential(nn.Linear(obs_dim, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                     nn.Linear(84, n_actions))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class NumpyReplay:
    """Stable-Baselines3's ReplayBuffer for one environment, as CleanRL uses it: NumPy rows, uniform sampling."""

    def __init__(self, size: int, obs_dim: int) -> None:
        self.obs = np.zeros((size, 1, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros((size, 1, 1), dtype=np.int64)
        self.rewards = np.zeros((size, 1), dtype=np.float32)
        self.dones = np.zeros((size, 1), dtype=np.float32)
        self.size, self.pos, self.full = size, 0, False

    def add(self, obs: np.ndarray, next_obs: np.ndarray, action: np.ndarray, reward: np.ndarray,
            done: np.ndarray) -> None:
        self.obs[self.pos], self.next_obs[self.pos] = obs, next_obs
        self.actions[self.pos], self.rewards[self.pos], self.dones[self.pos] = action.reshape(1, 1), reward, done
        self.pos += 1
        if self.pos == self.size:
            self.full, self.pos = True, 0

    def sample(self, batch: int) -> tuple[torch.Tensor, ...]:
        inds = np.random.randint(0, self.size if self.full else self.pos, size=batch)
        env = np.random.randint(0, 1, size=batch)
        return tuple(torch.as_tensor(a[inds, env]) for a in (self.obs, self.actions, self.next_obs, self.dones,
                                                            self.rewards))


def linear_schedule(start_e: float, end_e: float, duration: float, t: int) -> float:
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e)


def peer(seed: int) -> tuple[float | None, int]:
    """CleanRL's loop -> (seconds to the target or None, environment steps taken)."""
    p = PEER
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    envs = gym.vector.SyncVectorEnv([lambda: gym.make("CartPole-v1")],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs_dim, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    q_network = QNetwork(obs_dim, n_actions)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=p["learning_rate"])
    target_network = QNetwork(obs_dim, n_actions)
    target_network.load_state_dict(q_network.state_dict())
    rb = NumpyReplay(p["buffer_size"], obs_dim)
    envs.single_action_space.seed(seed)
    returns: deque[float] = deque(maxlen=WINDOW)
    ep_return = 0.0
    obs, _ = envs.reset(seed=seed)
    start = time.perf_counter()
    for global_step in range(p["total_timesteps"]):
        epsilon = linear_schedule(p["start_e"], p["end_e"], p["exploration_fraction"] * p["total_timesteps"],
                                  global_step)
        if random.random() < epsilon:
            actions = np.array([envs.single_action_space.sample() for _ in range(envs.num_envs)])
        else:
            q_values = q_network(torch.Tensor(obs))
            actions = torch.argmax(q_values, dim=1).cpu().numpy()
        next_obs, rewards, terminations, truncations, infos = envs.step(actions)
        ep_return += float(rewards[0])
        if terminations[0] or truncations[0]:  # RecordEpisodeStatistics' episode return
            returns.append(ep_return)
            ep_return = 0.0
            if len(returns) == WINDOW and np.mean(returns) >= TARGET:
                return time.perf_counter() - start, global_step + 1
        real_next_obs = next_obs.copy()
        for idx, trunc in enumerate(truncations):
            if trunc:
                real_next_obs[idx] = infos["final_obs"][idx]
        rb.add(obs, real_next_obs, actions, rewards, terminations)
        obs = next_obs
        if global_step > p["learning_starts"]:
            if global_step % p["train_frequency"] == 0:
                b_obs, b_actions, b_next_obs, b_dones, b_rewards = rb.sample(p["batch_size"])
                with torch.no_grad():
                    target_max, _ = target_network(b_next_obs).max(dim=1)
                    td_target = b_rewards.flatten() + p["gamma"] * target_max * (1 - b_dones.flatten())
                old_val = q_network(b_obs).gather(1, b_actions).squeeze()
                loss = F.mse_loss(td_target, old_val)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            if global_step % p["target_network_frequency"] == 0:
                for target_param, q_param in zip(target_network.parameters(), q_network.parameters(), strict=True):
                    target_param.data.copy_(p["tau"] * q_param.data + (1.0 - p["tau"]) * target_param.data)
    return None, p["total_timesteps"]


def ours(seed: int, overrides: dict) -> tuple[float | None, int]:
    """`dqn-cartpole`'s method stepped on its stream -> (seconds to the target or None, environment steps)."""
    recipe = RECIPES.get(RECIPE)
    overrides = {**overrides, "run": {**overrides.get("run", {}), "seed": seed}}
    run = build(recipe, resolve(recipe, overrides), None, explicit=overrides)
    method, stream = run.method, run.data
    start = time.perf_counter()
    for _ in range(run.total_steps):
        method.step(stream.next_batch())
        last = method.returns[-WINDOW:]
        if len(last) == WINDOW and sum(last) / WINDOW >= TARGET:
            return time.perf_counter() - start, stream.env_steps
    return None, stream.env_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1, both sides each (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both sides")
    parser.add_argument("--side", choices=("both", "ours", "peer"), default="both")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="override of our recipe (tuning), e.g. method.lr=1e-3")
    parser.add_argument("--write", metavar="FILE.md", help="also write the output between the "
                                                           "<!-- results:bench-dqn:start/end --> markers of FILE.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides: dict[str, dict[str, str]] = {}
    for item in args.set:  # section.field=value, checked and converted by the recipe's config
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        overrides.setdefault(section, {})[name] = value
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    say(f"load average at the start: {os.getloadavg()[0]:.2f}")
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for seed in range(args.seeds):
        for side in ("ours", "peer") if args.side == "both" else (args.side,):
            seconds, steps = ours(seed, overrides) if side == "ours" else peer(seed)
            if seconds is not None:
                times[side].append(seconds)
            shown = f"{seconds:.1f} s" if seconds is not None else "never"
            name = RECIPE if side == "ours" else "CleanRL-style dqn.py"
            say(f"seed {seed}: {name:22s} last-{WINDOW} training return >= {TARGET:g} after {steps} environment "
                f"steps, {shown}")
    if len(times["ours"]) == len(times["peer"]) == args.seeds:
        ratios = np.array(times["peer"]) / np.array(times["ours"])
        for side, name in (("ours", RECIPE), ("peer", "CleanRL-style dqn.py")):
            t = np.array(times[side])
            say(f"{name:22s} {t.mean():.1f} +- {t.std(ddof=1) if len(t) > 1 else 0:.1f} s over {len(t)} seeds")
        say(f"ratio (peer time / our time): {ratios.mean():.1f}x +- {ratios.std(ddof=1) if len(ratios) > 1 else 0:.1f} "
            f"[{ratios.min():.1f}, {ratios.max():.1f}]")
    say(f"load average at the end: {os.getloadavg()[0]:.2f}; torch threads {args.threads}; wall times compare only "
        "on a quiet machine")
    if args.write:
        command = " ".join(["python benchmarks/dqn_cleanrl_peer.py", *(a for a in sys.argv[1:] if a != "--write"
                                                                          and a != args.write)])
        text = (f"Output of `{command}` on {machine_line(args.threads)}:\n\n```\n" + "\n".join(lines) + "\n```")
        write_block(Path(args.write), "bench-dqn", text)


if __name__ == "__main__":
    main()

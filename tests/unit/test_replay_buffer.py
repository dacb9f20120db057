"""Experience replay: ring order, overwriting the oldest, uniform sampling of the filled part, exact resume."""

from __future__ import annotations

import torch

from neuralab.data.replay_buffer import ReplayBuffer
from neuralab.data.vector_env import Transition


def transition(start: int, n: int = 3) -> Transition:
    """N transitions numbered start.. (every field encodes the number, so rows can be traced)."""
    k = torch.arange(start, start + n, dtype=torch.float32)
    return Transition(obs=k[:, None].repeat(1, 2), actions=k.long() % 2, rewards=k,
                      next_obs=k[:, None].repeat(1, 2) + 1, terminated=(k.long() % 5 == 0),
                      truncated=torch.zeros(n, dtype=torch.bool))


def make(capacity: int = 7) -> ReplayBuffer:
    return ReplayBuffer(capacity, (2,), torch.float32, (), torch.int64)


def test_rows_keep_their_transition_together_and_the_oldest_are_overwritten():
    buf = make()
    for start in (0, 3, 6):  # 9 transitions into 7 rows
        buf.add(transition(start))
    assert len(buf) == 7 and buf.pos == 2
    assert sorted(buf.rewards.tolist()) == [2, 3, 4, 5, 6, 7, 8]  # 0 and 1 overwritten
    batch = buf.gather(torch.arange(7))
    assert torch.equal(batch.obs[:, 0], batch.rewards) and torch.equal(batch.next_obs[:, 0], batch.rewards + 1)
    assert torch.equal(batch.actions, batch.rewards.long() % 2)
    assert torch.equal(batch.terminated, (batch.rewards.long() % 5 == 0).float())


def test_sampling_reads_only_filled_rows_uniformly():
    buf = make(100)
    buf.add(transition(1, 4))
    g = torch.Generator().manual_seed(0)
    drawn = buf.sample(4000, g).rewards
    assert set(drawn.tolist()) == {1.0, 2.0, 3.0, 4.0}
    counts = torch.bincount(drawn.long(), minlength=5)[1:].float()
    assert (counts / 4000 - 0.25).abs().max() < 0.03


def test_state_round_trip_samples_the_same_minibatches():
    a = make(10)
    for start in range(0, 12, 3):
        a.add(transition(start))
    b = make(10)
    b.load_state_dict(a.state_dict())
    ga, gb = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    x, y = a.sample(16, ga), b.sample(16, gb)
    assert all(torch.equal(getattr(x, f), getattr(y, f)) for f in ("obs", "actions", "rewards", "next_obs", "indices"))
    assert (a.pos, a.size) == (b.pos, b.size)

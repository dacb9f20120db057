"""DQN on Atari (curriculum R3): the Nature DQN network (Mnih et al. 2015) on ALE Pong through the Atari pipeline
of the notes (grayscale, crop, 84x84, frame skip 4, 4 stacked frames; data/atari.py), docs/rl.md "DQN on Atari".

`dqn-pong` is a CPU check of the whole pipeline, not a score: a few thousand frames in short episodes, a small
replay buffer, and a few hundred updates; it expects a finite, small TD loss. `--run.full true` trains the RL Zoo's
setting for GPUs (Raffin, rl-baselines3-zoo, hyperparams/dqn.yml, "atari": 10M agent steps = 40M frames, buffer
100k, Adam 1e-4, batch 32, learning from 100k steps, an update every 4 steps, target copied every 1000, epsilon to
0.01 over the first 10%) on one environment with the game's own episode limit (108,000 frames).
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

PONG = dict(env="ALE/Pong-v5", preprocess="atari", crop_top=34, crop_bottom=16, frame_skip=4,
            repeat_action_probability=0.0, noop_max=30, clip_rewards=True)
CPU_DATA = dict(num_envs=4, max_episode_steps=250, steps_per_block=250, eval_episodes=1)
CPU_METHOD = dict(lr=1e-4, gamma=0.99, buffer_size=2000, batch_size=32, learning_starts=500, train_frequency=4,
                  gradient_steps=1, target_update=250, exploration_fraction=0.5, epsilon_end=0.1, test_episodes=1)
FULL = dict(
    data=dict(num_envs=1, max_episode_steps=0, steps_per_block=250_000, eval_episodes=10),
    method=dict(buffer_size=100_000, learning_starts=100_000, target_update=1000, exploration_fraction=0.1,
                epsilon_end=0.01, test_episodes=10),
    run=dict(steps=10_000_000, log_every=1000),
)

register(Recipe(
    name="dqn-pong", family="rl", curriculum="R3",
    summary="DQN with the Nature network (3 conv + 2 FC, no pooling) on ALE Pong through the Atari pipeline "
            "(grayscale, crop, 84x84, frame skip 4, 4 stacked frames): a short CPU check of the pipeline; "
            "--run.full trains the RL Zoo's 10M-step setting on a GPU.",
    model="nature-cnn", method="dqn", data="gym-vector",
    model_config=dict(in_channels=4, image_size=84, n_actions=6, hidden=512),
    method_config=CPU_METHOD, data_config={**PONG, **CPU_DATA},
    run=RunConfig(steps=500, log_every=25),
    expect={"train/loss": ("<=", 0.1)},
    monitor="eval/return",
    full=FULL,
))

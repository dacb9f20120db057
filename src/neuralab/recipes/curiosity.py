"""Curiosity and reward-shaping recipes (curriculum R6), A2C on MiniGrid (Chevalier-Boisvert et al., "Minigrid &
Miniworld: Modular & Customizable Reinforcement Learning Environments for Goal-Oriented Tasks", 2023).

Curiosity: DoorKey-5x5, a sparse-reward maze (pick up the key, open the door, reach the goal; reward
1 - 0.9 * steps / 250 on reaching it, 0 otherwise), seen through the agent's 7x7 egocentric view. Plain A2C, A2C with
an intrinsic curiosity module, and a more curious agent given a noisy TV (one more action that shows random
noise). Shaping: Empty-16x16, fully observed (the whole grid), where the only reward is at the far corner; A2C
alone, with potential-based shaping, and with a "progress" bonus that is not a potential difference.

One engine step is a rollout of 5 steps in 16 environments (80 transitions) and one update; a block of 100 engine
steps ends with a greedy evaluation on fixed episodes.

Measured (seeds 0 and 1, `neuralab results --block curiosity`): plain A2C learns DoorKey-5x5 in its 12 blocks; the
curious agent does not beat it (it reaches the goal later, or not at all with a larger eta), so `icm-doorkey`
expects only what its module shows: an inverse model well above chance and a forward error that fades. The
noisy TV takes most of the curious agent's actions (against 1/8 for a uniform policy). On Empty-16x16 neither A2C
nor potential shaping at scale 0.01 moves the policy from uniform in 6 blocks (shaping does not speed learning
here), while the progress bonus does move it, away from the goal: the environment's return falls to 0.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

MAZE = dict(env="MiniGrid-DoorKey-5x5-v0", num_envs=16, steps_per_block=100, eval_episodes=20)
MAZE_NET = dict(obs_dim=147, n_actions=7, hidden=(64, 64))
A2C = dict(lr=1e-3, n_steps=5, gamma=0.99, gae_lambda=0.95, ent_coef=0.01, optimizer="rmsprop")
ICM = dict(A2C, eta=2e-5, beta=0.2)  # the best of eta 1e-4 and 2e-5 tried, seed 0 (5e-4 drowns the goal)
TV = dict(A2C, eta=5e-4, beta=0.2)  # a curiosity strong enough to steer the policy within the budget
# 20 blocks (160k environment steps): after 12, plain A2C's greedy return was 0.19, 0.87 and 0.77 (seeds 0-2), one
# seed short of its expectation; after 20, 0.92, 0.97 and 0.97
MAZE_RUN = RunConfig(epochs=20, log_every=20)
TV_RUN = RunConfig(epochs=6, log_every=20)

register(Recipe(
    name="a2c-doorkey", family="rl", curriculum="R6",
    summary="Baseline for curiosity: A2C alone on the sparse-reward DoorKey-5x5 maze (egocentric 7x7 view).",
    model="actor-critic", method="a2c", data="gym-vector",
    model_config=MAZE_NET, method_config=A2C, data_config=MAZE, run=MAZE_RUN,
    expect={"eval/return": (">=", 0.6)},
))

register(Recipe(
    name="icm-doorkey", family="rl", curriculum="R6",
    summary="A2C with an intrinsic curiosity module (Pathak et al. 2017) on DoorKey-5x5: the forward model's error "
            "rewards the unexplored.",
    model="actor-critic", method="a2c-icm", data="gym-vector",
    model_config=MAZE_NET, method_config=ICM, data_config=MAZE, run=MAZE_RUN, monitor="eval/return",
    # the module learns (chance for the inverse model: ln 7 = 1.95; forward loss ~100 at the start); the curious
    # agent does NOT beat a2c-doorkey here: both end at 0.92, 0.97, 0.97 and first reach 0.6 at blocks 13, 8, 9
    # against plain A2C's 11, 9, 10 (seeds 0-2)
    expect={"train/inverse_loss": ("<=", 1.3), "train/forward_loss": ("<=", 40.0)},
))

register(Recipe(
    name="icm-doorkey-noisy-tv", family="rl", curriculum="R6",
    summary="The noisy-TV failure (Burda et al. 2019): a curious agent (eta 5e-4) given an action that shows "
            "random noise learns to watch it (train/tv_fraction).",
    model="actor-critic", method="a2c-icm", data="gym-vector",
    model_config=dict(MAZE_NET, n_actions=8), method_config=TV, data_config=dict(MAZE, noisy_tv=True),
    run=TV_RUN, expect={"train/tv_fraction": (">=", 0.3)},
))

OPEN = dict(env="MiniGrid-Empty-16x16-v0", minigrid_obs="full", num_envs=16, steps_per_block=100, eval_episodes=5)
OPEN_NET = dict(obs_dim=768, n_actions=7, hidden=(64, 64))
OPEN_RUN = RunConfig(epochs=6, log_every=20)

register(Recipe(
    name="a2c-empty", family="rl", curriculum="R6",
    summary="Baseline for shaping: A2C alone on Empty-16x16, fully observed; the only reward is at the far corner.",
    model="actor-critic", method="a2c", data="gym-vector",
    model_config=OPEN_NET, method_config=A2C, data_config=OPEN, run=OPEN_RUN, monitor="eval/return",
    # the sparse reward does not move the policy from uniform (ln 7 = 1.946) in the budget: measured 1.9456, 1.9459
    expect={"train/entropy": (">=", 1.9)},
))

register(Recipe(
    name="shaping-potential-empty", family="rl", curriculum="R6",
    summary="Potential-based shaping (Ng et al. 1999), Phi = -0.01 x distance to the goal: the same optimal policy; "
            "in this budget it does not learn sooner than a2c-empty (measured).",
    model="actor-critic", method="a2c-shaped", data="gym-vector",
    model_config=OPEN_NET, method_config=dict(A2C, shaping="potential", shaping_scale=0.01), data_config=OPEN,
    run=OPEN_RUN, monitor="eval/return",
    # not faster here: the policy stays uniform as a2c-empty's does (measured 1.9455, 1.9456)
    expect={"train/entropy": (">=", 1.9)},
))

register(Recipe(
    name="shaping-progress-empty", family="rl", curriculum="R6",
    summary="A shaping that is not a potential: +0.05 per step closer to the goal, nothing for a step away; "
            "circling pays, and the policy changes (its greedy policy does not reach the goal).",
    model="actor-critic", method="a2c-shaped", data="gym-vector",
    model_config=OPEN_NET, method_config=dict(A2C, shaping="progress", shaping_scale=0.05), data_config=OPEN,
    run=OPEN_RUN, monitor="eval/return",
    # the bonus moves the policy (entropy 1.63 +- 0.01, seeds 0-2) where the potential's does not; the greedy policy
    # never reached the goal (eval/return 0 at every evaluation), while sampled training episodes sometimes did
    # (train/length 584 +- 59 at the end): an earlier expectation that every episode times out held on seeds 0 and 1
    # at an earlier commit and failed on all three seeds here
    expect={"train/entropy": ("<=", 1.85), "eval/return": ("<=", 0.0)},
))

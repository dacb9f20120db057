"""Tabular reinforcement-learning recipes (curriculum R2): Q-learning and SARSA on the cliff walk of
Sutton & Barto 2018, Example 6.6 (gamma 1, constant epsilon 0.1), with the same settings for both.

One engine step is one episode; an "epoch" is a block of `episodes_per_block` episodes, after which the
greedy policy is evaluated. The step size is 0.1 rather than the often-quoted 0.5: with 0.5 SARSA's
table is noisy enough that its greedy policy sometimes walks into a wall forever (docs/rl.md).
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

CLIFF = dict(env="CliffWalking-v1", episodes_per_block=50, max_episode_steps=500, eval_max_steps=200)
TD = dict(alpha=0.1, gamma=1.0, epsilon=0.1, epsilon_decay=1.0)

register(Recipe(
    name="qlearning-cliffwalking", family="rl", curriculum="R2",
    summary="Tabular Q-learning with epsilon-greedy on CliffWalking: the greedy path runs along the cliff "
            "edge (optimal return -13).",
    model="qtable", method="q-learning", data="gym-discrete",
    model_config=dict(n_states=48, n_actions=4), method_config=TD, data_config=CLIFF,
    run=RunConfig(epochs=20, log_every=1),
    expect={"eval/return": (">=", -13.0)},
))

register(Recipe(
    name="sarsa-cliffwalking", family="rl", curriculum="R2",
    summary="Tabular SARSA with epsilon-greedy on CliffWalking: on-policy, it learns a safer path away "
            "from the cliff edge.",
    model="qtable", method="sarsa", data="gym-discrete",
    model_config=dict(n_states=48, n_actions=4), method_config=TD, data_config=CLIFF,
    run=RunConfig(epochs=20, log_every=1),
    expect={"eval/return": (">=", -17.0)},
))

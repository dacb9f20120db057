"""Policy-gradient recipes (curriculum R4): REINFORCE with a baseline, A2C, A3C-style parallel actors and PPO on
CartPole-v1, PPO on LunarLander-v3.

One engine step is one rollout and its update; a block (`steps_per_block` engine steps) ends with a greedy
evaluation on fixed episodes. "Solved" for CartPole: a mean greedy return >= 475 over 100 evaluation episodes at
the run's last evaluation (no best checkpoint is picked: the learning rate anneals to 0, so the last policy is the
one the run ends with).
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

CARTPOLE_NET = dict(obs_dim=4, n_actions=2)

register(Recipe(
    name="a2c-cartpole", family="rl", curriculum="R4",
    summary="Synchronous advantage actor-critic (A2C) on 8 CartPole-v1 environments: 5-step rollouts, RMSprop.",
    model="actor-critic", method="a2c", data="gym-vector",
    model_config=CARTPOLE_NET,
    method_config=dict(lr=7e-4, n_steps=5, gamma=0.99, ent_coef=0.0),
    data_config=dict(env="CartPole-v1", num_envs=8, steps_per_block=1000, eval_episodes=100),
    run=RunConfig(epochs=10, log_every=100),
    expect={"eval/return": (">=", 475.0)},
))

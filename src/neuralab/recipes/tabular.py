"""Planning and tabular TD recipes (curriculum R1-R2) on gymnasium's toy-text environments: value and policy
iteration on FrozenLake's own transition model, Q-learning and expected SARSA learning FrozenLake from
experience to within reach of value iteration's optimum, Q-learning solving Taxi, and TD(0) prediction of a
fixed policy's values checked against dynamic programming. The cliff-walking pair lives in `rl.py`.

FrozenLake-v1 4x4 is slippery: an action moves the intended way with probability 1/3 and to either side
otherwise, so even the optimal policy reaches the goal within gymnasium's 100 steps only about 74% of the
time. Every recipe here evaluates its greedy policy over 1,000 episodes with fixed seeds, and value
iteration's greedy policy on the very same episodes: the `*_gap` metrics are how much worse it did.
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

# gymnasium's own step limits (100 on FrozenLake, 200 on Taxi) for training and evaluation episodes
FROZENLAKE = dict(env="FrozenLake-v1", episodes_per_block=500, max_episode_steps=100, eval_max_steps=100,
                  eval_episodes=1000)
TAXI = dict(env="Taxi-v4", episodes_per_block=500, max_episode_steps=200, eval_max_steps=200, eval_episodes=1000)
FROZENLAKE_TABLE = dict(n_states=16, n_actions=4)

register(Recipe(
    name="value-iteration-frozenlake", family="rl", curriculum="R1",
    summary="Value iteration on FrozenLake-v1's own transition model: the optimal policy, whose greedy success "
            "rate over 1,000 episodes is the bar the TD learners are held to.",
    model="qtable", method="value-iteration", data="gym-discrete",
    model_config=FROZENLAKE_TABLE, method_config=dict(gamma=0.99), data_config=FROZENLAKE,
    run=RunConfig(steps=2000, eval_every=100, log_every=10),
    expect={"eval/success": (">=", 0.70), "eval/success_gap": ("<=", 0.0)},
))

register(Recipe(
    name="policy-iteration-frozenlake", family="rl", curriculum="R1",
    summary="Policy iteration on FrozenLake-v1's own transition model: exact evaluation and greedy improvement "
            "reach value iteration's policy in a handful of rounds.",
    model="qtable", method="policy-iteration", data="gym-discrete",
    model_config=FROZENLAKE_TABLE, method_config=dict(gamma=0.99), data_config=FROZENLAKE,
    run=RunConfig(steps=100, eval_every=1, log_every=1),
    expect={"eval/success": (">=", 0.70), "eval/success_gap": ("<=", 0.0)},
))

register(Recipe(
    name="qlearning-frozenlake", family="rl", curriculum="R2",
    summary="Tabular Q-learning with decaying epsilon-greedy on slippery FrozenLake-v1: greedy success rate "
            "over 1,000 episodes within 0.02 of value iteration's on the same episodes.",
    model="qtable", method="q-learning", data="gym-discrete",
    model_config=FROZENLAKE_TABLE,
    method_config=dict(alpha=0.05, gamma=0.99, epsilon=1.0, epsilon_decay=0.9997, epsilon_min=0.01),
    data_config=FROZENLAKE, run=RunConfig(steps=10_000, log_every=10),
    expect={"eval/success": (">=", 0.70), "eval/success_gap": ("<=", 0.02)},
))

register(Recipe(
    name="expected-sarsa-frozenlake", family="rl", curriculum="R2",
    summary="Tabular expected SARSA with decaying epsilon-greedy on slippery FrozenLake-v1: greedy success rate "
            "within 0.02 of value iteration's on the same 1,000 episodes.",
    model="qtable", method="expected-sarsa", data="gym-discrete",
    model_config=FROZENLAKE_TABLE,
    method_config=dict(alpha=0.05, gamma=0.99, epsilon=1.0, epsilon_decay=0.9997, epsilon_min=0.01),
    data_config=FROZENLAKE, run=RunConfig(steps=10_000, log_every=10),
    expect={"eval/success": (">=", 0.70), "eval/success_gap": ("<=", 0.02)},
))

register(Recipe(
    name="qlearning-taxi", family="rl", curriculum="R2",
    summary="Tabular Q-learning on Taxi-v4, solved: every one of 1,000 greedy evaluation episodes delivers the "
            "passenger, and the mean return is within 0.05 of value iteration's on the same episodes.",
    model="qtable", method="q-learning", data="gym-discrete",
    model_config=dict(n_states=500, n_actions=6),
    method_config=dict(alpha=0.5, gamma=0.99, epsilon=1.0, epsilon_decay=0.9995, epsilon_min=0.01),
    data_config=TAXI, run=RunConfig(steps=10_000, log_every=10),
    expect={"eval/success": (">=", 1.0), "eval/return_gap": ("<=", 0.05)},
))

register(Recipe(
    name="td-prediction-frozenlake", family="rl", curriculum="R1",
    summary="TD(0) prediction of the uniformly random policy's state values on FrozenLake-v1, against policy "
            "evaluation by dynamic programming on the same MDP.",
    model="vtable", method="td-prediction", data="gym-discrete",
    model_config=dict(n_states=16),
    method_config=dict(alpha=0.05, alpha_decay=0.9998, alpha_min=0.002, gamma=1.0, policy="uniform"),
    data_config=dict(FROZENLAKE, eval_episodes=1), run=RunConfig(steps=20_000, log_every=10),
    expect={"eval/rmse": ("<=", 0.01)},
))

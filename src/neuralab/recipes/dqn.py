"""Deep Q-network recipes (curriculum R3): DQN and its Double, dueling and prioritised-replay variants on
CartPole-v1, tuned for wall-clock time on a CPU (docs/rl.md, "DQN on CartPole").

The starting point is the RL Zoo's tuned CartPole-v1 DQN (Raffin, rl-baselines3-zoo, hyperparams/dqn.yml: lr 2.3e-3,
batch 64, learning_starts 1000, target every 10 steps, 128 gradient steps every 256 environment steps, epsilon to
0.04 over 16% of 50k steps, 256-256 MLP), stepped in the tensor-native CartPole. Each run stops when the greedy
policy scores the maximum return, 500, on all its evaluation episodes; the policy chosen that way is then tested on
100 other episodes (`test/return`, the recipe's expectation; methods/dqn.py).
"""

from neuralab.config import RunConfig
from neuralab.recipes.recipe import Recipe, register

NUM_ENVS = 8
ENV_STEPS = 50_000
CARTPOLE = dict(env="CartPole-v1", backend="torch", num_envs=NUM_ENVS, steps_per_block=125, eval_episodes=20)
QNET = dict(in_features=4, n_actions=2, hidden=(256, 256))
DQN = dict(lr=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99, target_update=10,
           train_frequency=256, gradient_steps=128, exploration_fraction=0.16, epsilon_end=0.04, stop_at=500.0)
RUN = RunConfig(steps=ENV_STEPS // NUM_ENVS, log_every=25)
EXPECT = {"test/return": (">=", 475.0)}


def _dqn(name: str, summary: str, method: dict | None = None, model: dict | None = None) -> None:
    register(Recipe(
        name=name, family="rl", curriculum="R3", summary=summary,
        model="q-network", method="dqn", data="gym-vector",
        model_config={**QNET, **(model or {})}, method_config={**DQN, **(method or {})}, data_config=CARTPOLE,
        run=RUN, expect=EXPECT, monitor="eval/return",
    ))


_dqn("dqn-cartpole", "DQN (Mnih et al. 2015) on CartPole-v1: replay, target network, Huber loss, epsilon-greedy; "
                     "the chosen greedy policy tested on 100 held-out episodes.")
_dqn("double-dqn-cartpole", "Double DQN (van Hasselt et al. 2016) on CartPole-v1: the online network picks the "
                            "next action, the target network values it.", method=dict(double=True))
_dqn("dueling-dqn-cartpole", "Dueling DQN (Wang et al. 2016) on CartPole-v1: Q = V + A - mean A.",
     model=dict(dueling=True))
_dqn("per-dqn-cartpole", "DQN with proportional prioritised replay (Schaul et al. 2016) on CartPole-v1.",
     method=dict(prioritized=True))

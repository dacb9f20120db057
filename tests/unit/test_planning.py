"""Dynamic programming against a 3-state MDP worked by hand, and value iteration against policy iteration on
gymnasium's FrozenLake, Taxi and CliffWalking models.

The hand MDP (gamma 0.5), states A=0, B=1, C=2, actions 0 and 1, each (probability, next, reward, terminated):

    A, 0: B with reward 0                      A, 1: A or C (1/2 each) with reward 1
    B, 0: reward 2, the episode ends           B, 1: C with reward 0
    C, 0: A with reward 1                      C, 1: reward 0, the episode ends

One-step look-ahead from v = (1, 2, 4): q(A) = (0.5 * 2, 1 + 0.5 * (0.5 * 1 + 0.5 * 4)) = (1, 2.25),
q(B) = (2, 0.5 * 4) = (2, 2), q(C) = (1 + 0.5 * 1, 0) = (1.5, 0). The optimality backup takes the row maxima,
(2.25, 2, 1.5); the expectation backup under the uniform policy the row means, (1.625, 2, 0.75).

Optimal values: with A -> 1, B -> 0, C -> 0, v(B) = 2, v(C) = 1 + v(A) / 2 and v(A) = 1 + v(A) / 4 + v(C) / 4,
so v(A) = 1.25 / 0.625 = 2 and v* = (2, 2, 2); the other actions are worth q(A, 0) = 1, q(B, 1) = 1, q(C, 1) = 0.
Value iteration from 0 gives v_1 = (1, 2, 1) and v_k = (2 - 2^(1-k), 2, 2 - 2^(1-k)): the error halves per sweep.

The uniform policy's values solve v = r_pi + 0.5 P_pi v with r_pi = (0.5, 1, 0.5) and the going-on rows
P_pi(A) = (1/4, 1/2, 1/4), P_pi(B) = (0, 0, 1/2), P_pi(C) = (1/2, 0, 0): v(B) = 1 + v(C) / 4,
v(C) = 0.5 + v(A) / 4, v(A) = 0.5 + v(A) / 8 + v(B) / 4 + v(C) / 8, so v(A) = 54/53, v(B) = 63/53, v(C) = 40/53.

Policy iteration from (0, 0, 0): v = (1, 2, 1.5); improving gives q(A) = (1, 1 + 0.25 * 1 + 0.25 * 1.5) =
(1, 1.625), so A switches to 1 while B and C keep 0 (q(B) = (2, 0.75), q(C) = (1.5, 0)); the next evaluation
gives v* and nothing changes: 2 rounds.
"""

from __future__ import annotations

import gymnasium
import pytest
import torch

from neuralab.data.mdp import TabularMDP, success_probability
from neuralab.errors import UserError
from neuralab.methods import planning

GAMMA = 0.5
OUTCOMES = [
    [[(1.0, 1, 0.0, False)], [(0.5, 0, 1.0, False), (0.5, 2, 1.0, False)]],
    [[(1.0, 1, 2.0, True)], [(1.0, 2, 0.0, False)]],
    [[(1.0, 0, 1.0, False)], [(1.0, 2, 0.0, True)]],
]


def hand_mdp() -> TabularMDP:
    return TabularMDP.from_outcomes(OUTCOMES, [1.0, 0.0, 0.0])


def tensor(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_dense_model_of_the_hand_mdp():
    mdp = hand_mdp()
    assert torch.equal(mdp.rewards, torch.tensor([[0.0, 1.0], [2.0, 0.0], [1.0, 0.0]], dtype=torch.float64))
    # terminating outcomes leave no next state: B, 0 and C, 1 have empty rows
    assert torch.equal(mdp.transitions[0, 1], tensor(0.5, 0, 0.5))
    assert torch.equal(mdp.transitions[1].sum(1), tensor(0, 1))
    assert torch.equal(mdp.transitions[2].sum(1), tensor(1, 0))
    assert mdp.success_reward == 2.0  # the best way to end: B, 0


def test_bellman_backups_by_hand():
    mdp, v = hand_mdp(), tensor(1, 2, 4)
    q = planning.q_values(mdp, v, GAMMA)
    assert torch.equal(q, torch.tensor([[1.0, 2.25], [2.0, 2.0], [1.5, 0.0]], dtype=torch.float64))
    assert torch.equal(planning.bellman_optimality(mdp, v, GAMMA), tensor(2.25, 2, 1.5))
    uniform = torch.full((3, 2), 0.5, dtype=torch.float64)
    assert torch.equal(planning.bellman_expectation(mdp, v, uniform, GAMMA), tensor(1.625, 2, 0.75))


def test_policy_evaluation_by_hand():
    uniform = torch.full((3, 2), 0.5, dtype=torch.float64)
    v = planning.policy_evaluation(hand_mdp(), uniform, GAMMA)
    assert torch.allclose(v, tensor(54, 63, 40) / 53, atol=1e-14)
    # the fixed point of the expectation backup
    assert torch.allclose(planning.bellman_expectation(hand_mdp(), v, uniform, GAMMA), v, atol=1e-14)


def test_value_iteration_by_hand():
    mdp = hand_mdp()
    for sweeps in (1, 2, 3, 10):
        solution = planning.value_iteration(mdp, GAMMA, max_sweeps=sweeps)
        err = 2.0 ** (1 - sweeps)
        assert torch.allclose(solution.v, tensor(2 - err, 2, 2 - err), atol=1e-15), sweeps
    solution = planning.value_iteration(mdp, GAMMA, tolerance=1e-12)
    assert torch.allclose(solution.v, tensor(2, 2, 2), atol=1e-11)
    assert torch.allclose(solution.q, torch.tensor([[1.0, 2.0], [2.0, 1.0], [2.0, 0.0]], dtype=torch.float64),
                          atol=1e-11)
    assert solution.policy.tolist() == [1, 0, 0]
    assert 38 <= solution.iterations <= 42  # the error 2^(1-k) falls below 1e-12 after about 41 sweeps


def test_policy_iteration_by_hand():
    solution = planning.policy_iteration(hand_mdp(), GAMMA)
    assert solution.iterations == 2 and solution.policy.tolist() == [1, 0, 0]
    assert torch.allclose(solution.v, tensor(2, 2, 2), atol=1e-14)


def test_improvement_keeps_tied_actions():
    q = torch.tensor([[1.0, 1.0], [0.0, 3.0]], dtype=torch.float64)
    assert planning.improve(q, torch.tensor([1, 0])).tolist() == [1, 1]  # tie kept in 0, strict gain taken in 1


def test_undiscounted_evaluation_of_a_policy_that_never_ends_is_refused():
    never_ends = planning.one_hot_policy(torch.tensor([0, 1, 0]), 2)  # A -> B -> C -> A -> ...
    with pytest.raises(UserError, match="never ends some episodes"):
        planning.policy_evaluation(hand_mdp(), never_ends, 1.0)


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", "Taxi-v4", "CliffWalking-v1"])
def test_value_iteration_and_policy_iteration_agree(env_id):
    mdp = TabularMDP.from_env(gymnasium.make(env_id, disable_env_checker=True), env_id)
    vi, pi = planning.value_iteration(mdp, 0.99, tolerance=1e-12), planning.policy_iteration(mdp, 0.99)
    assert torch.allclose(vi.v, pi.v, atol=1e-8)
    # each greedy policy is optimal for the other's values: ties may be broken differently, values may not
    rows = torch.arange(mdp.n_states)
    assert torch.allclose(vi.q[rows, pi.policy], vi.v, atol=1e-8)
    assert torch.allclose(pi.q[rows, vi.policy], pi.v, atol=1e-8)
    assert pi.iterations < 30  # policy iteration needs few rounds (value iteration up to hundreds of sweeps)


def test_frozenlake_optimum():
    """gymnasium's registry notes FrozenLake-v1's optimum as 0.74 within its 100-step limit."""
    mdp = TabularMDP.from_env(gymnasium.make("FrozenLake-v1", disable_env_checker=True), "FrozenLake-v1")
    policy = planning.value_iteration(mdp, 0.99).policy
    assert success_probability(mdp, policy, 100) == pytest.approx(0.7402, abs=1e-4)
    assert success_probability(mdp, policy, 100_000) == pytest.approx(0.8235, abs=1e-4)  # no step limit

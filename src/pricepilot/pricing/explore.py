"""Thompson sampling over candidate prices, with the policy's probability of each price.

The policy draws one demand curve from the posterior and acts on it: the best price (no stock
limit) or a price drawn from the TS-update LP's mixture (finite stock). The probability that the
policy picks each candidate given the state (the propensity off-policy evaluation needs) is the
average over ``M`` posterior draws of that per-draw choice distribution: exact per draw for the
LP mixture, a Monte Carlo average over draws.

>>> import numpy as np
>>> draws = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.1]])
>>> choice = thompson_choice(draws, np.array([1.0, 1.0]), None, np.random.default_rng(0))
>>> choice.probs.tolist()
[0.75, 0.25]
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.pricing.lp import draw_from_mixture, solve_single_resource

F = npt.NDArray[np.float64]


class Choice(msgspec.Struct, frozen=True):
    index: int  # chosen candidate
    probs: F  # policy probability of each candidate (sums to 1)
    expected: F  # posterior-mean reward per arrival of each candidate
    lp_used: bool


def safe_set(mean_reward: F, max_loss: float) -> npt.NDArray[np.bool_]:
    """The candidates exploration may choose: those whose posterior-mean reward is within
    ``max_loss`` (a fraction) of the best one's, along the last axis. Thompson sampling then
    explores only where the posterior says little is at stake, so a decision never gives up more
    than ``max_loss`` of the expected profit of the posterior-mean optimum to learn; with no
    positive reward anywhere, every candidate.

    >>> safe_set(np.array([10.0, 9.6, 5.0]), 0.05).tolist()
    [True, True, False]
    """
    top = mean_reward.max(axis=-1, keepdims=True)
    return np.asarray((mean_reward >= (1.0 - max_loss) * top) | (top <= 0.0), dtype=np.bool_)


def thompson_choice(draws: F, weights: F, capacity: float | None, rng: np.random.Generator,
                    safe: npt.NDArray[np.bool_] | None = None) -> Choice:
    """``draws`` (M, K) sampled P(buy); ``weights`` (K,) money per sale; first draw is acted on;
    ``safe`` (K,): the candidates an unconstrained choice may take (:func:`safe_set`)."""
    m, k = draws.shape
    rewards = draws * weights[None, :]
    if capacity is None:
        best = np.argmax(rewards if safe is None else np.where(safe[None, :], rewards, -np.inf),
                         axis=1)
        probs = np.bincount(best, minlength=k).astype(np.float64) / m
        return Choice(int(best[0]), probs, rewards.mean(axis=0), False)
    x, _ = solve_single_resource(rewards, draws, np.full(m, capacity))
    shut = np.clip(1.0 - x.sum(axis=1), 0.0, 1.0)
    # a shop cannot refuse to sell: the LP's shut-off mass goes to the highest candidate
    x[:, -1] += shut
    idx = int(draw_from_mixture(x[:1], rng.random(1))[0])
    probs = x.mean(axis=0)
    return Choice(min(idx, k - 1), probs / probs.sum(), rewards.mean(axis=0), True)

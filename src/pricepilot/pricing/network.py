"""Ferreira, Simchi-Levi & Wang's TS-update as a vectorised simulation over many shops at once.

This is the engine's own machinery (:mod:`pricepilot.pricing.lp` LPs, :mod:`.posterior` conjugate
updates and :func:`.lp.draw_from_mixture`) run over ``S`` independent seeds in numpy, so the
published benchmarks B1 (one product, Bernoulli demand, price menu) and B2 (two products, three
resources, Poisson demand) measure what the engine does, fast enough for hundreds of seeds.

>>> r = run_b1(alpha=0.5, horizon=200, seeds=20, seed=1)
>>> 0.7 < r.mean_ratio <= 1.05
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pricepilot.pricing.lp import (
    draw_from_mixture,
    solve_lp,
    solve_single_resource,
    solve_small_lp_batch,
)
from pricepilot.pricing.posterior import beta_update, sample_beta

F = npt.NDArray[np.float64]

B1_PRICES = np.array([29.90, 34.90, 39.90, 44.90])
B1_DEMAND = np.array([0.8, 0.6, 0.3, 0.1])
B2_PRICES = np.array([[1.0, 1.5], [1.0, 2.0], [2.0, 3.0], [4.0, 4.0], [4.0, 6.5]])  # (K, N)
B2_USAGE = np.array([[1.0, 1.0], [3.0, 1.0], [0.0, 5.0]])  # (R resources, N products)
B2_CAPACITY = np.array([3.0, 5.0, 7.0])


def b2_demand(shape: str, prices: F = B2_PRICES) -> F:
    """True mean Poisson demand (K price vectors, N products) for a B2 shape, at the paper's
    five price vectors or at any other (K, 2) ``prices``."""
    p1, p2 = prices[:, 0], prices[:, 1]
    if shape == "linear":
        mu = np.stack([8 - 1.5 * p1, 9 - 3 * p2], axis=1)
    elif shape == "exponential":
        mu = np.stack([5 * np.exp(-0.5 * p1), 9 * np.exp(-p2)], axis=1)
    elif shape == "logit":
        den = 1 + np.exp(-p1) + np.exp(-p2)
        mu = np.stack([10 * np.exp(-p1) / den, 10 * np.exp(-p2) / den], axis=1)
    else:
        raise ValueError(f"unknown B2 demand shape {shape!r}")
    return np.asarray(np.clip(mu, 0.0, None), dtype=np.float64)


@dataclass(frozen=True)
class RunResult:
    ratios: F  # realised revenue / (T * OPT), one per seed

    @property
    def mean_ratio(self) -> float:
        return float(self.ratios.mean())

    def ci95(self) -> tuple[float, float]:
        m = self.ratios.mean()
        h = 1.96 * self.ratios.std(ddof=1) / np.sqrt(len(self.ratios)) if len(self.ratios) > 1 else 0.0
        return float(m - h), float(m + h)


def b1_opt(alpha: float) -> float:
    """The LP optimum per period of B1 with the true purchase probabilities."""
    p, d = B1_PRICES, B1_DEMAND
    _, v = solve_single_resource((p * d)[None], d[None], np.array([alpha]))
    return float(v[0])


Tick = Callable[[int], None]
_TICK = 100  # report progress every this many periods


def run_b1(alpha: float, horizon: int, seeds: int, seed: int = 0, update: bool = True,
           tick: Tick | None = None) -> RunResult:
    """TS-update (or TS-fixed with ``update=False``) on B1 for ``seeds`` shops at once."""
    rng = np.random.default_rng(seed)
    p, d_true = B1_PRICES, B1_DEMAND
    k = p.shape[0]
    a = np.ones((seeds, k))
    b = np.ones((seeds, k))
    stock = np.full(seeds, float(np.floor(alpha * horizon)))
    revenue = np.zeros(seeds)
    for t in range(horizon):
        theta = sample_beta(a, b, seeds, rng) if seeds else a
        cap = stock / (horizon - t) if update else np.full(seeds, alpha)
        cap = np.where(stock > 0, cap, 0.0)
        x, _ = solve_single_resource(p[None, :] * theta, theta, cap)
        arm = draw_from_mixture(x, rng.random(seeds))
        shown = (arm < k) & (stock > 0)
        armc = np.minimum(arm, k - 1)
        bought = shown & (rng.random(seeds) < d_true[armc])
        revenue += np.where(bought, p[armc], 0.0)
        stock -= bought
        beta_update(a, b, armc, bought, shown)
        if tick is not None and (t + 1) % _TICK == 0:
            tick(_TICK)
    return RunResult(revenue / (horizon * b1_opt(alpha)))


def b2_opt(shape: str, prices: F = B2_PRICES) -> float:
    """The LP optimum per period with the true demand, over the paper's price vectors or over
    any other (K, 2) ``prices`` (a mixture of them per period, within the capacity)."""
    mu = b2_demand(shape, prices)
    rewards = (prices * mu).sum(axis=1)
    consumption = B2_USAGE @ mu.T  # (R, K)
    _, v = solve_lp(rewards, consumption, B2_CAPACITY)
    return v


def _highs_batch(rewards: F, consumption: F, capacity: F) -> F:
    return np.stack([solve_lp(rewards[i], consumption[i], capacity[i])[0]
                     for i in range(rewards.shape[0])])


def run_b2(shape: str, horizon: int, seeds: int, seed: int = 0, solver: str = "vertex",
           prior_shape: float = 1.0, prior_rate: float = 1.0, tick: Tick | None = None) -> RunResult:
    """TS-update on B2: Gamma-Poisson posterior per (price vector, product), network LP."""
    rng = np.random.default_rng(seed)
    mu_true = b2_demand(shape)
    prices, usage = B2_PRICES, B2_USAGE
    k, n = prices.shape
    if solver not in ("vertex", "highs"):
        raise ValueError(f"unknown LP solver {solver!r}")
    pool: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)  # bases optimal so far
    shp = np.full((seeds, k, n), prior_shape)
    rate = np.full((seeds, k), prior_rate)
    inv = np.broadcast_to(B2_CAPACITY * horizon, (seeds, 3)).copy()
    revenue = np.zeros(seeds)
    rows = np.arange(seeds)
    for t in range(horizon):
        theta = rng.gamma(shp) / rate[:, :, None]  # (S, K, N)
        rewards = np.einsum("kn,skn->sk", prices, theta)
        consumption = np.einsum("rn,skn->srk", usage, theta)
        cap = inv / (horizon - t)
        if solver == "vertex":
            x, _, basis = solve_small_lp_batch(rewards, consumption, cap, pool)
            if not np.isin(basis, pool).all():
                pool = np.union1d(pool, basis)
        else:
            x = _highs_batch(rewards, consumption, cap)
        arm = draw_from_mixture(x, rng.random(seeds))
        shown = arm < k
        armc = np.minimum(arm, k - 1)
        demand = rng.poisson(mu_true[armc]).astype(np.float64)  # (S, N)
        # fulfil product by product while every resource it uses lasts
        sold = np.zeros_like(demand)
        for j in range(n):
            use = usage[:, j]
            with np.errstate(divide="ignore", invalid="ignore"):
                room = np.where(use > 0, np.floor(inv / np.where(use > 0, use, 1.0)), np.inf)
            sold[:, j] = np.where(shown, np.minimum(demand[:, j], room.min(axis=1)), 0.0)
            inv -= sold[:, j:j + 1] * use[None, :]
        revenue += (sold * prices[armc]).sum(axis=1)
        # posterior learns the demand it saw (sales are censored only once stock runs out)
        rs = rows[shown]
        shp[rs, armc[shown]] += demand[shown]
        rate[rs, armc[shown]] += 1.0
        if tick is not None and (t + 1) % _TICK == 0:
            tick(_TICK)
    return RunResult(revenue / (horizon * b2_opt(shape)))

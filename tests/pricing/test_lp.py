from __future__ import annotations

import numpy as np
import pytest

from pricepilot.pricing.lp import (
    draw_from_mixture,
    solve_lp,
    solve_single_resource,
    solve_small_lp_batch,
)


def test_single_resource_solver_matches_highs_on_random_problems() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        k = int(rng.integers(1, 8))
        d = rng.random(k)
        r = rng.random(k) * 10 - 1  # some negative rewards (price below cost)
        c = float(rng.random() * 1.2)
        x, v = solve_single_resource(r[None], d[None], np.array([c]))
        _, v_ref = solve_lp(r, d[None], np.array([c]))
        assert v[0] == pytest.approx(v_ref, abs=1e-7)
        assert x.sum() <= 1 + 1e-9 and float(d @ x[0]) <= c + 1e-9 and np.all(x >= 0)
        assert float(r @ x[0]) == pytest.approx(v_ref, abs=1e-7)


def test_single_resource_solver_gives_the_published_b1_optima() -> None:
    p = np.array([29.9, 34.9, 39.9, 44.9])
    d = np.array([0.8, 0.6, 0.3, 0.1])
    x, v = solve_single_resource(np.tile(p * d, (2, 1)), np.tile(d, (2, 1)), np.array([0.25, 0.5]))
    assert v.tolist() == pytest.approx([10.10, 17.95], abs=1e-9)
    assert x[0].tolist() == pytest.approx([0, 0, 0.75, 0.25])
    assert x[1].tolist() == pytest.approx([0, 2 / 3, 1 / 3, 0])


def test_small_network_solver_matches_highs_on_random_problems() -> None:
    rng = np.random.default_rng(1)
    b, k, r = 40, 5, 3
    rewards = rng.random((b, k)) * 5
    cons = rng.random((b, r, k)) * 3
    cons[:, 2, :2] = 0.0  # structural zeros as in B2
    cap = rng.random((b, r)) * 4
    x, v, basis = solve_small_lp_batch(rewards, cons, cap)
    # warm-started from the optimal bases of slightly perturbed problems: same optima
    x2, v2, _ = solve_small_lp_batch(rewards * 1.01, cons, cap * 0.99, warm=basis)
    x3, v3, _ = solve_small_lp_batch(rewards * 1.01, cons, cap * 0.99)
    assert v2 == pytest.approx(v3, rel=1e-9, abs=1e-12)
    for i in range(b):
        _, v_ref = solve_lp(rewards[i], cons[i], cap[i])
        assert v[i] == pytest.approx(v_ref, rel=1e-7, abs=1e-9)
        assert np.all(cons[i] @ x[i] <= cap[i] + 1e-7) and x[i].sum() <= 1 + 1e-9


def test_mixture_draws_follow_the_lp_weights_and_leftover_mass_is_shut_off() -> None:
    rng = np.random.default_rng(2)
    n = 200_000
    x = np.tile(np.array([0.2, 0.5]), (n, 1))
    idx = draw_from_mixture(x, rng.random(n))
    freq = np.bincount(idx, minlength=3) / n
    assert freq.tolist() == pytest.approx([0.2, 0.5, 0.3], abs=0.01)


def test_the_general_lp_refuses_non_finite_inputs_naming_them() -> None:
    from pricepilot.errors import ValidationError

    with pytest.raises(ValidationError, match="rewards"):
        solve_lp(np.array([np.nan]), np.array([[1.0]]), np.array([1.0]))


def test_a_subnormal_demand_draw_solves_without_an_overflow_warning() -> None:
    # a Thompson draw from a Beta posterior can be 1e-310: capacity / demand overflows, unused
    x, v = solve_single_resource(np.array([[1.0, 2.0]]), np.array([[1e-310, 0.5]]), np.array([0.25]))
    assert np.isfinite(x).all() and v[0] == pytest.approx(1.5)  # half at each price

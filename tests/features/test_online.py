from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pricepilot.config import load_settings
from pricepilot.demand.base import CONTEXT_FEATURES
from pricepilot.demand.base import FEATURES as FEATURES_KIND
from pricepilot.features.backends import FeatureBackend, MemoryBackend, RedisBackend
from pricepilot.features.online import OnlineFeatures, open_online_features, replay_views
from pricepilot.features.synthetic import synthetic_log
from pricepilot.features.training import build_training_set

from .conftest import CATALOGUE, MUG, ts

# features whose online value is a float sum in another order than DuckDB's (see docs)
TOLERANT = {"u_paid_vs_list": 1e-12}


def assert_same_features(online: pd.DataFrame, offline: pd.DataFrame) -> None:
    """Every view's online features equal the training set's (exact, but for TOLERANT)."""
    off = offline.set_index("event_id")
    on = online.set_index("event_id").loc[off.index]
    assert len(on) == len(off) > 0
    for col in [*CONTEXT_FEATURES, "competitor_price"]:
        a, b = on[col], off[col]
        if col == "competitor_price" or FEATURES_KIND.get(col) == "categorical":
            a_ = a.astype(object).where(a.notna(), None)
            b_ = b.astype(object).where(b.notna(), None)
            diff = [(i, x, y) for i, x, y in zip(off.index, a_, b_) if x != y]
            assert not diff, f"{col}: {diff[:5]}"
            continue
        x, y = a.to_numpy(np.float64), b.to_numpy(np.float64)
        same_nan = np.isnan(x) == np.isnan(y)
        assert same_nan.all(), f"{col}: NaN differs at {list(off.index[~same_nan][:5])}"
        tol = TOLERANT.get(col, 0.0)
        ok = np.isnan(x) | (np.abs(x - y) <= tol * np.maximum(1.0, np.abs(y)))
        assert ok.all(), f"{col}: {list(zip(off.index[~ok][:5], x[~ok][:5], y[~ok][:5]))}"

# 100 days, few shoppers: every window (7 and 90 days) fills, wraps and drops old days
_LOG = synthetic_log(6_000, seed=11, n_users=40, n_products=30, days=100)
_OFFLINE = build_training_set(_LOG.events, _LOG.products, _LOG.shoppers,
                              extra_columns=["event_id"])


def _state(backend: FeatureBackend) -> OnlineFeatures:
    state = OnlineFeatures(backend, _LOG.products)
    for s in _LOG.shopper_records().values():
        state.set_shopper(s)
    return state


def test_online_features_equal_the_training_set_for_every_view_in_memory() -> None:
    online = replay_views(_state(MemoryBackend()), _LOG.events)
    assert_same_features(online, _OFFLINE)


@pytest.mark.redis
def test_online_features_equal_the_training_set_for_every_view_in_redis(
    redis_url: str, redis_prefix: str
) -> None:
    lg = synthetic_log(2_500, seed=12, n_users=20, n_products=15, days=100)
    offline = build_training_set(lg.events, lg.products, lg.shoppers, extra_columns=["event_id"])
    state = OnlineFeatures(RedisBackend(redis_url, prefix=redis_prefix), lg.products)
    for s in lg.shopper_records().values():
        state.set_shopper(s)
    try:
        assert_same_features(replay_views(state, lg.events), offline)
    finally:
        state.close()


def test_the_parity_check_detects_a_served_feature_that_differs() -> None:
    lg = synthetic_log(800, seed=13, n_users=10, n_products=8)
    offline = build_training_set(lg.events, lg.products, lg.shoppers, extra_columns=["event_id"])
    state = OnlineFeatures(MemoryBackend(), lg.products)  # shoppers never stored
    with pytest.raises(AssertionError, match="u_tier"):
        assert_same_features(replay_views(state, lg.events), offline)


def _final_features(state: OnlineFeatures) -> list[dict[str, object]]:
    at = int(_LOG.events["ts"].max()) + 1
    users = sorted(_LOG.shoppers["user_id"])[:15]
    return [f for u in users for f in state.features_many(u, _LOG.products, at)]


def _equal(a: list[dict[str, object]], b: list[dict[str, object]], tol: float = 0.0) -> bool:
    for x, y in zip(a, b, strict=True):
        for k in x:
            u, v = x[k], y[k]
            if isinstance(u, float) and isinstance(v, float):
                if math.isnan(u) and math.isnan(v):
                    continue
                if abs(u - v) > tol * max(1.0, abs(v)):
                    return False
            elif u != v:
                return False
    return True


def test_learning_one_event_at_a_time_equals_learning_in_batches(
    backend: FeatureBackend,
) -> None:
    events = _LOG.events.iloc[:2_500]
    one = _state(MemoryBackend())
    for r in events.to_dict("records"):
        one.learn_one(r)
    many = _state(backend)
    assert many.learn_many(events) == len(events)
    tol = 1e-12 if isinstance(backend, RedisBackend) else 0.0
    assert _equal(_final_features(one), _final_features(many), tol)


def test_features_many_equals_features_for_each_product() -> None:
    state = _state(MemoryBackend())
    state.learn_many(_LOG.events.iloc[:3_000])
    at = int(_LOG.events["ts"].iloc[3_000])
    page = state.features_many("U1", _LOG.products, at, session_id="S5")
    single = [state.features_for("U1", p, at, session_id="S5") for p in _LOG.products]
    assert _equal(page, single)


def test_a_supplied_shopper_and_request_device_override_stored_attributes() -> None:
    from pricepilot.compliance.attributes import Shopper

    state = OnlineFeatures(MemoryBackend(), CATALOGUE)
    state.set_shopper(Shopper(shopper_id="u1", tier="gold", device="mobile", region="north"))
    f = state.features_for("u1", MUG, ts(0))
    assert (f["u_tier"], f["u_device"], f["u_region"], f["u_channel"]) == (
        "gold", "mobile", "north", None)
    g = state.features_for("u1", MUG, ts(0), shopper=Shopper(shopper_id="u1", tier="basic"),
                           device="desktop", channel="app")
    assert (g["u_tier"], g["u_device"], g["u_region"], g["u_channel"]) == (
        "basic", "desktop", None, "app")
    state.set_shopper(Shopper(shopper_id="u1", tier="silver"))
    assert state.features_for("u1", MUG, ts(0))["u_device"] is None  # replaced, not merged


def test_settings_choose_the_backend() -> None:
    mem = open_online_features(load_settings(path=None, env={}), CATALOGUE)
    assert isinstance(mem.backend, MemoryBackend) and "MUG" in mem.catalogue


@pytest.mark.redis
def test_settings_choose_redis_with_its_url_and_prefix(redis_url: str, redis_prefix: str) -> None:
    s = load_settings(path=None, env={"PRICEPILOT_ONLINE__TYPE": "redis",
                                      "PRICEPILOT_ONLINE__URL": redis_url,
                                      "PRICEPILOT_ONLINE__KEY_PREFIX": redis_prefix})
    state = open_online_features(s, CATALOGUE)
    try:
        assert isinstance(state.backend, RedisBackend)
        assert state.backend.prefix == redis_prefix
    finally:
        state.close()

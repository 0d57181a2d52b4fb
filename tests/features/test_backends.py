"""One conformance suite for every online backend (memory; Redis when the server is there)."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from pricepilot.clock import from_micros
from pricepilot.compliance.attributes import Shopper
from pricepilot.errors import Unavailable, ValidationError
from pricepilot.events.schemas import Calendar, CompetitorPrice, Inventory, Purchase, View
from pricepilot.features.backends import FeatureBackend, MemoryBackend, RedisBackend
from pricepilot.features.online import OnlineFeatures
from pricepilot.features.state import Op

from .conftest import CATALOGUE, DAY_US, HAT, MUG, PAN, ts


def at(hours: float) -> datetime:
    return from_micros(ts(hours))


def view(eid: str, hours: float, user: str = "u1", product: str = "MUG",
         session: str | None = None) -> View:
    return View(event_id=eid, ts=at(hours), user_id=user, product_id=product, price=900,
                currency="EUR", session_id=session)


def buy(eid: str, hours: float, user: str = "u1", product: str = "MUG", price: int = 900,
        quantity: int = 1) -> Purchase:
    return Purchase(event_id=eid, ts=at(hours), user_id=user, product_id=product,
                    order_id="o" + eid, price=price, currency="EUR", quantity=quantity)


@pytest.fixture
def state(backend: FeatureBackend) -> OnlineFeatures:
    return OnlineFeatures(backend, CATALOGUE)


def test_an_event_learned_twice_changes_nothing(state: OnlineFeatures) -> None:
    assert state.learn_one(buy("b1", 0, price=800, quantity=2)) is True
    before = state.features_for("u1", MUG, ts(1))
    assert state.learn_one(buy("b1", 0, price=800, quantity=2)) is False
    assert state.learn_many([buy("b1", 0), view("v1", 0.5), view("v1", 0.5)]) == 1
    after = state.features_for("u1", MUG, ts(1))
    assert after["u_frequency_90d"] == before["u_frequency_90d"] == 1
    assert after["u_monetary_90d"] == 16.0 and after["u_views_7d"] == 1


def test_forgetting_a_shopper_erases_their_state_and_only_theirs(state: OnlineFeatures) -> None:
    state.set_shopper(Shopper(shopper_id="u1", tier="gold"))
    state.learn_many([view("v1", 0, session="s1"), buy("b1", 0.1), view("v2", 0.2, user="u2")])
    state.forget_user("u1")
    f = state.features_for("u1", MUG, ts(1), session_id="s1")
    assert f["u_views_7d"] == 0 and f["u_frequency_90d"] == 0 and f["u_session_views"] == 0
    assert f["u_tier"] is None and math.isnan(f["u_recency_days"])
    assert math.isnan(f["u_affinity"])
    assert f["p_views_7d"] == 2  # product aggregates are not personal data
    assert state.features_for("u2", MUG, ts(1))["u_views_7d"] == 1


def test_day_buckets_drop_days_outside_the_window(state: OnlineFeatures) -> None:
    state.learn_many([view("v1", 0), view("v2", 24), view("v3", 24 * 6)])
    day0 = (ts(0) // DAY_US) * DAY_US
    assert state.features_for("u1", MUG, day0 + 6 * DAY_US + 1)["u_views_7d"] == 3
    assert state.features_for("u1", MUG, day0 + 7 * DAY_US)["u_views_7d"] == 2
    state.learn_one(view("v4", 24 * 8))  # reuses the bucket of day 1
    f = state.features_for("u1", MUG, day0 + 8 * DAY_US + DAY_US - 1)
    assert f["u_views_7d"] == 2 and f["p_views_7d"] == 2  # days 6 and 8


def test_late_events_count_inside_the_window_and_are_dropped_when_older(
    state: OnlineFeatures,
) -> None:
    state.learn_many([view("v1", 24 * 10), view("v2", 24 * 9), buy("b1", 24 * 10)])
    state.learn_one(view("v0", 24 * 3))  # its bucket (day 3) now holds day 10: too old
    f = state.features_for("u1", MUG, ts(24 * 10 + 1))
    assert f["u_views_7d"] == 2 and f["p_views_7d"] == 2 and f["p_purchases_7d"] == 1
    assert f["p_conversion_7d"] == 0.5
    assert f["u_affinity"] == 1.0  # all-time counts keep every view


def test_ninety_day_sums_and_recency(state: OnlineFeatures) -> None:
    state.learn_many([buy("b1", 0, price=1000, quantity=3), buy("b2", 24 * 80, price=500),
                      buy("b3", 24 * 95, product="HAT", price=1500)])
    f = state.features_for("u1", HAT, ts(24 * 95 + 12))
    assert f["u_frequency_90d"] == 2 and f["u_monetary_90d"] == 20.0
    assert f["u_recency_days"] == 0.5
    assert f["u_paid_vs_list"] == pytest.approx((1.0 + 0.5 + 0.75) / 3, rel=1e-12)


def test_latest_competitor_and_inventory_reports_win_whatever_the_arrival_order(
    state: OnlineFeatures,
) -> None:
    def comp(eid: str, hours: float, who: str, price: int, promo: bool = False) -> CompetitorPrice:
        return CompetitorPrice(event_id=eid, ts=at(hours), product_id="PAN", competitor=who,
                               price=price, currency="EUR", on_promotion=promo)

    state.learn_many([
        comp("k2", 2, "a", 3500), comp("k1", 1, "a", 3000),  # older report arrives late
        comp("k3", 1, "b", 3700, True), comp("k4", 1, "b", 3600),
        comp("k5", 1, "b", 3600, True),  # same instant, same price: promotion wins the tie
        Inventory(event_id="i2", ts=at(2), product_id="PAN", stock=4),
        Inventory(event_id="i1", ts=at(1), product_id="PAN", stock=9),
        Inventory(event_id="i3", ts=at(2), product_id="PAN", stock=5),  # tie: highest level
    ])
    f = state.features_for("u1", PAN, ts(3))
    assert f["competitor_price"] == 3500 and f["p_comp_on_promo"] == 1.0
    assert f["p_stock"] == 5
    g = state.features_for("u1", MUG, ts(3))
    assert g["competitor_price"] is None and g["p_comp_on_promo"] == 0 and math.isnan(g["p_stock"])


def test_stock_left_is_the_latest_report_less_the_units_bought_since(state: OnlineFeatures) -> None:
    """A shop reporting stock nightly: the day's sales count against the report as they
    happen; sales at or before the report are in it; a newer report starts the count again."""
    state.learn_many([
        buy("b0", 0.5, product="PAN", quantity=3),  # before the report: already counted in it
        Inventory(event_id="i1", ts=at(1), product_id="PAN", stock=10),
        buy("b1", 1, product="PAN", quantity=5),  # the report's own instant: in it
        buy("b2", 2, product="PAN", quantity=2), buy("b3", 3, product="PAN", user="u2"),
    ])
    f = state.features_for("u1", PAN, ts(4))
    assert f["p_stock"] == 10 - 2 - 1
    assert f["p_units_per_purchase"] == (11 + 2) / (4 + 2)
    state.learn_many([buy("b4", 4, product="PAN", quantity=9)])
    assert state.features_for("u1", PAN, ts(5))["p_stock"] == 0  # never below zero
    state.learn_many([Inventory(event_id="i2", ts=at(5), product_id="PAN", stock=6),
                      buy("b5", 6, product="PAN")])
    assert state.features_for("u1", PAN, ts(7))["p_stock"] == 5


def test_sessions_holidays_and_season(state: OnlineFeatures) -> None:
    state.learn_many([
        view("v1", 0, session="s1"), view("v2", 0.1, session="s1", product="HAT"),
        view("v3", 0.2, session="s2"),
        Calendar(event_id="c1", ts=at(-30), day=date(2026, 3, 2), name="x", region="north"),
        Calendar(event_id="c2", ts=at(-20), day=date(2026, 3, 3), name="y"),
    ])
    state.set_shopper(Shopper(shopper_id="u1", region="north"))
    f = state.features_for("u1", HAT, ts(1), session_id="s1")
    assert f["u_session_views"] == 2 and f["u_affinity"] == pytest.approx(1 / 3)
    assert f["c_holiday"] == 1 and f["c_hour"] == 11 and f["c_weekday"] == 0
    assert f["p_days_to_season_end"] == pytest.approx(10 - 1 / 24)
    assert state.features_for("u1", HAT, ts(1), session_id="s9")["u_session_views"] == 0
    south = state.features_for("u2", HAT, ts(1), shopper=Shopper(shopper_id="u2",
                                                                    region="south"))
    assert south["c_holiday"] == 0
    assert state.features_for("u2", HAT, ts(24))["c_holiday"] == 1  # everywhere on 3 March


def test_events_in_the_flat_storage_layout_are_learned_like_structs(
    backend: FeatureBackend,
) -> None:
    a = OnlineFeatures(MemoryBackend(), CATALOGUE)
    b = OnlineFeatures(backend, CATALOGUE)
    a.learn_one(buy("b1", 0, quantity=2))
    b.learn_one({"event_id": "b1", "type": "purchase", "ts": ts(0), "user_id": "u1",
                 "product_id": "MUG", "order_id": "ob1", "price": 900, "currency": "EUR",
                 "quantity": 2, "session_id": float("nan")})
    assert a.features_for("u1", MUG, ts(1)) == b.features_for("u1", MUG, ts(1))


@pytest.mark.parametrize(
    ("event", "match"),
    [
        ({"type": "click", "event_id": "x", "ts": 1}, "unknown event type"),
        ({"type": "view", "ts": 1}, "event_id"),
        ({"type": "view", "event_id": "x"}, "ts"),
        ({"type": "purchase", "event_id": "x", "ts": 1, "user_id": "u", "product_id": "MUG",
          "price": 1, "currency": "XXX"}, "unknown currency"),
    ],
)
def test_malformed_events_are_refused(event: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        OnlineFeatures(MemoryBackend(), CATALOGUE).learn_one(event)


def test_an_unknown_primitive_is_refused(backend: FeatureBackend) -> None:
    with pytest.raises(ValidationError, match="unknown primitive"):
        backend.apply([("e1", [Op("explode", "u:x", "f")])])


def test_the_memory_seen_set_is_bounded_and_forgets_the_oldest_ids() -> None:
    state = OnlineFeatures(MemoryBackend(seen_capacity=2), CATALOGUE)
    state.learn_many([view("v1", 0), view("v2", 0.1), view("v3", 0.2)])
    assert state.learn_one(view("v3", 0.2)) is False
    assert state.learn_one(view("v1", 0)) is True  # forgotten: counted again (documented)
    with pytest.raises(ValidationError):
        MemoryBackend(seen_capacity=0)


@pytest.mark.redis
def test_redis_keeps_seen_ids_with_a_time_to_live(redis_url: str, redis_prefix: str) -> None:
    import redis

    b = RedisBackend(redis_url, prefix=redis_prefix, seen_ttl_seconds=120)
    OnlineFeatures(b, CATALOGUE).learn_one(view("v1", 0))
    r = redis.Redis.from_url(redis_url)
    assert 0 < r.ttl(f"{redis_prefix}seen:v1") <= 120
    r.close()
    b.close()


@pytest.mark.redis
def test_a_quote_reads_redis_in_one_round_trip(redis_url: str, redis_prefix: str) -> None:
    b = RedisBackend(redis_url, prefix=redis_prefix)
    state = OnlineFeatures(b, CATALOGUE)
    calls: list[int] = []
    real = b._r.pipeline

    def counting_pipeline(*a: object, **k: object) -> object:
        pipe = real(*a, **k)
        execute = pipe.execute

        def ex(*x: object, **y: object) -> object:
            calls.append(len(pipe.command_stack))
            return execute(*x, **y)

        pipe.execute = ex
        return pipe

    b._r.pipeline = counting_pipeline  # type: ignore[method-assign]
    state.features_many("u1", CATALOGUE * 30, ts(0), session_id="s1")
    assert calls == [1 + 1 + 90 + 1]
    b.close()


def test_an_unreachable_redis_is_reported_as_unavailable() -> None:
    with pytest.raises(Unavailable):
        b = RedisBackend("redis://127.0.0.1:1/0")
        b.read("u1", None, ["MUG"], "2026-03-02")


def test_redis_backend_refuses_non_positive_ttls() -> None:
    with pytest.raises(ValidationError):
        RedisBackend("redis://127.0.0.1:1/0", seen_ttl_seconds=0)
    with pytest.raises(ValidationError):
        RedisBackend("redis://127.0.0.1:1/0", session_ttl_seconds=0)

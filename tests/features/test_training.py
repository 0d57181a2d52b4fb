from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricepilot.demand.base import FEATURES, price_features
from pricepilot.errors import ValidationError
from pricepilot.features.synthetic import synthetic_log
from pricepilot.features.training import OUTPUT_COLUMNS, build_training_set, time_split

from .conftest import CATALOGUE, DAY_US, HOUR_US, log, ts


def build(events: pd.DataFrame, **kw: object) -> pd.DataFrame:
    return build_training_set(events, CATALOGUE, extra_columns=["event_id", "session_id"], **kw)


def row(frame: pd.DataFrame, event_id: str) -> pd.Series:
    return frame.set_index("event_id").loc[event_id]


def test_each_view_becomes_one_row_in_the_documented_layout() -> None:
    ev = log(
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900},
        {"type": "view", "ts": ts(1), "user_id": "u1", "product_id": "PAN", "price": 3900},
        {"type": "purchase", "ts": ts(2), "user_id": "u1", "product_id": "PAN", "price": 3900,
         "order_id": "o1", "quantity": 1},
    )
    frame = build_training_set(ev, CATALOGUE)
    assert tuple(frame.columns) == OUTPUT_COLUMNS
    assert list(frame.columns[: len(FEATURES)]) == list(FEATURES)
    assert len(frame) == 2
    assert frame["price"].dtype == np.int64 and frame["ts"].dtype == np.int64
    assert frame["price"].tolist() == [900, 3900]
    assert frame["list_price"].tolist() == [1000, 4000]


def test_a_purchase_informs_neither_an_earlier_view_nor_a_view_at_the_same_instant() -> None:
    ev = log(
        {"type": "view", "ts": ts(0) - 1, "user_id": "u1", "product_id": "MUG", "price": 900},
        {"type": "purchase", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900,
         "order_id": "o1"},
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900},
        {"type": "view", "ts": ts(0) + 1, "user_id": "u1", "product_id": "MUG", "price": 900},
    )
    f = build(ev)
    for eid in ("e0", "e2"):
        r = row(f, eid)
        assert r["u_frequency_90d"] == 0 and r["p_purchases_7d"] == 0
        assert math.isnan(r["u_recency_days"]) and math.isnan(r["u_paid_vs_list"])
    later = row(f, "e3")
    assert later["u_frequency_90d"] == 1 and later["p_purchases_7d"] == 1
    assert later["u_monetary_90d"] == 9.0 and later["u_paid_vs_list"] == 0.9
    assert later["u_recency_days"] == pytest.approx(1 / DAY_US)
    # the same-instant view saw the earlier view, not itself
    assert row(f, "e2")["u_views_7d"] == 1 and later["u_views_7d"] == 2


def test_windows_count_the_current_utc_day_and_the_six_before() -> None:
    base = (ts(0) // DAY_US) * DAY_US  # midnight UTC of T0's day
    ev = log(
        {"type": "view", "ts": base - 7 * DAY_US + 1, "user_id": "u1", "product_id": "MUG",
         "price": 1000},  # 7 days before: dropped
        {"type": "view", "ts": base - 6 * DAY_US, "user_id": "u1", "product_id": "MUG",
         "price": 1000},  # first instant of the oldest day in the window: counted
        {"type": "purchase", "ts": base - 89 * DAY_US, "user_id": "u1", "product_id": "MUG",
         "price": 1000, "order_id": "o1", "quantity": 2},
        {"type": "purchase", "ts": base - 90 * DAY_US, "user_id": "u1", "product_id": "MUG",
         "price": 1000, "order_id": "o0"},
        {"type": "view", "ts": base + 5 * HOUR_US, "user_id": "u1", "product_id": "MUG",
         "price": 1000},
    )
    r = row(build(ev), "e4")
    assert r["u_views_7d"] == 1 and r["p_views_7d"] == 1
    assert r["u_frequency_90d"] == 1 and r["u_monetary_90d"] == 20.0
    assert r["u_affinity"] == 1.0  # affinity is over all past views (3 of 3 in kitchen)


def test_purchases_are_attributed_within_the_session_or_24_hours_without_one() -> None:
    ev = log(
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900,
         "session_id": "s1"},
        {"type": "view", "ts": ts(0.1), "user_id": "u1", "product_id": "MUG", "price": 900,
         "session_id": "s1"},
        {"type": "view", "ts": ts(0.2), "user_id": "u1", "product_id": "PAN", "price": 3900,
         "session_id": "s1"},
        {"type": "purchase", "ts": ts(1), "user_id": "u1", "product_id": "PAN", "price": 3900,
         "order_id": "o1", "session_id": "s2"},  # other session: not attributed to e2
        {"type": "purchase", "ts": ts(0.5), "user_id": "u1", "product_id": "MUG", "price": 900,
         "order_id": "o2", "session_id": "s1"},
        {"type": "view", "ts": ts(3), "user_id": "u2", "product_id": "HAT", "price": 2000},
        {"type": "purchase", "ts": ts(26), "user_id": "u2", "product_id": "HAT", "price": 2000,
         "order_id": "o3"},  # 23 h later, no session: attributed
        {"type": "view", "ts": ts(30), "user_id": "u3", "product_id": "HAT", "price": 2000},
        {"type": "purchase", "ts": ts(54) + 1, "user_id": "u3", "product_id": "HAT",
         "price": 2000, "order_id": "o4"},  # just over 24 h: not attributed
    )
    f = build(ev)
    y = dict(zip(f["event_id"], f["y"]))
    assert y == {"e0": 1, "e1": 1, "e2": 0, "e5": 1, "e7": 0}
    w = build(ev, attribution="window")
    assert dict(zip(w["event_id"], w["y"]))["e2"] == 1
    short = build(ev, attribution_window=timedelta(minutes=20))
    assert dict(zip(short["event_id"], short["y"]))["e0"] == 0


def test_a_purchase_at_the_same_instant_as_its_view_counts_for_it() -> None:
    ev = log(
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900,
         "session_id": "s1"},
        {"type": "purchase", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900,
         "order_id": "o1", "session_id": "s1"},  # one-second feed: the same stamp
        {"type": "view", "ts": ts(1), "user_id": "u2", "product_id": "PAN", "price": 3900,
         "quote_id": "q2"},
        {"type": "purchase", "ts": ts(1), "user_id": "u2", "product_id": "PAN", "price": 3900,
         "order_id": "o2", "quote_id": "q2"},
    )
    for rule in ("session", "window"):
        f = build(ev, attribution=rule)
        assert dict(zip(f["event_id"], f["y"])) == {"e0": 1, "e2": 1}
    # the features still see nothing at the view's instant
    assert row(build(ev), "e0")["u_frequency_90d"] == 0


def test_a_purchase_naming_another_view_s_quote_does_not_count_for_this_view() -> None:
    ev = log(
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900,
         "quote_id": "q1"},
        {"type": "view", "ts": ts(0.1), "user_id": "u1", "product_id": "MUG", "price": 950,
         "quote_id": "q2"},
        {"type": "purchase", "ts": ts(0.5), "user_id": "u1", "product_id": "MUG", "price": 900,
         "order_id": "o1", "quote_id": "q1"},  # bought at the first quote, after the second
    )
    f = build_training_set(ev, CATALOGUE, extra_columns=["event_id", "quote_id"])
    assert dict(zip(f["event_id"], f["y"])) == {"e0": 1, "e1": 0}


def test_purchases_without_a_known_quote_are_attributed_by_time_to_views_with_or_without_ids(
) -> None:
    ev = log(
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 900,
         "quote_id": "q1"},
        {"type": "purchase", "ts": ts(1), "user_id": "u1", "product_id": "MUG", "price": 900,
         "order_id": "o1"},  # the order feed carries no quote id: by time
        {"type": "view", "ts": ts(2), "user_id": "u2", "product_id": "PAN", "price": 3900},
        {"type": "purchase", "ts": ts(3), "user_id": "u2", "product_id": "PAN", "price": 3900,
         "order_id": "o2", "quote_id": "q-unseen"},  # names a quote no view carries: by time
        {"type": "view", "ts": ts(4), "user_id": "u3", "product_id": "HAT", "price": 2000,
         "quote_id": "q3"},
        {"type": "purchase", "ts": ts(30), "user_id": "u3", "product_id": "HAT", "price": 2000,
         "order_id": "o3", "quote_id": "q3"},  # its own quote, but past the 24 h window
        {"type": "view", "ts": ts(5), "user_id": "u4", "product_id": "HAT", "price": 2000,
         "quote_id": "q4"},
        {"type": "purchase", "ts": ts(5) - 1, "user_id": "u4", "product_id": "HAT",
         "price": 2000, "order_id": "o4", "quote_id": "q4"},  # before its view: not an outcome
    )
    f = build(ev)
    assert dict(zip(f["event_id"], f["y"])) == {"e0": 1, "e2": 1, "e4": 0, "e6": 0}


def test_competitor_price_is_the_lowest_latest_report_known_before_the_view() -> None:
    ev = log(
        {"type": "competitor_price", "ts": ts(0), "product_id": "MUG", "competitor": "a",
         "price": 800},
        {"type": "competitor_price", "ts": ts(1), "product_id": "MUG", "competitor": "a",
         "price": 950},  # a's latest replaces its 800
        {"type": "competitor_price", "ts": ts(1), "product_id": "MUG", "competitor": "b",
         "price": 920, "on_promotion": True},
        {"type": "view", "ts": ts(1), "user_id": "u1", "product_id": "MUG", "price": 1000},
        {"type": "view", "ts": ts(2), "user_id": "u1", "product_id": "MUG", "price": 1000},
        {"type": "competitor_price", "ts": ts(3), "product_id": "MUG", "competitor": "b",
         "price": 990},
        {"type": "view", "ts": ts(4), "user_id": "u1", "product_id": "MUG", "price": 1000},
    )
    f = build(ev)
    assert row(f, "e3")["competitor_price"] == 800 and row(f, "e3")["p_comp_on_promo"] == 0
    assert row(f, "e4")["competitor_price"] == 920 and row(f, "e4")["p_comp_on_promo"] == 1
    assert row(f, "e6")["competitor_price"] == 950 and row(f, "e6")["p_comp_on_promo"] == 0
    assert row(f, "e6")["x_price_ratio_comp"] == 1000 / 950


def test_stock_is_the_last_inventory_level_else_the_catalogue_stock() -> None:
    ev = log(
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "PAN", "price": 4000},
        {"type": "inventory", "ts": ts(1), "product_id": "PAN", "stock": 3},
        {"type": "view", "ts": ts(2), "user_id": "u1", "product_id": "PAN", "price": 4000},
        {"type": "view", "ts": ts(2), "user_id": "u1", "product_id": "MUG", "price": 1000},
        {"type": "view", "ts": ts(2), "user_id": "u1", "product_id": "HAT", "price": 2000},
    )
    f = build(ev)
    assert row(f, "e0")["p_stock"] == 7 and row(f, "e2")["p_stock"] == 3
    assert math.isnan(row(f, "e3")["p_stock"])
    assert math.isnan(row(f, "e3")["p_days_to_season_end"])
    assert row(f, "e4")["p_days_to_season_end"] == pytest.approx(10 - 2 / 24)


def test_context_uses_the_shop_time_zone_and_holidays_announced_before_the_view() -> None:
    ev = log(
        {"type": "calendar", "ts": ts(-48), "day": "2026-03-02", "name": "h", "region": "north"},
        {"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 1000},
        {"type": "view", "ts": ts(0), "user_id": "u2", "product_id": "MUG", "price": 1000},
    )
    shoppers = pd.DataFrame({"user_id": ["u1", "u2"], "region": ["north", "south"],
                             "tier": ["gold", None]})
    f = build_training_set(ev, CATALOGUE, shoppers, timezone="Europe/Berlin",
                           extra_columns=["event_id"])
    r1, r2 = row(f, "e1"), row(f, "e2")
    assert r1["c_hour"] == 11 and r1["c_weekday"] == 0  # 10:00 UTC is 11:00 in Berlin, Monday
    assert r1["c_holiday"] == 1 and r2["c_holiday"] == 0
    assert r1["u_tier"] == "gold" and pd.isna(r2["u_tier"]) and r2["u_region"] == "south"


def test_a_view_s_device_and_channel_win_over_the_shopper_s() -> None:
    ev = log({"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 1000,
              "device": "tablet"})
    shoppers = pd.DataFrame({"user_id": ["u1"], "device": ["mobile"], "channel": ["app"]})
    r = build_training_set(ev, CATALOGUE, shoppers).iloc[0]
    assert r["u_device"] == "tablet" and r["u_channel"] == "app"


def test_price_features_are_those_demand_models_compute_at_serving_time() -> None:
    lg = synthetic_log(3_000, seed=5)
    f = build_training_set(lg.events, lg.products, lg.shoppers)
    for r in f.sample(50, random_state=0).itertuples(index=False):
        comp = None if pd.isna(r.competitor_price) else int(r.competitor_price)
        want = price_features(np.array([r.price]), r.list_price, comp)
        for k, v in want.items():
            got = getattr(r, k)
            assert (math.isnan(got) and math.isnan(v[0])) or got == v[0]


def test_repeated_events_and_arrow_input_give_the_same_frame() -> None:
    lg = synthetic_log(2_000, seed=6)
    once = build_training_set(lg.events, lg.products, lg.shoppers)
    doubled = pd.concat([lg.events, lg.events.iloc[::3]], ignore_index=True)
    again = build_training_set(doubled, lg.products, lg.shoppers)
    arrow = build_training_set(pa.Table.from_pandas(lg.events, preserve_index=False),
                               lg.products, lg.shoppers)
    pd.testing.assert_frame_equal(once, again)
    pd.testing.assert_frame_equal(once, arrow)


_LOG = synthetic_log(3_000, seed=7, days=20)
_FULL = build_training_set(_LOG.events, _LOG.products, _LOG.shoppers)


@settings(max_examples=6, deadline=None)
@given(st.floats(min_value=0.05, max_value=0.95))
def test_features_never_change_when_later_events_are_removed(frac: float) -> None:
    ev = _LOG.events
    cut = int(ev["ts"].quantile(frac))
    cut_frame = build_training_set(ev[ev["ts"] <= cut], _LOG.products, _LOG.shoppers)
    full = _FULL[_FULL["ts"] <= cut].reset_index(drop=True)
    cols = [c for c in OUTPUT_COLUMNS if c != "y"]  # the label looks ahead on purpose
    pd.testing.assert_frame_equal(cut_frame[cols], full[cols])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"attribution": "last_click"}, "attribution"),
        ({"attribution_window": timedelta(0)}, "attribution_window"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"extra_columns": ["price_paid"]}, "extra_columns"),
    ],
)
def test_bad_options_are_refused_naming_the_option(kwargs: dict[str, object], field: str) -> None:
    ev = log({"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 1})
    with pytest.raises(ValidationError) as e:
        build_training_set(ev, CATALOGUE, **kwargs)  # type: ignore[arg-type]
    assert e.value.field == field


def test_bad_inputs_are_refused_naming_what_is_wrong() -> None:
    ev = log({"type": "view", "ts": ts(0), "user_id": "u1", "product_id": "MUG", "price": 1})
    with pytest.raises(ValidationError, match="missing columns"):
        build_training_set(ev.drop(columns=["session_id"]), CATALOGUE)
    with pytest.raises(ValidationError, match="unknown currencies"):
        build_training_set(ev.assign(currency="XXX"), CATALOGUE)
    with pytest.raises(ValidationError, match="integer microseconds"):
        build_training_set(ev.assign(ts=pd.to_datetime(ev["ts"], unit="us", utc=True)),
                           CATALOGUE)
    with pytest.raises(ValidationError, match="duplicate product"):
        build_training_set(ev, CATALOGUE + CATALOGUE[:1])
    with pytest.raises(ValidationError, match="duplicate shopper"):
        build_training_set(ev, CATALOGUE, pd.DataFrame({"user_id": ["u1", "u1"]}))
    with pytest.raises(ValidationError, match="user_id"):
        build_training_set(ev, CATALOGUE, pd.DataFrame({"tier": ["gold"]}))
    cat = pd.DataFrame({"product_id": ["MUG"], "category": ["k"], "list_price": [0],
                        "currency": ["EUR"]})
    with pytest.raises(ValidationError, match="list_price"):
        build_training_set(ev, cat)
    with pytest.raises(ValidationError, match="missing columns"):
        build_training_set(ev, cat.drop(columns=["category"]))


def test_a_catalogue_frame_works_like_a_product_list() -> None:
    lg = synthetic_log(1_500, seed=8)
    cat = pd.DataFrame({
        "product_id": [p.product_id for p in lg.products],
        "category": [p.category for p in lg.products],
        "list_price": [p.list_price for p in lg.products],
        "currency": [p.currency for p in lg.products],
        "stock": [p.stock for p in lg.products],
        "season_end": pd.to_datetime([p.season_end for p in lg.products], utc=True),
    })
    a = build_training_set(lg.events, lg.products)
    b = build_training_set(lg.events, cat)
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=3, max_size=60), st.integers(1, 4))
def test_time_split_tests_strictly_after_training(values: list[int], n_folds: int) -> None:
    frame = pd.DataFrame({"ts": values})
    if len(set(values)) < n_folds + 1:
        with pytest.raises(ValidationError):
            list(time_split(frame, n_folds))
        return
    folds = list(time_split(frame, n_folds))
    assert len(folds) == n_folds
    covered = set()
    for train, test in folds:
        assert len(train) and len(test)
        assert frame["ts"].iloc[train].max() < frame["ts"].iloc[test].min()
        covered |= set(test.tolist())
    first_train = set(folds[0][0].tolist())
    assert covered | first_train == set(range(len(values)))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_time_split_refuses_a_non_positive_or_non_integer_fold_count(bad: object) -> None:
    with pytest.raises(ValidationError):
        list(time_split(pd.DataFrame({"ts": [1, 2, 3]}), bad))  # type: ignore[arg-type]

"""Synthetic event logs for tests and benchmarks of the feature pipeline.

Not a market simulator (that is :mod:`pricepilot.sim`, with known true demand): this makes
event logs with the *shape* of a shop's log, fast (vectorised, ~10 M events in seconds), so the
point-in-time builder and the online state can be checked against each other and timed. Every
event type appears; sessions overlap in time; some views carry no session id (24 h attribution);
purchases follow views of the same product in the same session; timestamps collide on purpose.

>>> log = synthetic_log(n_events=2_000, seed=1)
>>> sorted(log.events["type"].unique())[:3]
['add_to_cart', 'calendar', 'competitor_price']
>>> len(log.products) > 0
True
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import msgspec
import numpy as np
import pandas as pd

from pricepilot.catalog.models import Product
from pricepilot.compliance.attributes import Shopper
from pricepilot.events.schemas import EVENT_COLUMNS

DAY_US = 86_400_000_000
_START = datetime(2026, 1, 5, tzinfo=timezone.utc)


class SyntheticLog(msgspec.Struct, kw_only=True):
    """An event log in the ``EVENT_COLUMNS`` layout, its catalogue and its shoppers."""

    events: pd.DataFrame
    products: list[Product]
    shoppers: pd.DataFrame  # user_id, tier, device, region, channel

    def shopper_records(self) -> dict[str, Shopper]:
        return {
            r.user_id: Shopper(shopper_id=r.user_id, tier=r.tier, device=r.device,
                               region=r.region, channel=r.channel)
            for r in self.shoppers.itertuples(index=False)
        }


def synthetic_log(
    n_events: int = 10_000,
    *,
    n_users: int | None = None,
    n_products: int | None = None,
    days: int = 30,
    seed: int = 0,
    start: datetime = _START,
    no_session_share: float = 0.2,
    ts_resolution_us: int = 1_000_000,
) -> SyntheticLog:
    """About ``n_events`` events over ``days`` days (exact count varies a little).

    ``ts_resolution_us`` rounds timestamps (default: whole seconds) so that ties occur, as they
    do in real logs, and the point-in-time rules for equal timestamps get exercised.
    """
    if n_events < 100:
        raise ValueError("n_events must be at least 100")
    rng = np.random.default_rng(seed)
    n_users = n_users or max(20, n_events // 60)
    n_products = n_products or max(10, min(5_000, n_events // 200))
    t0 = int((start - datetime(1970, 1, 1, tzinfo=timezone.utc)) / timedelta(microseconds=1))
    span = days * DAY_US

    # catalogue
    cats = np.array([f"cat{i}" for i in range(max(2, min(40, n_products // 5)))])
    list_price = (rng.integers(5, 200, n_products) * 100 + 99).astype(np.int64)
    prod_cat = cats[rng.integers(0, len(cats), n_products)]
    has_stock = rng.random(n_products) < 0.3
    has_season = rng.random(n_products) < 0.3
    products = [
        Product(
            product_id=f"P{i}", title=f"product {i}", category=str(prod_cat[i]),
            currency="EUR", unit_cost=int(list_price[i] * 0.5), list_price=int(list_price[i]),
            stock=int(rng.integers(0, 500)) if has_stock[i] else None,
            season_end=(start + timedelta(days=int(rng.integers(5, days + 30))))
            if has_season[i] else None,
        )
        for i in range(n_products)
    ]

    # shoppers
    shoppers = pd.DataFrame({
        "user_id": [f"U{i}" for i in range(n_users)],
        "tier": rng.choice(np.array(["gold", "silver", "basic"]), n_users),
        "device": rng.choice(np.array(["mobile", "desktop"]), n_users),
        "region": rng.choice(np.array(["north", "south"]), n_users),
        "channel": rng.choice(np.array(["web", "app"]), n_users),
    })

    # sessions of views: ~82% of events are views
    n_views_target = int(n_events * 0.82)
    n_sess = max(1, n_views_target // 6)
    sess_len = rng.geometric(1 / 6, n_sess)
    n_views = int(sess_len.sum())
    sess_user = rng.integers(0, n_users, n_sess)
    sess_start = t0 + rng.integers(0, span, n_sess)
    sess_has_id = rng.random(n_sess) >= no_session_share
    sess_idx = np.repeat(np.arange(n_sess), sess_len)
    step = rng.integers(5_000_000, 300_000_000, n_views)  # 5 s .. 5 min between views
    # position of each view inside its session -> cumulative offset
    first = np.cumsum(sess_len) - sess_len
    cum = np.cumsum(step)
    offset = cum - np.repeat(cum[first] - step[first], sess_len)
    v_ts = sess_start[sess_idx] + offset
    # shoppers favour a few categories: pick product near a per-session anchor
    anchor = rng.integers(0, n_products, n_sess)
    v_prod = (anchor[sess_idx] + rng.integers(0, 6, n_views)) % n_products
    shown = (list_price[v_prod] * rng.choice(np.array([0.8, 0.9, 1.0, 1.0, 1.1]), n_views))
    v_price = (np.round(shown / 100) * 100 - 1).astype(np.int64)
    v_user = sess_user[sess_idx]
    v_sess = sess_idx

    # carts and purchases follow some views, in the same session
    p_buy = np.clip(0.05 * (list_price[v_prod] / np.maximum(v_price, 1)) ** 3, 0, 0.5)
    buy = rng.random(n_views) < p_buy
    cart = buy | (rng.random(n_views) < 0.03)
    c_ts = v_ts[cart] + rng.integers(1_000_000, 120_000_000, int(cart.sum()))
    bi = np.flatnonzero(buy)
    # a share of purchases happen much later (some inside 24 h, some after) to test attribution
    delay = np.where(rng.random(len(bi)) < 0.8,
                     rng.integers(130_000_000, 900_000_000, len(bi)),
                     rng.integers(2 * 3_600_000_000, 40 * 3_600_000_000, len(bi)))
    b_ts = v_ts[bi] + delay
    b_qty = rng.choice(np.array([1, 1, 1, 2, 3]), len(bi))
    # paid price can differ from the shown one (coupon): multiply by 0.9 now and then
    b_price = np.where(rng.random(len(bi)) < 0.2, (v_price[bi] * 0.9).astype(np.int64),
                       v_price[bi])

    # competitor prices: ~8% of events, 3 competitors
    n_comp = max(1, int(n_events * 0.08))
    k_prod = rng.integers(0, n_products, n_comp)
    k_price = (list_price[k_prod] * rng.uniform(0.75, 1.15, n_comp)).astype(np.int64)
    k_ts = t0 + rng.integers(-2 * DAY_US, span, n_comp)
    k_name = rng.choice(np.array(["acme", "globex", "initech"]), n_comp)
    k_promo = rng.random(n_comp) < 0.2

    # inventory levels: ~3% of events
    n_inv = max(1, int(n_events * 0.03))
    i_prod = rng.integers(0, n_products, n_inv)
    i_ts = t0 + rng.integers(-DAY_US, span, n_inv)
    i_stock = rng.integers(0, 400, n_inv)

    # calendar: a few holidays, announced in advance, some regional
    n_hol = max(1, days // 10)
    h_day = rng.choice(days, n_hol, replace=False)
    cal_days = [(start + timedelta(days=int(d))).date().isoformat() for d in h_day]
    cal_ts = t0 + (h_day.astype(np.int64) - 3) * DAY_US
    cal_region = rng.choice(np.array(["", "north"]), n_hol)

    def block(n: int, **cols: object) -> pd.DataFrame:
        data = {c: cols.get(c, [None] * n) for c in EVENT_COLUMNS if c != "event_id"}
        return pd.DataFrame(data)

    users = shoppers["user_id"].to_numpy()
    pids = np.array([p.product_id for p in products])
    missing = np.array(None, dtype=object)  # what np.where(cond, x, None) fills in, typed
    sess_name = np.where(sess_has_id, np.char.add("S", np.arange(n_sess).astype(str)), missing)
    vb = block(n_views, type="view", ts=v_ts, user_id=users[v_user], product_id=pids[v_prod],
               session_id=sess_name[v_sess], price=v_price, currency="EUR",
               channel=shoppers["channel"].to_numpy()[v_user],
               device=np.where(rng.random(n_views) < 0.1, "tablet",
                               shoppers["device"].to_numpy()[v_user]))
    ci = np.flatnonzero(cart)
    cb = block(len(ci), type="add_to_cart", ts=c_ts, user_id=users[v_user[ci]],
               product_id=pids[v_prod[ci]], session_id=sess_name[v_sess[ci]], quantity=1,
               price=v_price[ci], currency="EUR")
    bb = block(len(bi), type="purchase", ts=b_ts, user_id=users[v_user[bi]],
               product_id=pids[v_prod[bi]], session_id=sess_name[v_sess[bi]],
               order_id=np.char.add("O", bi.astype(str)), quantity=b_qty, price=b_price,
               currency="EUR")
    kb = block(n_comp, type="competitor_price", ts=k_ts, product_id=pids[k_prod],
               competitor=k_name, price=k_price, currency="EUR", on_promotion=k_promo)
    ib = block(n_inv, type="inventory", ts=i_ts, product_id=pids[i_prod], stock=i_stock)
    hb = block(n_hol, type="calendar", ts=cal_ts, day=cal_days, name="holiday",
               region=np.where(cal_region == "", missing, cal_region))
    ev = pd.concat([vb, cb, bb, kb, ib, hb], ignore_index=True)
    ev["ts"] = (ev["ts"].to_numpy(np.int64) // ts_resolution_us) * ts_resolution_us
    ev = ev.sort_values("ts", kind="stable", ignore_index=True)
    ev.insert(0, "event_id", "e" + pd.Series(np.arange(len(ev))).astype(str))
    for c in ("quantity", "price", "stock"):
        ev[c] = ev[c].astype("Int64")
    ev["on_promotion"] = ev["on_promotion"].astype("boolean")
    return SyntheticLog(events=ev[list(EVENT_COLUMNS)], products=products, shoppers=shoppers)

"""The simulated market: a shop's catalogue, its shoppers, competitors and calendar, driven by
any pricing policy as a shop would drive it.

Views arrive exogenously (their number, timing, shopper and product never depend on prices), so
two policies run with the same seed face the very same sequence of views and the same random
draws (common random numbers); only the purchases differ. Each run records the expected profit of
every decision under the true demand, for low-variance comparisons.

>>> from pricepilot.sim.baselines import ListPricePolicy
>>> m = Market(SimConfig(days=3, shoppers=300, products=20, seed=1))
>>> r = m.run(ListPricePolicy(m.products()), days=3)
>>> list(r.daily.columns)[:4]
['day', 'views', 'orders', 'units']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from pricepilot.catalog.models import Product
from pricepilot.clock import from_micros, to_micros
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import Event
from pricepilot.sim import eventlog as el
from pricepilot.sim.calendar import HOURLY_PROFILE, SimCalendar, make_calendar
from pricepilot.sim.competitors import CompetitorRules, Competitors
from pricepilot.sim.config import SimConfig, validate_config
from pricepilot.sim.demand import (
    DemandContext,
    DemandParams,
    ProductTruth,
    ShopperTruth,
    true_purchase_probability,
)
from pricepilot.sim.policy import ViewBatch, ViewRequest
from pricepilot.sim.products import SimCatalog, make_catalog
from pricepilot.sim.shoppers import CHANNELS, DEVICES, REGIONS, TIERS, SimShoppers, make_shoppers

I = npt.NDArray[np.int64]
F = npt.NDArray[np.float64]
DAY_US = 86_400_000_000
SESSION_GAP_S = 45.0  # mean seconds between views of a session
REMOVE_SHARE = 0.3  # carts that end without a purchase emit remove_from_cart this often


@dataclass(frozen=True)
class DayViews:
    """The exogenous views of one day, in time order, with their true demand inputs."""

    day: int
    shopper: I
    product: I
    ts: I
    session: I
    channel: I
    device: I
    u_buy: F  # uniform draws deciding purchase and cart (common random numbers)
    u_remove: F
    extra_qty: I  # quantity - 1 if bought
    n_sessions: int

    @property
    def n(self) -> int:
        return int(self.ts.size)


@dataclass(frozen=True)
class TruthBatch:
    """Privileged inputs for the oracles (evaluation only, never given to a policy)."""

    shopper: ShopperTruth
    product: ProductTruth
    context: DemandContext
    cost: F
    expected_quantity: F
    available: npt.NDArray[np.bool_]
    product_index: I
    day_product_index: I | None = None  # product index of every view of the whole day
    day_truth: Callable[[], TruthBatch] | None = None


class ViewPricer(Protocol):
    """The least :meth:`Market.run` needs of a policy: ``price``. ``observe`` and ``price_batch``
    (see :class:`~pricepilot.sim.policy.PricingPolicy`) are used when present."""

    def price(self, view: ViewRequest) -> int:
        ...


class TruthPricer(Protocol):
    """An oracle run as a policy: prices each chunk from its :class:`TruthBatch` (evaluation
    only)."""

    def truth_prices(self, batch: TruthBatch) -> I:
        ...


MarketPolicy = ViewPricer | TruthPricer  # what Market.run drives


@dataclass
class RunResult:
    """Outcome of :meth:`Market.run`.

    ``daily``: one row per day (views, orders, units, revenue, profit in minor units, conversion,
    expected_profit under the true demand). ``decisions``: one row per view with the shown price,
    its true purchase probability, expected profit and the context the oracles need.
    ``events``: every emitted event as integer columns (see :mod:`pricepilot.sim.eventlog`).
    """

    daily: pd.DataFrame
    decisions: pd.DataFrame
    events: el.EventLog
    lookups: el.Lookups

    @property
    def total_profit(self) -> int:
        return int(self.daily["profit"].sum())

    @property
    def expected_profit(self) -> float:
        return float(self.decisions["expected_profit"].sum())


class Market:
    """A seeded shop. ``Market(cfg)`` builds products and shoppers from ``cfg.seed``; every
    :meth:`run` with the same ``seed`` replays the same arrivals and random draws."""

    def __init__(self, config: SimConfig = SimConfig()) -> None:
        self.config = validate_config(config)
        ss = np.random.SeedSequence(config.seed)
        cat_ss, shop_ss = ss.spawn(2)
        self.catalog: SimCatalog = make_catalog(config, np.random.default_rng(cat_ss))
        self.shoppers: SimShoppers = make_shoppers(config, np.random.default_rng(shop_ss))
        self.demand_params = DemandParams.from_config(config)
        self._activity_p = self.shoppers.activity / self.shoppers.activity.sum()
        self._cat_members: list[I] = []
        self._cat_cdf: list[F] = []
        for k in range(config.categories):
            mem = np.flatnonzero(self.catalog.category == k)
            w = self.catalog.popularity[mem]
            self._cat_members.append(mem)
            self._cat_cdf.append(np.cumsum(w) / w.sum())
        self._aff_cdf = np.cumsum(self.shoppers.affinity, axis=1)

    # --- public views of the world -------------------------------------------------------
    def products(self) -> list[Product]:
        """The catalogue as the shop sees it."""
        return self.catalog.to_products()

    def view_request(self, shopper: int, product: int, ts: int, session: int, channel: int,
                     device: int) -> ViewRequest:
        s = self.shoppers
        return ViewRequest(
            customer_id=s.customer_ids[shopper], product_id=self.catalog.product_ids[product],
            ts=from_micros(ts), session_id=el.session_id(session), currency=self.config.currency,
            channel=CHANNELS[channel], device=DEVICES[device], tier=TIERS[int(s.tier[shopper])],
            region=REGIONS[int(s.region[shopper])])

    # --- arrivals --------------------------------------------------------------------------
    def day_views(self, day: int, day_start: int, holiday: bool, weekday_mult: float,
                  arrivals: np.random.Generator, outcomes: np.random.Generator,
                  first_session: int) -> DayViews:
        cfg = self.config
        lam = cfg.shoppers * cfg.visit_rate * weekday_mult * (cfg.holiday_arrival_boost if holiday else 1.0)
        ns = int(arrivals.poisson(lam))
        who = arrivals.choice(self.shoppers.n, size=ns, p=self._activity_p)
        hour = arrivals.choice(24, size=ns, p=HOURLY_PROFILE)
        start_s = hour * 3600.0 + arrivals.uniform(0, 3600, ns)
        nv = 1 + arrivals.poisson(cfg.views_per_session - 1.0, ns)
        sess = np.repeat(np.arange(ns), nv)
        total = int(sess.size)
        gaps = arrivals.exponential(SESSION_GAP_S, total)
        csum = np.cumsum(gaps)
        first = np.concatenate([[0], np.cumsum(nv)[:-1]]).astype(np.int64)
        within = csum - csum[first][sess] if total else csum
        secs = np.minimum(start_s[sess] + within, 86_399.0)
        ts = day_start + np.floor(secs).astype(np.int64) * 1_000_000
        shopper = who[sess]
        u_cat = arrivals.random(total)
        cat = np.minimum((u_cat[:, None] > self._aff_cdf[shopper]).sum(axis=1), cfg.categories - 1)
        u_prod = arrivals.random(total)
        product = np.zeros(total, np.int64)
        for k in range(cfg.categories):
            m = cat == k
            idx = np.minimum(np.searchsorted(self._cat_cdf[k], u_prod[m]), self._cat_members[k].size - 1)
            product[m] = self._cat_members[k][idx]
        s_dev = np.where(arrivals.random(ns) < 0.85, self.shoppers.device[who],
                         arrivals.integers(0, len(DEVICES), ns))
        s_chan = np.where(arrivals.random(ns) < 0.7, self.shoppers.channel[who],
                          arrivals.integers(0, len(CHANNELS), ns))
        u_buy = outcomes.random(total)
        u_remove = outcomes.random(total)
        extra = outcomes.poisson(self.catalog.quantity_extra[product])
        end = self.catalog.season_end_day[product]
        keep = (end < 0) | (day < end)
        order = np.argsort(ts[keep], kind="stable")
        pick = np.flatnonzero(keep)[order]
        return DayViews(day, shopper[pick], product[pick], ts[pick], (first_session + sess)[pick],
                        s_chan[sess][pick], s_dev[sess][pick], u_buy[pick], u_remove[pick],
                        extra[pick].astype(np.int64), ns)

    def truth(self, shopper: I, product: I, ref: F, lowest: F, holiday: bool) -> tuple[ShopperTruth, ProductTruth, DemandContext]:
        c = self.catalog
        st = ShopperTruth(self.shoppers.sensitivity[shopper],
                          self.shoppers.affinity[shopper, c.category[product]], self.config.categories)
        pt = ProductTruth(c.shape[product], c.alpha[product], c.beta[product],
                          c.list_price[product].astype(np.float64))
        ctx = DemandContext(ref[product], lowest[product], np.full(product.size, holiday))
        return st, pt, ctx

    # --- driving a policy ------------------------------------------------------------------
    def run(self, policy: MarketPolicy, days: int | None = None, start: datetime | None = None,
            seed: int | None = None, chunk_seconds: int = 3600,
            progress: Callable[[int], None] | None = None) -> RunResult:
        """Drive ``policy`` for ``days`` days from ``start`` (defaults: the config's).

        Views are priced in chunks of ``chunk_seconds``: the policy prices every view of a chunk
        and then observes that chunk's events (a shop's event pipeline lags a little too).
        Stock is enforced in view order; a sold-out product can still be viewed but not bought.
        """
        cfg = self.config
        days = cfg.days if days is None else days
        if days < 1:
            raise ValidationError("sim run", "days", f"must be at least 1, got {days}")
        if chunk_seconds < 1:
            raise ValidationError("sim run", "chunk_seconds", f"must be positive, got {chunk_seconds}")
        start = cfg.start if start is None else start
        if start.tzinfo is None:
            raise ValidationError("sim run", "start", "must carry a time zone")
        seed = cfg.seed if seed is None else seed
        cal: SimCalendar = make_calendar(start, days)
        arr_ss, comp_ss, out_ss = np.random.SeedSequence([cfg.seed, seed, 1]).spawn(3)
        arrivals = np.random.default_rng(arr_ss)
        outcomes = np.random.default_rng(out_ss)
        comps = Competitors.create(cfg.competitors, self.catalog, np.random.default_rng(comp_ss),
                                   CompetitorRules.from_config(cfg))
        c = self.catalog
        lk = el.Lookups(self.shoppers.customer_ids, c.product_ids, comps.names, CHANNELS, DEVICES,
                        cal.days, cal.holiday_name, cfg.currency)
        log = el.EventLog()
        stock = c.stock.copy()
        ref = c.list_price.astype(np.float64)
        our_price = c.list_price.copy()
        cost_f = c.cost.astype(np.float64)
        exp_q = 1.0 + c.quantity_extra
        observe = getattr(policy, "observe", None)
        batch_price = getattr(policy, "price_batch", None)
        truth_price = getattr(policy, "truth_prices", None)
        session_next = 0
        order_next = 0
        t0 = to_micros(start)
        daily_rows: list[dict[str, float | int | str]] = []
        dec_parts: list[dict[str, npt.NDArray[np.generic]]] = []
        limited = c.stock >= 0
        for d in range(days):
            day_start = t0 + d * DAY_US
            pending: list[dict[str, I]] = []
            changed = comps.step(our_price)
            mi, pi = np.nonzero(changed)
            pending.append(log.add(el.COMPETITOR, day_start + (6 * 3600 + mi * 60) * 1_000_000,
                                   product=pi, competitor=mi, price=comps.price[mi, pi],
                                   on_promotion=comps.promo[mi, pi].astype(np.int64)))
            lowest = comps.lowest()
            if cal.holiday[d]:
                pending.append(log.add(el.CALENDAR, np.array([day_start]), day=d))
            if d == 0 and limited.any():
                lp = np.flatnonzero(limited)
                pending.append(log.add(el.INVENTORY, np.full(lp.size, day_start), product=lp,
                                       stock=stock[lp]))
            dv = self.day_views(d, day_start, bool(cal.holiday[d]), float(cal.weekday_mult[d]),
                                arrivals, outcomes, session_next)
            session_next += dv.n_sessions
            shown_sum = np.zeros(c.n)
            shown_cnt = np.zeros(c.n)
            stock_before = stock.copy()
            day_truth_cache: list[TruthBatch] = []

            def whole_day() -> TruthBatch:
                if not day_truth_cache:
                    st, pt, ctx = self.truth(dv.shopper, dv.product, ref, lowest, bool(cal.holiday[d]))
                    day_truth_cache.append(TruthBatch(st, pt, ctx, cost_f[dv.product], exp_q[dv.product],
                                                      np.ones(dv.n, bool), dv.product))
                return day_truth_cache[0]

            kpi = dict(views=0, orders=0, units=0, revenue=0, profit=0, expected_profit=0.0)
            bounds = np.searchsorted(dv.ts, day_start + np.arange(0, 86_400 + chunk_seconds, chunk_seconds) * 1_000_000)
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                if hi <= lo:
                    if pending and observe is not None:
                        self._deliver(observe, pending, lk)
                    pending = []
                    continue
                sl = slice(int(lo), int(hi))
                sh, pr, ts = dv.shopper[sl], dv.product[sl], dv.ts[sl]
                n = pr.size
                st, pt, ctx = self.truth(sh, pr, ref, lowest, bool(cal.holiday[d]))
                avail_now = ~limited[pr] | (stock[pr] > 0)
                if truth_price is not None:
                    prices = np.asarray(truth_price(TruthBatch(
                        st, pt, ctx, cost_f[pr], exp_q[pr], avail_now, pr,
                        day_product_index=dv.product, day_truth=whole_day)), dtype=np.int64)
                elif batch_price is not None:
                    prices = np.asarray(batch_price(ViewBatch(
                        pr, sh, ts, d, c.product_ids, self.shoppers.customer_ids,
                        session_ids=[el.session_id(int(s)) for s in dv.session[sl]],
                        channels=[CHANNELS[int(k)] for k in dv.channel[sl]],
                        devices=[DEVICES[int(k)] for k in dv.device[sl]])), dtype=np.int64)
                else:
                    pricer = cast(ViewPricer, policy)  # neither truth_prices nor price_batch
                    prices = np.fromiter(
                        (pricer.price(self.view_request(int(sh[k]), int(pr[k]), int(ts[k]),
                                                        int(dv.session[sl][k]), int(dv.channel[sl][k]),
                                                        int(dv.device[sl][k]))) for k in range(n)),
                        dtype=np.int64, count=n)
                if prices.shape != (n,) or (prices <= 0).any():
                    raise ValidationError("pricing policy", "price",
                                          "must return one positive integer price per view")
                prob = true_purchase_probability(st, pt, prices, ctx, self.demand_params)
                u = dv.u_buy[sl]
                buy = u < prob
                cart = u < np.minimum(1.0, cfg.cart_ratio * prob)
                qty = 1 + dv.extra_qty[sl]
                available = np.ones(n, bool)
                # stock in view order, only where it is finite
                for k in np.flatnonzero(limited[pr]):
                    j = pr[k]
                    if stock[j] <= 0:
                        available[k] = False
                        buy[k] = False
                        cart[k] = False
                    elif buy[k]:
                        qty[k] = min(qty[k], stock[j])
                        stock[j] -= qty[k]
                margin = prices - c.cost[pr]
                exp_profit = np.where(available, prob * exp_q[pr] * margin, 0.0)
                np.add.at(shown_sum, pr, prices)
                np.add.at(shown_cnt, pr, 1)
                sess = dv.session[sl]
                pending.append(log.add(el.VIEW, ts, customer=sh, product=pr, session=sess,
                                       price=prices, channel=dv.channel[sl], device=dv.device[sl]))
                ci = np.flatnonzero(cart)
                pending.append(log.add(el.CART, ts[ci] + 20_000_000, customer=sh[ci], product=pr[ci],
                                       session=sess[ci], price=prices[ci], quantity=qty[ci]))
                bi = np.flatnonzero(buy)
                pending.append(log.add(el.PURCHASE, ts[bi] + 60_000_000, customer=sh[bi], product=pr[bi],
                                       session=sess[bi], price=prices[bi], quantity=qty[bi],
                                       order=order_next + np.arange(bi.size)))
                order_next += bi.size
                ri = np.flatnonzero(cart & ~buy & (dv.u_remove[sl] < REMOVE_SHARE))
                pending.append(log.add(el.REMOVE, ts[ri] + 120_000_000, customer=sh[ri], product=pr[ri],
                                       session=sess[ri], quantity=qty[ri]))
                kpi["views"] += n
                kpi["orders"] += int(bi.size)
                kpi["units"] += int(qty[bi].sum())
                kpi["revenue"] += int((qty[bi] * prices[bi]).sum())
                kpi["profit"] += int((qty[bi] * margin[bi]).sum())
                kpi["expected_profit"] += float(exp_profit.sum())
                dec_parts.append(dict(
                    day=np.full(n, d), ts=ts, shopper=sh, product=pr, price=prices, prob=prob,
                    expected_profit=exp_profit, available=available, reference=ctx.reference_price,
                    lowest_competitor=ctx.lowest_competitor, holiday=ctx.holiday, bought=buy,
                    quantity=np.where(buy, qty, 0)))
                if observe is not None:
                    self._deliver(observe, pending, lk)
                pending = []
            moved = np.flatnonzero(limited & (stock != stock_before))
            pending.append(log.add(el.INVENTORY, np.full(moved.size, day_start + DAY_US - 1_000_000),
                                   product=moved, stock=stock[moved]))
            if observe is not None:
                self._deliver(observe, pending, lk)
            seen = shown_cnt > 0
            mean_shown = np.where(seen, shown_sum / np.maximum(shown_cnt, 1), our_price)
            our_price = np.where(seen, np.rint(mean_shown), our_price).astype(np.int64)
            m = cfg.reference_memory
            ref = np.where(seen, m * ref + (1 - m) * mean_shown, ref)
            kpi["conversion"] = kpi["orders"] / kpi["views"] if kpi["views"] else 0.0
            daily_rows.append(dict(day=d, date=cal.days[d].isoformat(), **kpi))
            if progress is not None:
                progress(d + 1)
        cols = ["day", "views", "orders", "units", "revenue", "profit", "conversion", "expected_profit", "date"]
        daily = pd.DataFrame(daily_rows)[cols]
        if dec_parts:
            decisions = pd.DataFrame({k: np.concatenate([p[k] for p in dec_parts]) for k in dec_parts[0]})
        else:
            decisions = pd.DataFrame(columns=["day", "ts", "shopper", "product", "price", "prob",
                                              "expected_profit", "available", "reference",
                                              "lowest_competitor", "holiday", "bought", "quantity"])
        return RunResult(daily, decisions, log, lk)

    @staticmethod
    def _deliver(observe: Callable[[list[Event]], None], blocks: list[dict[str, I]],
                 lk: el.Lookups) -> None:
        blocks = [b for b in blocks if b["ts"].size]
        if not blocks:
            return
        merged = {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}
        order = np.lexsort((merged["seq"], merged["ts"]))
        observe(el.to_structs({k: v[order] for k, v in merged.items()}, lk))



def events_frame(result: RunResult) -> pd.DataFrame:
    """A run's events in the EVENT_COLUMNS layout (``ts`` int micros, ``price`` int minor units,
    ``user_id`` = the shop's customer id), sorted by time."""
    from pricepilot.events.schemas import EVENT_COLUMNS

    cols = result.events.columns()
    lk = result.lookups
    t = cols["type"]

    def strings(lookup: list[str] | list[str | None] | tuple[str, ...], codes: I) -> npt.NDArray[np.object_]:
        arr = np.array(list(lookup) + [None], dtype=object)
        return arr[np.where(codes >= 0, codes, len(lookup))]

    def ids(prefix: str, codes: I) -> npt.NDArray[np.object_]:
        return np.array([f"{prefix}{c:08d}" if c >= 0 else None for c in codes.tolist()], dtype=object)

    def ints(codes: I) -> pd.Series:
        return pd.Series(pd.array(np.where(codes >= 0, codes, 0), dtype="Int64")).where(codes >= 0)

    has_price = (t == el.VIEW) | (t == el.CART) | (t == el.PURCHASE) | (t == el.COMPETITOR)
    df = pd.DataFrame({
        "event_id": [el.event_id(int(s)) for s in cols["seq"]],
        "type": np.array(el.TYPES, dtype=object)[t],
        "ts": cols["ts"],
        "user_id": strings(lk.customer_ids, cols["customer"]),
        "product_id": strings(lk.product_ids, cols["product"]),
        "session_id": ids("s", cols["session"]),
        "order_id": ids("o", cols["order"]),
        "quantity": ints(cols["quantity"]),
        "price": ints(cols["price"]),
        "currency": np.where(has_price, lk.currency, np.array(None, dtype=object)),
        "competitor": strings(lk.competitors, cols["competitor"]),
        "on_promotion": pd.Series(pd.array(cols["on_promotion"] == 1, dtype="boolean")).where(cols["on_promotion"] >= 0),
        "stock": ints(cols["stock"]),
        "day": strings([d.isoformat() for d in lk.days], cols["day"]),
        "name": strings(lk.holiday_names, cols["day"]),
        "channel": strings(lk.channels, cols["channel"]),
        "device": strings(lk.devices, cols["device"]),
        "quote_id": None,
        "region": None,
    })
    return df[list(EVENT_COLUMNS)]

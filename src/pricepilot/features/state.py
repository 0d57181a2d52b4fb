"""The shared logic of the online feature state, independent of where the state lives.

State is a set of flat hashes (field -> number or text), exactly what Redis stores:

- ``u:<user>``: ring ``w7`` (views per UTC day, 7 slots), ring ``w90`` (purchases and spend
  per UTC day, 90 slots), ``vt`` (all views), ``vc|<category>`` (views per category), ``lp``
  (last purchase ts), ``rs``/``rn`` (sum and count of paid / list price), ``a|<attr>`` (shopper
  attributes);
- ``s:<user>``: views per session id;
- ``p:<product>``: ring ``w7`` (views, purchases and units bought per UTC day), ``fv`` (first
  view ts), ``i|*`` (latest inventory level ``i|s`` and the units bought since it ``i|q``), ``k|<competitor>|*`` (each competitor's latest price and promotion flag), ``r|<competitor>|*``
  (its latest price off promotion: the regular price);
- ``cal:<day>``: announced holidays of a local calendar day, by region (``*``: everywhere).

An event becomes a short list of primitive :class:`Op` (increment, ring-bucket increment, keep
the maximum / minimum, keep the latest by (ts, rank)); each backend applies them atomically per
event (the memory backend in Python, Redis in one Lua script). Reads go the other way:
:func:`user_features` (once per quote) and :func:`product_features` (per product) turn the
hashes into the feature dict, the same code for every backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from pricepilot.catalog.models import Product
from pricepilot.clock import to_micros
from pricepilot.compliance.attributes import Shopper
from pricepilot.demand.base import CONTEXT_FEATURES
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import EVENT_TYPES, Event, event_type
from pricepilot.money import exponent

DAY_US = 86_400_000_000
SHORT = 7
LONG = 90
SHOPPER_FIELDS = ("tier", "device", "region", "channel")
Value = int | float | str


class Op(msgspec.Struct, array_like=True, frozen=True):
    """One primitive update of one hash.

    kind ``incr``: ``field += amount`` (int); ``incrf``: float add; ``max``/``min``: keep the
    larger / smaller number; ``ring``: add ``amounts`` to the day bucket ``day`` of ring
    ``field`` with ``slots`` slots (a bucket holding an older day is reset first; an event older
    than the bucket's day is dropped: it is outside every window that can still be read);
    Each ring update names every metric of the ring (zero amounts included) so a reset
    clears them all.
    ``latest``: set ``values`` when ``(ts, rank)`` is greater than the stored one (fields
    ``<field>t`` and ``<field>r``); ``sess``: increment ``field`` of a session hash;
    ``since``: ``<field>q += amount`` when ``ts`` is later than the ``latest`` group ``field``'s
    time ``<field>t`` (or there is none): units bought since the latest inventory report.
    """

    kind: str
    key: str
    field: str
    amount: float = 0
    day: int = 0
    slots: int = 0
    amounts: tuple[tuple[str, int], ...] = ()
    ts: int = 0
    rank: float = 0
    values: tuple[tuple[str, Value], ...] = ()


class NormEvent(msgspec.Struct, frozen=True):
    """An event reduced to what the feature state reads."""

    event_id: str
    type: str
    ts: int
    user_id: str | None = None
    product_id: str | None = None
    session_id: str | None = None
    quantity: int | None = None
    price: int | None = None
    currency: str | None = None
    competitor: str | None = None
    on_promotion: bool = False
    stock: int | None = None
    day: str | None = None
    region: str | None = None


def _missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        import pandas as pd

        return v is pd.NA or v is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _opt_str(v: object) -> str | None:
    return None if _missing(v) else str(v)


def _opt_int(v: object) -> int | None:
    return None if _missing(v) else int(v)  # type: ignore[call-overload]


def normalise(ev: Event | Mapping[str, Any]) -> NormEvent:
    """An :data:`Event` struct or a row in the ``EVENT_COLUMNS`` layout, as a :class:`NormEvent`."""
    if isinstance(ev, Mapping):
        et = ev.get("type")
        if et not in EVENT_TYPES:
            raise ValidationError("event", "type", f"unknown event type {et!r}")
        eid = ev.get("event_id")
        if _missing(eid) or not str(eid):
            raise ValidationError("event", "event_id", "is required")
        ts = ev.get("ts")
        if isinstance(ts, datetime):
            ts_us = to_micros(ts)
        elif ts is None or _missing(ts):
            raise ValidationError(f"event {eid!r}", "ts", "is required")
        else:
            ts_us = int(ts)
        day = ev.get("day")
        promo = ev.get("on_promotion")
        return NormEvent(
            event_id=str(eid), type=str(et), ts=ts_us,
            user_id=_opt_str(ev.get("user_id")), product_id=_opt_str(ev.get("product_id")),
            session_id=_opt_str(ev.get("session_id")), quantity=_opt_int(ev.get("quantity")),
            price=_opt_int(ev.get("price")), currency=_opt_str(ev.get("currency")),
            competitor=_opt_str(ev.get("competitor")),
            on_promotion=False if _missing(promo) else bool(promo),
            stock=_opt_int(ev.get("stock")),
            day=None if _missing(day) else (day.isoformat() if isinstance(day, date)
                                            else str(day)[:10]),
            region=_opt_str(ev.get("region")),
        )
    et = event_type(ev)
    get = getattr
    day_v = get(ev, "day", None)
    return NormEvent(
        event_id=ev.event_id, type=et, ts=to_micros(ev.ts),
        user_id=get(ev, "user_id", None), product_id=get(ev, "product_id", None),
        session_id=get(ev, "session_id", None), quantity=get(ev, "quantity", None),
        price=get(ev, "price", None), currency=get(ev, "currency", None),
        competitor=get(ev, "competitor", None),
        on_promotion=bool(get(ev, "on_promotion", False)), stock=get(ev, "stock", None),
        day=day_v.isoformat() if day_v is not None else None, region=get(ev, "region", None),
    )


def user_key(user_id: str) -> str:
    return f"u:{user_id}"


def session_key(user_id: str) -> str:
    return f"s:{user_id}"


def product_key(product_id: str) -> str:
    return f"p:{product_id}"


def calendar_key(day: str) -> str:
    return f"cal:{day}"


def ops_for(ev: NormEvent, catalogue: Mapping[str, Product]) -> list[Op]:
    """The primitive updates one event makes (empty for events the features ignore)."""
    day = ev.ts // DAY_US
    ops: list[Op] = []
    if ev.type == "view":
        if ev.user_id is not None:
            uk = user_key(ev.user_id)
            ops.append(Op("ring", uk, "w7", day=day, slots=SHORT, amounts=(("v", 1),)))
            ops.append(Op("incr", uk, "vt", amount=1))
            prod = catalogue.get(ev.product_id) if ev.product_id is not None else None
            if prod is not None:
                ops.append(Op("incr", uk, f"vc|{prod.category}", amount=1))
            if ev.session_id is not None:
                ops.append(Op("sess", session_key(ev.user_id), ev.session_id, amount=1))
        if ev.product_id is not None:
            # every metric of a ring is named in each update, so a reset clears them all
            ops.append(Op("ring", product_key(ev.product_id), "w7", day=day, slots=SHORT,
                          amounts=(("v", 1), ("p", 0), ("u", 0))))
            # the product's first view: how long its view counts have been observing traffic
            ops.append(Op("min", product_key(ev.product_id), "fv", amount=ev.ts))
    elif ev.type == "purchase":
        if ev.user_id is not None:
            uk = user_key(ev.user_id)
            milli = 0
            if ev.price is not None and ev.currency is not None:
                milli = ev.price * (ev.quantity if ev.quantity is not None else 1) * 10 ** (
                    3 - exponent(ev.currency))
            ops.append(Op("ring", uk, "w90", day=day, slots=LONG,
                          amounts=(("p", 1), ("m", milli))))
            ops.append(Op("max", uk, "lp", amount=ev.ts))
            prod = catalogue.get(ev.product_id) if ev.product_id is not None else None
            if prod is not None and ev.price is not None:
                ops.append(Op("incrf", uk, "rs", amount=ev.price / prod.list_price))
                ops.append(Op("incr", uk, "rn", amount=1))
        if ev.product_id is not None:
            units = ev.quantity if ev.quantity is not None else 1
            ops.append(Op("ring", product_key(ev.product_id), "w7", day=day, slots=SHORT,
                          amounts=(("v", 0), ("p", 1), ("u", units))))
            # what is left to sell is the latest inventory report less what was bought since
            ops.append(Op("since", product_key(ev.product_id), "i|", amount=units, ts=ev.ts))
    elif ev.type == "competitor_price":
        if ev.product_id is not None and ev.price is not None and ev.competitor is not None:
            promo = 1 if ev.on_promotion else 0
            ops.append(Op("latest", product_key(ev.product_id), f"k|{ev.competitor}|", ts=ev.ts,
                          rank=-2 * ev.price + promo,
                          values=((f"k|{ev.competitor}|p", ev.price),
                                  (f"k|{ev.competitor}|o", promo))))
            if not promo:  # the competitor's regular price: its latest report off promotion
                ops.append(Op("latest", product_key(ev.product_id), f"r|{ev.competitor}|",
                              ts=ev.ts, rank=-2 * ev.price,
                              values=((f"r|{ev.competitor}|p", ev.price),)))
    elif ev.type == "inventory":
        if ev.product_id is not None and ev.stock is not None:
            ops.append(Op("latest", product_key(ev.product_id), "i|", ts=ev.ts, rank=ev.stock,
                          values=(("i|s", ev.stock), ("i|q", 0))))
    elif ev.type == "calendar":
        if ev.day is not None:
            ops.append(Op("min", calendar_key(ev.day), ev.region or "*", amount=ev.ts))
    return ops


def _num(h: Mapping[str, Value], f: str, default: float = 0.0) -> float:
    v = h.get(f)
    return default if v is None else float(v)


_RING_NAMES: dict[tuple[str, int, tuple[str, ...]], tuple[tuple[str, tuple[str, ...]], ...]] = {}


def _ring_names(ring: str, slots: int,
                metrics: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    key = (ring, slots, metrics)
    names = _RING_NAMES.get(key)
    if names is None:
        names = _RING_NAMES[key] = tuple(
            (f"{ring}d{s}", tuple(f"{ring}{m}{s}" for m in metrics)) for s in range(slots))
    return names


def ring_sums(h: Mapping[str, Value], ring: str, slots: int, metrics: tuple[str, ...], day: int,
              window: int) -> list[int]:
    """Sums of each metric over the ring's buckets holding days ``day - window + 1 .. day``."""
    totals = [0] * len(metrics)
    lo = day - window + 1
    get = h.get
    for dfield, mfields in _ring_names(ring, slots, metrics):
        d = get(dfield)
        if d is not None and lo <= int(d) <= day:
            for i, f in enumerate(mfields):
                totals[i] += int(get(f, 0))
    return totals


def ring_sum(h: Mapping[str, Value], ring: str, slots: int, metric: str, day: int,
             window: int) -> int:
    """Sum of ``metric`` over the ring's buckets holding days ``day - window + 1 .. day``."""
    return ring_sums(h, ring, slots, (metric,), day, window)[0]


def shopper_fields(shopper: Shopper) -> dict[str, str]:
    """The stored form of a shopper's attributes (``a|<name>`` fields)."""
    out: dict[str, str] = {}
    for f in SHOPPER_FIELDS:
        v = getattr(shopper, f)
        if v is not None:
            out[f"a|{f}"] = v
    return out


class LocalTime:
    """Local hour, weekday and date of an instant in the shop's time zone (cached per hour)."""

    def __init__(self, tz: str = "UTC") -> None:
        try:
            self.tz = ZoneInfo(tz)
        except Exception as e:  # ZoneInfoNotFoundError or ValueError for malformed names
            raise ValidationError("online features", "timezone", f"unknown time zone {tz!r}") from e
        self._cache: dict[int, tuple[int, int, str]] = {}

    def at(self, ts_us: int) -> tuple[int, int, str]:
        # offsets change on whole hours or half hours in practice; cache by UTC minute
        minute = ts_us // 60_000_000
        hit = self._cache.get(minute)
        if hit is None:
            local = (datetime(1970, 1, 1, tzinfo=timezone.utc)
                     + timedelta(microseconds=minute * 60_000_000)).astimezone(self.tz)
            hit = (local.hour, local.weekday(), local.date().isoformat())
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[minute] = hit
        return hit


def user_features(
    *,
    user: Mapping[str, Value],
    session_views: int,
    holidays: Mapping[str, Value],
    at_us: int,
    local: tuple[int, int, str],
    attrs: Mapping[str, str | None],
) -> dict[str, object]:
    """The shopper and context features (all but ``u_affinity``), computed once per quote."""
    day = at_us // DAY_US
    lp = user.get("lp")
    rn = int(user.get("rn", 0))
    region = attrs.get("region")
    holiday = 0.0
    for f, v in holidays.items():
        if (f == "*" or f == region) and int(v) < at_us:
            holiday = 1.0
    hour, weekday, _ = local
    n90, milli90 = ring_sums(user, "w90", LONG, ("p", "m"), day, LONG)
    return {
        "u_recency_days": (at_us - int(lp)) / DAY_US if lp is not None else math.nan,
        "u_frequency_90d": float(n90),
        "u_monetary_90d": milli90 / 1000.0,
        "u_views_7d": float(ring_sum(user, "w7", SHORT, "v", day, SHORT)),
        "u_paid_vs_list": _num(user, "rs") / rn if rn > 0 else math.nan,
        "u_session_views": float(session_views),
        "u_tier": attrs.get("tier"),
        "u_device": attrs.get("device"),
        "u_region": region,
        "u_channel": attrs.get("channel"),
        "c_hour": float(hour),
        "c_weekday": float(weekday),
        "c_holiday": holiday,
    }


def product_features(
    *,
    user: Mapping[str, Value],
    product_state: Mapping[str, Value],
    product: Product,
    at_us: int,
) -> dict[str, object]:
    """The product features, ``u_affinity`` (it depends on the product's category),
    ``competitor_price`` (the lowest latest competitor price, promotions included: what shoppers
    compare with) and ``competitor_regular_price`` (the lowest of the competitors' latest prices
    off promotion: what the competitor band is measured against, so a competitor's temporary
    promotion does not drag the band down; None when no competitor has reported one)."""
    day = at_us // DAY_US
    vt = int(user.get("vt", 0))
    cat_views = int(user.get(f"vc|{product.category}", 0))
    pv, pp, pu = ring_sums(product_state, "w7", SHORT, ("v", "p", "u"), day, SHORT)
    # competitors: lowest latest price, any latest report on promotion
    comp: int | None = None
    regular: int | None = None
    first_view: int | None = None
    promo = 0.0
    inv_stock: Value | None = None
    for f, v in product_state.items():
        if f[0] == "k":
            if f[-2:] == "|p":
                p = int(v)
                comp = p if comp is None or p < comp else comp
            elif f[-2:] == "|o" and int(v):
                promo = 1.0
        elif f[0] == "r" and f[-2:] == "|p":
            p = int(v)
            regular = p if regular is None or p < regular else regular
        elif f == "i|s":
            inv_stock = v
        elif f == "fv":
            first_view = int(v)
    if inv_stock is not None:
        # the report less the units bought since it: a shop reporting stock nightly still
        # has the inventory LP see every sale of the day as it happens
        stock = max(float(inv_stock) - float(product_state.get("i|q", 0)), 0.0)
    else:
        stock = float(product.stock) if product.stock is not None else math.nan
    return {
        "u_affinity": cat_views / vt if vt > 0 else math.nan,
        "p_category": product.category,
        "p_product": product.product_id,
        "p_views_7d": float(pv),
        "p_purchases_7d": float(pp),
        "p_conversion_7d": pp / pv if pv > 0 else math.nan,
        # units per purchase over 7 days, shrunk towards 1 with a prior worth two purchases
        # (a ring written before units were counted reads as one unit a purchase)
        "p_units_per_purchase": (max(pu, pp) + 2.0) / (pp + 2.0),
        "p_stock": stock,
        "p_days_to_season_end": (to_micros(product.season_end) - at_us) / DAY_US
        if product.season_end is not None else math.nan,
        "p_comp_on_promo": promo,
        "competitor_price": comp,
        "competitor_regular_price": regular,
        # hours the product's 7-day view count has been observing (since its first view, at
        # most 7 days): the exposure the arrival-rate estimate divides by
        "p_views_hours": (min(max(at_us - first_view, 0) / 3.6e9, 7 * 24.0)
                          if first_view is not None else 0.0),
    }


def order_features(u: Mapping[str, object], p: Mapping[str, object]) -> dict[str, object]:
    merged = {**u, **p}
    return {k: merged[k] for k in _ORDER}


_ORDER: tuple[str, ...] = (*CONTEXT_FEATURES, "competitor_price", "competitor_regular_price",
                           "p_views_hours", "p_units_per_purchase")

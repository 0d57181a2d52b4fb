"""Online feature state: learn from events one at a time, read features for a quote.

:class:`OnlineFeatures` keeps per-shopper and per-product aggregates up to date as events arrive
(``learn_one`` / its batched twin ``learn_many``) and answers ``features_for``: the non-price
features a view *at that moment* would get in the point-in-time training set
(:func:`pricepilot.features.training.build_training_set`), so a model is served the inputs it
was trained on. Reads reflect every event learned so far: call ``features_for`` before learning
the view it prices (the serving order), as the training set counts only events strictly before.

>>> from datetime import datetime, timezone
>>> from pricepilot.catalog.models import Product
>>> from pricepilot.events.schemas import View
>>> mug = Product(product_id="SKU-1", title="Mug", category="kitchen", currency="EUR",
...               unit_cost=400, list_price=999)
>>> state = OnlineFeatures(MemoryBackend(), products=[mug])
>>> t = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
>>> state.learn_one(View(event_id="e1", ts=t, user_id="u1", product_id="SKU-1", price=999,
...                      currency="EUR", session_id="s1"))
True
>>> f = state.features_for("u1", mug, datetime(2026, 3, 2, 11, tzinfo=timezone.utc),
...                        session_id="s1")
>>> f["u_views_7d"], f["u_session_views"], f["p_views_7d"], f["u_affinity"]
(1.0, 1.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pricepilot.catalog.models import Product
from pricepilot.clock import to_micros
from pricepilot.compliance.attributes import Shopper
from pricepilot.config import Settings
from pricepilot.events.schemas import EVENT_COLUMNS, Event
from pricepilot.features.backends import FeatureBackend, MemoryBackend, RedisBackend
from pricepilot.features.snapshot import SnapshotFile
from pricepilot.features.state import (
    SHOPPER_FIELDS,
    LocalTime,
    normalise,
    ops_for,
    order_features,
    product_features,
    shopper_fields,
    user_features,
)

EventLike = Event | Mapping[str, Any]
_CHUNK = 10_000  # events per backend call in learn_many (bounded memory, one pipeline each)


def _micros(at: datetime | int) -> int:
    return at if isinstance(at, int) else to_micros(at)


class OnlineFeatures:
    """Incremental features over a :class:`FeatureBackend`.

    ``products``: the catalogue (category and list price are read when events are learned:
    category views feed ``u_affinity``, list prices ``u_paid_vs_list``); update it with
    :meth:`set_products`. ``timezone``: the shop's, for the local hour/weekday/holiday.
    """

    def __init__(self, backend: FeatureBackend, products: Iterable[Product] = (),
                 timezone: str = "UTC") -> None:
        self.backend = backend
        self.catalogue: dict[str, Product] = {}
        self.set_products(products)
        self._local = LocalTime(timezone)
        # persisting the replayed memory state (serving/warmup.py): the data directory (for
        # stores without a file of their own; None: never persisted) and, once warmed, the file
        self.snapshot_dir: Path | None = None
        self.snapshot: SnapshotFile | None = None

    def set_products(self, products: Iterable[Product]) -> None:
        for p in products:
            self.catalogue[p.product_id] = p

    # -- writes -------------------------------------------------------------------------
    def learn_one(self, event: EventLike) -> bool:
        """Learn one event; False when its ``event_id`` was already learned (nothing changes)."""
        ev = normalise(event)
        return self.backend.apply([(ev.event_id, ops_for(ev, self.catalogue))]) == 1

    def learn_many(self, events: Iterable[EventLike] | pd.DataFrame) -> int:
        """Batched twin of :meth:`learn_one` (same result, pipelined); returns events applied.

        Accepts event structs, mappings, or a DataFrame in the ``EVENT_COLUMNS`` layout.
        """
        if isinstance(events, pd.DataFrame):
            cols = [c for c in EVENT_COLUMNS if c in events.columns]
            rows: Iterable[EventLike] = (
                dict(zip(cols, r)) for r in events[cols].itertuples(index=False, name=None)
            )
        else:
            rows = events
        applied = 0
        batch = []
        for e in rows:
            ev = normalise(e)
            batch.append((ev.event_id, ops_for(ev, self.catalogue)))
            if len(batch) == _CHUNK:
                applied += self.backend.apply(batch)
                batch = []
        return applied + self.backend.apply(batch)

    def set_shopper(self, shopper: Shopper) -> None:
        """Store a shopper's declared attributes (tier, device, region, channel)."""
        self.backend.put_shopper(shopper.shopper_id, shopper_fields(shopper))

    def forget_user(self, user_id: str) -> int:
        """Erase every aggregate and attribute held about ``user_id``; returns how many keys.
        The persisted snapshot held them too: it is deleted (the next start replays the log)."""
        n = self.backend.forget_user(user_id)
        if self.snapshot is not None:
            self.snapshot.discard()
        return n

    # -- reads --------------------------------------------------------------------------
    def features_for(self, user_id: str, product: Product, at: datetime | int,
                     session_id: str | None = None, *, shopper: Shopper | None = None,
                     device: str | None = None, channel: str | None = None) -> dict[str, object]:
        """Features of one product for ``user_id`` at ``at`` (datetime or epoch microseconds).

        Returns every ``CONTEXT_FEATURES`` name plus ``competitor_price`` (lowest latest
        competitor price, minor units, or None). ``shopper`` overrides stored attributes;
        ``device``/``channel`` (of the request) override the shopper's, as a view's do offline.
        """
        return self.features_many(user_id, [product], at, session_id, shopper=shopper,
                                  device=device, channel=channel)[0]

    def features_many(self, user_id: str, products: Sequence[Product], at: datetime | int,
                      session_id: str | None = None, *, shopper: Shopper | None = None,
                      device: str | None = None,
                      channel: str | None = None) -> list[dict[str, object]]:
        """:meth:`features_for` for a page of products in one backend read (one round trip)."""
        at_us = _micros(at)
        local = self._local.at(at_us)
        snap = self.backend.read(user_id, session_id, [p.product_id for p in products], local[2])
        attrs: dict[str, str | None]
        if shopper is not None:
            attrs = {f: getattr(shopper, f) for f in SHOPPER_FIELDS}
        else:
            stored = snap.user
            attrs = {f: (str(stored[f"a|{f}"]) if f"a|{f}" in stored else None)
                     for f in SHOPPER_FIELDS}
        if device is not None:
            attrs["device"] = device
        if channel is not None:
            attrs["channel"] = channel
        u = user_features(user=snap.user, session_views=snap.session_views,
                          holidays=snap.holidays, at_us=at_us, local=local, attrs=attrs)
        return [
            order_features(u, product_features(user=snap.user, product_state=ph, product=p,
                                               at_us=at_us))
            for p, ph in zip(products, snap.products)
        ]

    def close(self) -> None:
        self.backend.close()


def open_online_features(settings: Settings, products: Iterable[Product] = ()) -> OnlineFeatures:
    """The online state chosen by ``settings.online.type`` (``memory`` or ``redis``)."""
    o = settings.online
    backend: FeatureBackend
    if o.type == "redis":
        backend = RedisBackend(o.url, prefix=o.key_prefix, seen_ttl_seconds=o.seen_ttl_seconds,
                               session_ttl_seconds=o.session_ttl_seconds)
    else:
        backend = MemoryBackend(seen_capacity=o.seen_capacity)
    features = OnlineFeatures(backend, products, timezone=settings.shop.timezone)
    if o.type == "memory":
        features.snapshot_dir = settings.data_dir
    return features


def replay_views(state: OnlineFeatures, events: pd.DataFrame) -> pd.DataFrame:
    """Replay an event log through ``state`` and record the features served at every view.

    Events are learned in ``ts`` order; each view is read *before* any event of its own instant
    is learned (the serving order), so the result is what a model would have been served, row
    for row comparable with :func:`~pricepilot.features.training.build_training_set` (join on
    ``event_id``). This is the training/serving skew check. Views of products missing from the
    state's catalogue are skipped (the training set drops them too).
    """
    from pricepilot.demand.base import CONTEXT_FEATURES

    ev = events.sort_values("ts", kind="stable")
    cols = [c for c in EVENT_COLUMNS if c in ev.columns]
    rows = [dict(zip(cols, r)) for r in ev[cols].itertuples(index=False, name=None)]
    out: list[dict[str, object]] = []
    i, n = 0, len(rows)
    while i < n:
        j = i
        ts = rows[i]["ts"]
        while j < n and rows[j]["ts"] == ts:
            j += 1
        for r in rows[i:j]:
            if r["type"] != "view":
                continue
            prod = state.catalogue.get(str(r["product_id"]))
            if prod is None or r["user_id"] is None or pd.isna(r["user_id"]):
                continue
            sid = r.get("session_id")
            dev, chan = r.get("device"), r.get("channel")
            f = state.features_for(
                str(r["user_id"]), prod, int(ts), None if pd.isna(sid) else str(sid),
                device=None if pd.isna(dev) else str(dev),
                channel=None if pd.isna(chan) else str(chan),
            )
            f["event_id"] = r["event_id"]
            out.append(f)
        state.learn_many(rows[i:j])
        i = j
    return pd.DataFrame(out, columns=["event_id", *CONTEXT_FEATURES, "competitor_price"])

"""Issue #13 point 12: a start replays only the events after the persisted online state's
watermark, and gets exactly the state a full replay of the event log gives; a single decision
replays only what its quote reads."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import msgspec

from pricepilot.catalog.models import Product
from pricepilot.config import Settings, load_settings
from pricepilot.events.schemas import Calendar, CompetitorPrice, Event, Inventory, Purchase, View
from pricepilot.features.backends import MemoryBackend
from pricepilot.features.online import OnlineFeatures, open_online_features
from pricepilot.serving.warmup import warm_online_features, warm_online_features_for
from pricepilot.store.sql import SqlStore, open_store

T0 = datetime(2026, 10, 1, 8, tzinfo=timezone.utc)
PRODUCTS = [Product(product_id=f"P{i}", title=f"item {i}", category=("kitchen", "garden")[i % 2],
                    currency="EUR", unit_cost=400 + 10 * i, list_price=999 + 100 * i)
            for i in range(4)]


def _events(n: int, start: datetime, seed: int, prefix: str) -> list[Event]:
    """A mixed log: views in sessions, purchases, competitor prices, stock and holidays, with
    timestamps shared between events (the replay order breaks ties on event_id)."""
    rng = random.Random(seed)
    out: list[Event] = []
    for i in range(n):
        ts = start + timedelta(minutes=rng.randrange(0, 60 * 24 * 10, 7))
        pid = f"P{rng.randrange(4)}"
        uid = f"u{rng.randrange(6)}"
        k = rng.random()
        eid = f"{prefix}{i:04d}"
        if k < 0.6:
            out.append(View(event_id=eid, ts=ts, user_id=uid, product_id=pid, price=999,
                            currency="EUR", session_id=f"s{rng.randrange(40)}"))
        elif k < 0.8:
            out.append(Purchase(event_id=eid, ts=ts, user_id=uid, product_id=pid, order_id=eid,
                                price=899 + rng.randrange(200), currency="EUR",
                                quantity=1 + rng.randrange(2)))
        elif k < 0.9:
            out.append(CompetitorPrice(event_id=eid, ts=ts, product_id=pid, competitor="rival",
                                       price=900 + rng.randrange(300), currency="EUR",
                                       on_promotion=rng.random() < 0.3))
        elif k < 0.97:
            out.append(Inventory(event_id=eid, ts=ts, product_id=pid, stock=rng.randrange(50)))
        else:
            out.append(Calendar(event_id=eid, ts=ts, day=date(2026, 10, 1 + rng.randrange(20)),
                                name="fete"))
    return out


def _shop(tmp_path: Path) -> tuple[Settings, SqlStore]:
    store_url = f"sqlite:///{tmp_path / 'shop.sqlite'}"
    settings = load_settings(path=None, env={}, overrides={"store.url": store_url,
                                                           "paths.data_dir": str(tmp_path)})
    store = open_store(store_url)
    store.migrate()
    store.upsert_products(PRODUCTS)
    return settings, store


def _state(f: OnlineFeatures) -> tuple[object, object]:
    b = f.backend
    assert isinstance(b, MemoryBackend)
    return b._h, list(b._seen)


def _full_replay(settings: Settings, store: SqlStore) -> OnlineFeatures:
    f = open_online_features(settings, PRODUCTS)
    f.snapshot_dir = None  # the reference: the whole log, no snapshot read or written
    warm_online_features(store, f, "memory")
    return f


def test_point12_snapshot_and_tail_give_exactly_the_full_replay_state(tmp_path: Path) -> None:
    settings, store = _shop(tmp_path)
    store.add_events(_events(400, T0, seed=1, prefix="a"))
    first = open_online_features(settings, PRODUCTS)
    assert warm_online_features(store, first, "memory") == 400  # a full replay, then saved
    assert first.snapshot is not None and first.snapshot.path.exists()
    assert first.snapshot.path == tmp_path / "shop.sqlite.online"  # beside the store's file
    # newer events (after the watermark), some at the watermark's own instant
    later = _events(150, T0 + timedelta(days=10, minutes=1), seed=2, prefix="b")
    store.add_events(later)
    restarted = open_online_features(settings, PRODUCTS)
    assert warm_online_features(store, restarted, "memory") == 150  # only the tail
    assert _state(restarted) == _state(_full_replay(settings, store))
    # and the decision inputs with them
    ref = _full_replay(settings, store)
    at = T0 + timedelta(days=21)
    for uid in ("u0", "u3"):
        assert restarted.features_many(uid, PRODUCTS, at, "s1") == ref.features_many(
            uid, PRODUCTS, at, "s1")
    # the tail was folded in: the next start replays nothing
    again = open_online_features(settings, PRODUCTS)
    assert warm_online_features(store, again, "memory") == 0
    assert _state(again) == _state(ref)


def test_point12_a_late_event_a_new_catalogue_or_an_erasure_means_a_full_replay(
        tmp_path: Path) -> None:
    settings, store = _shop(tmp_path)
    store.add_events(_events(300, T0, seed=3, prefix="a"))
    warm_online_features(store, open_online_features(settings, PRODUCTS), "memory")
    # an event inside the covered range: only a full replay puts it in order
    store.add_events([View(event_id="late", ts=T0 + timedelta(hours=5), user_id="u1",
                           product_id="P1", price=999, currency="EUR", session_id="s1")])
    late = open_online_features(settings, PRODUCTS)
    assert warm_online_features(store, late, "memory") == 301
    assert _state(late) == _state(_full_replay(settings, store))
    # a list price changed: every purchase's paid/list ratio changes
    moved = [msgspec.structs.replace(PRODUCTS[0], list_price=1299), *PRODUCTS[1:]]
    renewed = open_online_features(settings, moved)
    assert warm_online_features(store, renewed, "memory") == 301
    # erasure: the persisted copy holds the shopper's aggregates, so it goes
    snap = renewed.snapshot
    assert snap is not None and snap.path.exists()
    renewed.forget_user("u1")
    assert not snap.path.exists()


def test_point12_one_quote_replays_only_what_it_reads(tmp_path: Path) -> None:
    settings, store = _shop(tmp_path)
    store.add_events(_events(500, T0, seed=4, prefix="a"))
    ref = _full_replay(settings, store)
    one = open_online_features(settings, PRODUCTS)
    one.snapshot_dir = None  # no snapshot: the scoped replay
    applied = warm_online_features_for(store, one, "memory", "u2", ["P1", "P3"])
    assert 0 < applied < 500
    at = T0 + timedelta(days=12)
    picked = [PRODUCTS[1], PRODUCTS[3]]
    assert one.features_many("u2", picked, at, "s7") == ref.features_many("u2", picked, at, "s7")
    # with a valid snapshot it is restored whole instead
    warm_online_features(store, open_online_features(settings, PRODUCTS), "memory")
    whole = open_online_features(settings, PRODUCTS)
    warm_online_features_for(store, whole, "memory", "u2", ["P1"])
    assert _state(whole) == _state(ref)

"""Rebuild in-process online state from the event log when a service process starts.

With the embedded default (``online.type = "memory"``) the online features live in the process,
so a restart would serve quotes as if every shopper and product were new until events flowed
again. Replaying the stored event log restores exactly the state the process had (the online
state is a pure function of the events, idempotent by ``event_id``). With Redis the state
outlives the process and nothing is replayed.

A full replay of a large log takes long (most of a minute on the demo store), so after one the
state is persisted with the watermark it covers (:mod:`pricepilot.features.snapshot`), and the
next start loads it and replays only the events after the watermark: the same state, in a
fraction of the time. A single decision (``pricepilot price``) needs even less: without a usable
snapshot it replays only the events that touch what that quote reads (the shopper's, the
products' and the calendar's), which gives those keys exactly their full-replay values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pricepilot.clock import from_micros
from pricepilot.features.backends import MemoryBackend
from pricepilot.features.online import OnlineFeatures
from pricepilot.features.snapshot import SnapshotFile, Watermark, fingerprint, is_empty, restore
from pricepilot.store.base import Store

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("pricepilot.service")

_ORDER = ["ts", "event_id"]  # the replay order (events_frame's, made explicit)


def warm_online_features(store: Store, features: OnlineFeatures, online_type: str) -> int:
    """Learn every stored event, in time order, into memory features; returns events applied
    (from a valid snapshot: the events after its watermark)."""
    if online_type != "memory":
        return 0
    started = time.perf_counter()
    tail = _from_snapshot(store, features)
    if tail is not None:
        log.info("online features restored from %s and %d newer events in %.1f s",
                 features.snapshot.path if features.snapshot else "?", tail,
                 time.perf_counter() - started)
        return tail
    fresh = _snapshot_target(store, features)
    events = store.events_frame()
    if events.empty:
        return 0
    events = events.sort_values(_ORDER, kind="stable")
    applied = features.learn_many(events)
    if fresh is not None:
        _save(features, fresh, events)
    log.info("online features rebuilt from %d stored events in %.1f s",
             applied, time.perf_counter() - started)
    return applied


def warm_online_features_for(store: Store, features: OnlineFeatures, online_type: str,
                             user_id: str | None, product_ids: Sequence[str]) -> int:
    """The online state one quote of ``product_ids`` for ``user_id`` reads, as a full replay
    would leave it: a valid snapshot (and the events after it) when there is one, otherwise
    only the events that touch the shopper, those products or the calendar, in replay order
    (every update of an event falls on its own shopper, session, product or calendar day, so
    those keys get exactly the full replay's values; other keys stay incomplete). For one-off
    decisions (``pricepilot price``); a served process warms in full. Returns the events
    replayed (from a snapshot: those after its watermark)."""
    if online_type != "memory":
        return 0
    tail = _from_snapshot(store, features)
    if tail is not None:
        return tail
    import pandas as pd

    frames = [store.events_frame(product_id=p) for p in dict.fromkeys(product_ids)]
    frames.append(store.events_frame(types=["calendar"]))
    if user_id is not None:
        frames.append(store.events_frame(user_id=user_id))
    events = pd.concat([f for f in frames if not f.empty] or frames[:1], ignore_index=True)
    if events.empty:
        return 0
    events = events.drop_duplicates("event_id").sort_values(_ORDER, kind="stable")
    return features.learn_many(events)


def _snapshot_target(store: Store, features: OnlineFeatures) -> str | None:
    """The fingerprint to check or save ``store``'s snapshot with, when ``features`` can use
    one (snapshots are on and the memory state is still empty); None otherwise. Sets
    ``features.snapshot`` to the file."""
    backend = features.backend
    if features.snapshot_dir is None or not isinstance(backend, MemoryBackend) or not is_empty(backend):
        return None
    features.snapshot = SnapshotFile.for_store(features.snapshot_dir, store.url)
    if features.snapshot is None:
        return None
    return fingerprint(features.catalogue.values(), backend)


def _from_snapshot(store: Store, features: OnlineFeatures) -> int | None:
    """Restore ``features`` from its snapshot and the events after its watermark; returns how
    many of those were applied, or None (and leaves ``features`` untouched) when there is no
    snapshot that gives the full replay's state."""
    fp = _snapshot_target(store, features)
    if fp is None or features.snapshot is None:
        return None
    loaded = features.snapshot.load(fp)
    if loaded is None:
        return None
    wm = loaded.watermark
    tail = store.events_frame(since=from_micros(wm.ts))
    if not tail.empty:
        covered = (tail["ts"] < wm.ts) | ((tail["ts"] == wm.ts) & (tail["event_id"] <= wm.event_id))
        tail = tail[~covered].sort_values(_ORDER, kind="stable")
    total = store.count_events()
    if total != wm.count + len(tail):
        # an event arrived inside the covered range (late), or events were erased: only a full
        # replay gives the state in replay order
        log.info("online snapshot covers %d events; the store has %d, %d of them newer: "
                 "replaying the event log", wm.count, total, len(tail))
        return None
    assert isinstance(features.backend, MemoryBackend)  # _snapshot_target checked it
    restore(features.backend, loaded)
    if tail.empty:
        return 0
    applied = features.learn_many(tail)
    _save(features, fp, tail, covered_before=wm.count)
    return applied


def _save(features: OnlineFeatures, fp: str, events: pd.DataFrame, covered_before: int = 0) -> None:
    """Persist the state after replaying ``events`` (sorted; the last one is the watermark)."""
    if features.snapshot is None or not isinstance(features.backend, MemoryBackend):
        return
    last = events.iloc[-1]
    wm = Watermark(count=covered_before + len(events), ts=int(last["ts"]),
                   event_id=str(last["event_id"]))
    try:
        features.snapshot.save(features.backend, fingerprint=fp, watermark=wm)
    except OSError as e:  # a read-only data directory costs the next start a full replay only
        log.warning("online snapshot %s not written: %s", features.snapshot.path, e)

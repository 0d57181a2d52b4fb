"""Rebuild in-process online state from the event log when a service process starts.

With the embedded default (``online.type = "memory"``) the online features live in the process,
so a restart would serve quotes as if every shopper and product were new until events flowed
again. Replaying the stored event log restores exactly the state the process had (the online
state is a pure function of the events, idempotent by ``event_id``). With Redis the state
outlives the process and nothing is replayed.
"""

from __future__ import annotations

import logging
import time

from pricepilot.features.online import OnlineFeatures
from pricepilot.store.base import Store

log = logging.getLogger("pricepilot.service")


def warm_online_features(store: Store, features: OnlineFeatures, online_type: str) -> int:
    """Learn every stored event, in time order, into memory features; returns events applied."""
    if online_type != "memory":
        return 0
    started = time.perf_counter()
    events = store.events_frame()
    if events.empty:
        return 0
    events = events.sort_values(["ts", "event_id"], kind="stable")
    applied = features.learn_many(events)
    log.info("online features rebuilt from %d stored events in %.1f s",
             applied, time.perf_counter() - started)
    return applied

"""A persisted copy of the in-process online state, so a start replays only the newest events.

With the embedded default (``online.type = "memory"``) a process rebuilds its online features
from the stored event log (:mod:`pricepilot.serving.warmup`); on the demo store that replay
took most of a minute. After a replay the state is written (beside a SQLite store's file as
``<file>.online``, otherwise to ``<data_dir>/online/<hash>.msgpack``) together with the
**watermark** it covers: the number of
events and the last ``(ts, event_id)`` of the replay order. The next start loads it and replays
only the events after the watermark, in the same order, so the state is the one a full replay
gives, field for field (``tests/features/test_snapshot.py`` compares them).

It is used only when that holds: the file is ignored (and the log replayed in full) when

- the store's event count is not the covered count plus the events after the watermark (an
  event arrived late, inside the covered range, or events were erased);
- the catalogue's categories or list prices changed (an event's updates read them);
- the code that turns events into updates, or the backend's bounds, changed (``fingerprint``).

A shopper's erasure deletes the file (``OnlineFeatures.forget_user``): it held their
aggregates. Writes are atomic (:func:`pricepilot.fileio.atomic_write`); a file that cannot be
read is ignored and replaced by the next replay's. Nothing is persisted for Redis, whose state
outlives the process, nor for an in-memory SQLite store.

>>> import tempfile
>>> from pathlib import Path
>>> from pricepilot.features.backends import MemoryBackend
>>> f = SnapshotFile(Path(tempfile.mkdtemp()) / "s.msgpack")
>>> b = MemoryBackend()
>>> f.save(b, fingerprint="x", watermark=Watermark(count=0, ts=0, event_id=""))
>>> f.load("x") is not None, f.load("y") is None
(True, True)
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Iterable
from pathlib import Path

import msgspec

from pricepilot.catalog.models import Product
from pricepilot.features.backends import MemoryBackend
from pricepilot.features.state import Value
from pricepilot.fileio import atomic_write

log = logging.getLogger("pricepilot.features.snapshot")

FORMAT = 1


class Watermark(msgspec.Struct, frozen=True):
    """What a snapshot covers: ``count`` events, the last of them ``(ts, event_id)`` in the
    replay order (``ts`` then ``event_id``)."""

    count: int
    ts: int
    event_id: str


class _Payload(msgspec.Struct, frozen=True):
    format: int
    fingerprint: str
    watermark: Watermark
    hashes: dict[str, dict[str, Value]]
    seen: list[str]


class Loaded(msgspec.Struct, frozen=True):
    watermark: Watermark
    hashes: dict[str, dict[str, Value]]
    seen: list[str]


def fingerprint(products: Iterable[Product], backend: MemoryBackend) -> str:
    """What the replayed state depends on besides the events: the catalogue fields an event's
    updates read (category, list price), the code of those updates and of the memory backend,
    and the backend's bounds."""
    from pricepilot.features import backends, state

    h = hashlib.sha256()
    h.update(f"{FORMAT}|{backend.seen_capacity}|{backend.max_sessions}".encode())
    for mod in (state, backends):
        h.update(inspect.getsource(mod).encode())
    for p in sorted(products, key=lambda p: p.product_id):
        h.update(f"|{p.product_id}\x1f{p.category}\x1f{p.list_price}".encode())
    return h.hexdigest()


class SnapshotFile:
    """One store's snapshot file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def for_store(cls, data_dir: Path, database_url: str) -> SnapshotFile | None:
        """The snapshot file of the store at ``database_url``: beside a SQLite file
        (``<file>.online``), else ``<data_dir>/online/<hash of the URL>.msgpack``; None for an
        in-memory SQLite store (nothing outlives it)."""
        import sqlalchemy as sa

        url = sa.engine.make_url(database_url)
        if url.get_backend_name() == "sqlite":
            db = url.database or ""
            if db in ("", ":memory:") or db.startswith("file::memory:") or url.query.get("mode") == "memory":
                return None
            return cls(Path(db).with_name(Path(db).name + ".online"))
        key = hashlib.sha256(database_url.encode()).hexdigest()[:16]
        return cls(data_dir / "online" / f"{key}.msgpack")

    def load(self, expected_fingerprint: str) -> Loaded | None:
        """The snapshot when it exists, reads and was made with ``expected_fingerprint``."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            log.warning("online snapshot %s unreadable (%s); replaying the event log", self.path, e)
            return None
        try:
            p = msgspec.msgpack.decode(data, type=_Payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as e:
            log.warning("online snapshot %s is corrupt (%s); replaying the event log", self.path, e)
            return None
        if p.format != FORMAT or p.fingerprint != expected_fingerprint:
            log.info("online snapshot %s was made for another catalogue or code; replaying",
                     self.path)
            return None
        return Loaded(watermark=p.watermark, hashes=p.hashes, seen=p.seen)

    def save(self, backend: MemoryBackend, *, fingerprint: str, watermark: Watermark) -> None:
        """Write ``backend``'s state as covering ``watermark`` (atomically)."""
        payload = _Payload(format=FORMAT, fingerprint=fingerprint, watermark=watermark,
                           hashes=backend._h, seen=list(backend._seen))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, msgspec.msgpack.encode(payload))

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def is_empty(backend: MemoryBackend) -> bool:
    """Whether ``backend`` has learnt nothing yet (a snapshot can only replace such a state)."""
    return not backend._h and not backend._seen


def restore(backend: MemoryBackend, loaded: Loaded) -> None:
    """Put a loaded snapshot's state into an empty memory backend."""
    backend._h = loaded.hashes
    backend._seen = dict.fromkeys(loaded.seen)


__all__ = ["Loaded", "SnapshotFile", "Watermark", "fingerprint", "is_empty", "restore"]

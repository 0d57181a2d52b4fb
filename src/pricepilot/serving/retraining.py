"""Scheduled retraining: a new demand model every ``training.retrain_every_hours``, promoted only
when it beats the current one.

:class:`Retraining` is self-contained: built from the settings, the store, the model registry,
the application's clock and what reloads the model (``Learning.reload``). Call
:meth:`Retraining.run_if_due` from a background tick or a simulation's loop; when due it

1. builds the store's point-in-time training set
   (:func:`~pricepilot.features.training.training_set_from_store`);
2. trains, evaluates and registers a version with the one training pipeline
   (:func:`~pricepilot.demand.training.train_model`, thin-data rules included), of the current
   model's family (``lgbm`` without one);
3. with a current model, lets it be promoted only if it wins
   :func:`~pricepilot.demand.challenge.compare_with_current` (held-out log loss lower and AUC
   not worse, on views neither model saw); without one, the promotion rule alone decides;
4. reloads the model, and logs the reason either way; the manifest records it
   (``training_notes``, and ``promotion_note`` when it was not promoted).

**When it is due**, on the application's clock (simulated time works: inject a
:class:`~pricepilot.clock.FixedClock`): ``retrain_every_hours`` after the newest registered
version (whoever trained it: a shop's own ``train`` counts, and so does another process's retrain,
since the registry is shared) or after this object's last attempt, whichever is later. With
nothing registered it is due at once. An attempt that fails (no events yet, no purchase yet) is
retried after the period, or after :data:`COLD_RETRY` while no model is promoted: a fresh shop's
first model is worth the most, and a failed attempt costs one read of a small store. 0 hours:
never due. One retrain runs at a time per process (a lock) and per models directory (an
advisory file lock), so two workers do not train the same data twice.

>>> import tempfile
>>> from datetime import datetime, timezone
>>> from pricepilot.clock import FixedClock
>>> from pricepilot.config import load_settings
>>> from pricepilot.demand.registry import ModelRegistry
>>> from pricepilot.store.sql import open_store
>>> s = load_settings(None, env={}, overrides={"paths.data_dir": tempfile.mkdtemp()})
>>> clock = FixedClock(datetime(2026, 3, 2, tzinfo=timezone.utc))
>>> store = open_store(s, clock=clock); store.migrate()
>>> r = Retraining(s, store, ModelRegistry.from_settings(s, clock), clock)
>>> r.due(), r.run_if_due().promoted  # nothing to learn from yet: logged, retried later
(True, False)
>>> r.due()
False
>>> store.close()
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import msgspec
import pandas as pd

from pricepilot.clock import Clock
from pricepilot.config import Settings
from pricepilot.demand.challenge import compare_with_current
from pricepilot.demand.models import DemandEstimator
from pricepilot.demand.registry import ModelManifest, ModelRegistry
from pricepilot.errors import PricepilotError

log = logging.getLogger("pricepilot.serving.retraining")

COLD_RETRY = timedelta(hours=1)  # retry a failed attempt this soon while no model is promoted
LOCK_FILE = ".retrain.lock"


class TrainingStore(Protocol):
    """What the training set is read from (:class:`~pricepilot.store.sql.SqlStore`)."""

    def events_frame(self, *, since: Any = None, until: Any = None) -> pd.DataFrame: ...

    def shoppers_frame(self) -> pd.DataFrame: ...

    def list_products(self) -> Any: ...


class RetrainResult(msgspec.Struct, frozen=True, kw_only=True):
    """One scheduled attempt: the version registered (None when training failed), whether it
    was promoted, and why (what was logged)."""

    at: datetime
    version: str | None
    promoted: bool
    reason: str


class Retraining:
    """Retrains on a schedule and promotes only a version that beats the current one; see the
    module doc."""

    def __init__(self, settings: Settings, store: TrainingStore, registry: ModelRegistry,
                 clock: Clock, *, reload: Callable[[], None] | None = None,
                 before_read: Callable[[], object] | None = None, n_splits: int = 3) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.clock = clock
        self.reload = reload
        self.before_read = before_read  # e.g. flush buffered writes before reading the store
        self.n_splits = n_splits
        hours = settings.training.retrain_every_hours
        self.every: timedelta | None = timedelta(hours=hours) if hours > 0 else None
        self.last: RetrainResult | None = None
        self._attempted: datetime | None = None
        self._failed = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ schedule
    def next_due(self) -> datetime | None:
        """When the next retrain is due (None: scheduling is off)."""
        if self.every is None:
            return None
        newest = self._newest_registered()
        if self._attempted is not None and (newest is None or self._attempted >= newest):
            wait = self.every
            if self._failed and self.registry.current_version() is None:
                wait = min(wait, COLD_RETRY)
            return self._attempted + wait
        return None if newest is None else newest + self.every

    def due(self, now: datetime | None = None) -> bool:
        if self.every is None:
            return False
        at = self.next_due()
        return at is None or (now or self.clock.now()) >= at

    def _newest_registered(self) -> datetime | None:
        try:
            manifests = self.registry.list()
        except PricepilotError:  # an unreadable manifest: schedule from our own attempts
            log.exception("model registry unreadable; retraining follows its own schedule")
            return None
        return datetime.fromisoformat(manifests[-1].created_at) if manifests else None

    # ------------------------------------------------------------------ running
    def run_if_due(self) -> RetrainResult | None:
        """Retrain if due (and no other retrain is running); returns what happened, or None."""
        if not self.due():
            return None
        if not self._lock.acquire(blocking=False):
            return None
        try:
            with _file_lock(self.registry.root) as held:
                if not held or not self.due():  # another process is at it, or just was
                    return None
                return self._run()
        finally:
            self._lock.release()

    def run(self) -> RetrainResult:
        """Retrain now, whatever the schedule."""
        with self._lock:
            return self._run()

    def _run(self) -> RetrainResult:
        from pricepilot.demand.training import train_model
        from pricepilot.features.training import training_set_from_store

        now = self.clock.now()
        self._attempted = now
        current = self.registry.current_version()
        family = "lgbm"
        compare = None
        if current is not None:
            try:
                manifest = self.registry.manifest(current)
                family = manifest.family
                compare = _challenger(self.registry.get(current), manifest)
            except PricepilotError as e:  # a broken current artefact: the new one may replace it
                log.warning("current model %s unreadable (%s); a retrained one may replace it",
                            current, e)
        try:
            if self.before_read is not None:
                self.before_read()
            frame = training_set_from_store(self.store, self.settings)
            trained = train_model(frame, self.settings, family=family, n_splits=self.n_splits,
                                  promote=True, registry=self.registry, compare=compare)
        except Exception as e:  # no data yet, a store outage, a bug: logged, tried again later
            self._failed = True
            result = RetrainResult(at=now, version=None, promoted=False,
                                   reason=f"scheduled retrain failed: {e}")
            if isinstance(e, PricepilotError):
                log.warning("%s", result.reason)
            else:
                log.exception("%s", result.reason)
            self.last = result
            return result
        self._failed = False
        promoted = self.registry.current_version() == trained.version
        if self.reload is not None:
            self.reload()
        result = RetrainResult(at=now, version=trained.version, promoted=promoted,
                               reason=_reason(trained, promoted, current))
        log.log(logging.INFO if promoted else logging.WARNING, "scheduled retrain: %s",
                result.reason)
        self.last = result
        return result


def _challenger(current: DemandEstimator, manifest: ModelManifest) -> Callable[
        [DemandEstimator, pd.DataFrame, Mapping[str, Any]], tuple[str | None, list[str]]]:
    """The comparison :func:`train_model` asks before registering: the new recipe against the
    current model on the views the current model never saw."""

    def compare(model: DemandEstimator, frame: pd.DataFrame,
                params: Mapping[str, Any]) -> tuple[str | None, list[str]]:
        c = compare_with_current(current, manifest.data.ts_max, model.family, params, frame)
        return c.refusal, [f"scheduled retrain against {manifest.version}: {c.note}"]

    return compare


def _reason(m: ModelManifest, promoted: bool, current: str | None) -> str:
    compared = [n for n in m.training_notes if n.startswith("scheduled retrain against")]
    said = compared[-1].split(": ", 1)[-1].removeprefix("promoted: ") if compared else None
    if promoted:
        return (f"{m.version} promoted (replacing {current}): {said}" if said and current
                else f"{m.version} promoted: no current model to compare with")
    return f"{m.version} registered, not promoted: {m.promotion_note or said}"


@contextlib.contextmanager
def _file_lock(root: Path) -> Iterator[bool]:
    """An advisory lock on ``<models_dir>/.retrain.lock``: yields whether it was taken (never
    blocks). Released when the holder's process ends, so a crash leaves no stale lock."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the in-process lock alone
        yield True
        return
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


__all__ = ["COLD_RETRY", "RetrainResult", "Retraining"]

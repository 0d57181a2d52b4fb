"""What live learning has learnt, kept across restarts: one file per model version.

The service's demand posteriors (``pricing.posterior.DemandPosterior``, one per model version)
live in memory; without this a restart or a deploy would start every product again from the
prior and forget hours of outcomes. :class:`PosteriorFiles` writes each version's posterior to
``<data_dir>/posteriors/<version>.json`` after learning, at most every ``save_seconds`` (and at
shutdown), and reads it back when that version is next loaded.

Writes are atomic (a temporary file in the same directory, then ``os.replace``): a crash
leaves the previous file or the new one, never half of one. A file that cannot be read back
(corrupt, hand-edited, from a newer format) is renamed to ``<version>.json.corrupt-<n>`` —
kept for inspection, never overwritten — and that version starts from the prior, logged; the
service does not fail on it.

>>> import tempfile
>>> from pricepilot.pricing.posterior import Outcome
>>> files = PosteriorFiles(tempfile.mkdtemp(), save_seconds=0)
>>> post = files.load("v1")
>>> post.learn_one(Outcome(product_id="A", category="c", price=900, list_price=999,
...                        model_prob=0.3, purchased=True))
>>> files.learnt("v1", post)
True
>>> files.load("v1").counts_[("A", 900)]
[1.0, 1.0]
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pricepilot.demand.registry import VERSION_RE
from pricepilot.errors import ValidationError
from pricepilot.fileio import atomic_write
from pricepilot.pricing.posterior import DemandPosterior

log = logging.getLogger("pricepilot.service.posterior")


class PosteriorFiles:
    """Loads and saves the posterior of each model version under ``directory``.

    ``save_seconds``: the least time between two saves of one version after learning
    (0: after every learning pass). :meth:`learnt` is called by the learner's thread after each
    pass; :meth:`save_pending` at shutdown writes what the last passes learnt.
    """

    def __init__(self, directory: str | os.PathLike[str], save_seconds: float = 30.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.directory = Path(directory)
        self.save_seconds = save_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._saved_at: dict[str, float] = {}
        self._dirty: dict[str, DemandPosterior] = {}
        # what /readyz reports: saves and failed saves, the last failure, what was restored
        self.saves = 0
        self.failures = 0
        self.last_error: str | None = None  # of the latest save, None once one succeeds
        self.restored: dict[str, int] = {}  # version -> products restored at its load

    def path(self, version: str) -> Path:
        if not VERSION_RE.match(version):
            raise ValidationError("model version", None, f"{version!r} is not a version name")
        return self.directory / f"{version}.json"

    def load(self, version: str) -> DemandPosterior:
        """The saved posterior of ``version``, or a fresh one (none saved, or unreadable)."""
        path = self.path(version)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return DemandPosterior()
        try:
            post = DemandPosterior.from_bytes(data)
        except ValidationError as e:
            kept = self._set_aside(path)
            log.error("posterior of model %s unreadable (%s); starting from the prior, the file "
                      "is kept as %s", version, e, kept.name)
            return DemandPosterior()
        log.info("posterior of model %s restored: %d products, %d categories", version,
                 len(post.products_), len(post.categories_))
        self.restored[version] = len(post.products_)
        return post

    def learnt(self, version: str, posterior: DemandPosterior, n: int = 1) -> bool:
        """After a learning pass that learnt ``n`` outcomes (the learner calls it every pass,
        0 included): save now if ``save_seconds`` have passed since the last save of this
        version, else keep it for a later pass or shutdown. True if saved."""
        now = self._monotonic()
        with self._lock:
            if n <= 0 and version not in self._dirty:
                return False
            last = self._saved_at.get(version)
            if last is not None and now - last < self.save_seconds:
                self._dirty[version] = posterior
                return False
            self._dirty.pop(version, None)
            self._saved_at[version] = now
        try:
            self.save(version, posterior)
        except OSError:
            with self._lock:  # not saved: due again on the next pass
                self._saved_at.pop(version, None)
                self._dirty.setdefault(version, posterior)
            raise
        return True

    def save_pending(self) -> int:
        """Write every posterior learnt from since its last save; returns how many."""
        with self._lock:
            pending, self._dirty = self._dirty, {}
        for version, posterior in pending.items():
            self.save(version, posterior)
        return len(pending)

    def save(self, version: str, posterior: DemandPosterior) -> None:
        path = self.path(version)
        data = posterior.to_bytes()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
        except OSError as e:
            self.failures += 1
            self.last_error = f"{type(e).__name__}: {e}"
            raise
        self.saves += 1
        self.last_error = None

    def status(self) -> tuple[bool, str]:
        """(whether the latest save succeeded, a one-line summary) for the readiness report."""
        restored = ", ".join(f"{v}: {n} products" for v, n in self.restored.items()) or "nothing"
        detail = f"{self.saves} saved, {self.failures} failed; restored {restored}"
        if self.last_error is not None:
            detail += f"; last save failed: {self.last_error}"
        return self.last_error is None, detail

    @staticmethod
    def _set_aside(path: Path) -> Path:
        n = 1
        while (kept := path.with_name(f"{path.name}.corrupt-{n}")).exists():
            n += 1
        os.replace(path, kept)
        return kept


__all__ = ["PosteriorFiles"]

"""A background tick: call a function every ``interval`` seconds (or at once when woken) on a
daemon thread until closed. A failing call is logged by ``on_error`` and the next tick tries
again, so a dependency outage never kills the worker.

>>> import threading
>>> done = threading.Event()
>>> t = Ticker("doc", 0.01, done.set, lambda: None)
>>> done.wait(5)
True
>>> t.close()
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Ticker:
    def __init__(self, name: str, interval: float, fn: Callable[[], object],
                 on_error: Callable[[], None]) -> None:
        self.interval = interval
        self._fn = fn
        self._on_error = on_error
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Run the next tick now."""
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop: a tick under way finishes, no new one starts (an owner that needs a last
        flush makes it itself, after this)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                # woken to stop: not one more tick (a retrain tick would start a training the
                # closing process then waits 5 s for and abandons)
                return
            try:
                self._fn()
            except Exception:  # logged by the owner; the next tick tries again
                self._on_error()

"""Runtime: where use cases run when called from an event loop, and the periodic work.

Quotes are decided on one quote thread (the pricing engine's random state and caches are used
by one thread) within ``service.quote_deadline_ms``; every other call's store and ledger I/O runs
on a pool of ``service.write_threads`` within ``service.write_deadline_ms``. A dependency that
accepts a connection and never answers then costs a 503, never a frozen worker. A dependency's
own connection errors become :class:`~pricepilot.errors.Unavailable`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pricepilot.config import Settings
from pricepilot.errors import DeadlineExceeded, PricepilotError, Unavailable
from pricepilot.serving.quote_thread import QuoteThread
from pricepilot.store.errors import connection_error

T = TypeVar("T")


def quote_thread_on(settings: Settings) -> bool:
    """Whether quotes are decided on the quote thread (``service.quote_thread``, see config)."""
    mode = settings.service.quote_thread
    if mode != "auto":
        return mode == "on"
    return not settings.database_url.startswith("sqlite") or settings.online.type == "redis"


class Runtime:
    def __init__(self, settings: Settings) -> None:
        deadline_ms = settings.service.quote_deadline_ms
        self.quote_deadline = deadline_ms / 1000
        self._quote_thread = QuoteThread() if deadline_ms and quote_thread_on(settings) else None
        write_ms = settings.service.write_deadline_ms
        self.write_deadline = write_ms / 1000
        self._executor = (ThreadPoolExecutor(settings.service.write_threads,
                                             thread_name_prefix="pricepilot-write")
                          if write_ms else None)

    async def decide(self, fn: Callable[[Any], T], arg: Any) -> T:
        """``fn(arg)`` on the quote thread within the quote deadline (inline without one)."""
        if self._quote_thread is None:
            return fn(arg)
        try:
            return await self._quote_thread.call(fn, arg, self.quote_deadline)
        except TimeoutError:
            raise Unavailable("quote engine",
                              f"no decision within {self.quote_deadline * 1000:.0f} ms") from None

    async def io(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` (store, ledger or registry I/O) on the write pool, within the deadline.

        Past ``service.write_deadline_ms`` the caller gets :class:`DeadlineExceeded` (503 +
        Retry-After). A call still queued then is cancelled; one already running finishes on
        its thread, so its write may still land: every write is idempotent (events by
        ``event_id``, orders by ``order_id``), so the client's retry is safe.
        """
        if self._executor is None:
            return infra_errors(what, fn, *args)
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, infra_errors, what, fn, *args)
        try:
            return await asyncio.wait_for(future, self.write_deadline)
        except TimeoutError:
            raise DeadlineExceeded(what, round(self.write_deadline * 1000)) from None

    def close(self) -> None:
        if self._quote_thread is not None:
            self._quote_thread.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def infra_errors(what: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, with a dependency's own connection errors turned into :class:`Unavailable`.

    The stores already raise ``Unavailable`` for a lost PostgreSQL connection; this catches what
    reaches the use case raw (a Redis client error, SQLite's "database is locked", a socket
    error), so an outage is a 503 with Retry-After and never a 500. Anything else is a bug.
    """
    try:
        return fn(*args)
    except PricepilotError:
        raise
    except (OSError, TimeoutError) as e:  # ConnectionError, socket timeouts
        raise Unavailable(what, f"{type(e).__name__}: {e}") from e
    except Exception as e:
        down = connection_error(what, e)  # a database driver's (SQLite: "database is locked")
        if down is not None:
            raise down from e
        if type(e).__module__.split(".")[0] == "redis":  # redis.RedisError and its subclasses
            raise Unavailable("redis", f"{what}: {type(e).__name__}: {e}") from e
        raise

"""One thread that decides quotes in order, answering on the caller's event loop with a deadline.

The engines read the database synchronously; run on the event loop, a dependency that accepts a
connection and never answers would freeze the worker. Quotes therefore run here, and the caller
waits at most a deadline (then serves the guarded fallback; the stuck decision ends on this
thread, and later quotes queue behind it, as with a one-thread executor).

This is what ``ThreadPoolExecutor(1)`` + ``run_in_executor`` + ``asyncio.wait_for`` did, with
less machinery per call (no work-item and wrapper futures, no wait_for task; the deadline is one
timer on the loop): ~0.1 ms less CPU per quote measured (docs/benchmarks/serve.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_STOP = object()


def _settle(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # timed out or cancelled meanwhile: nobody waits for this answer
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def _expire(fut: asyncio.Future[Any]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class QuoteThread:
    """A daemon thread running submitted calls one at a time; see the module docstring."""

    def __init__(self, name: str = "pricepilot-quote") -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[[Any], T], arg: Any, deadline: float) -> T:
        """``fn(arg)`` on the thread; :class:`TimeoutError` if no answer within ``deadline`` s."""
        if self._closed:
            raise RuntimeError("the quote thread is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._queue.put((loop, fut, fn, arg))
        timer = loop.call_later(deadline, _expire, fut)
        try:
            return await fut
        finally:
            timer.cancel()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            loop, fut, fn, arg = item
            if fut.done():  # expired or cancelled before it started: skip it
                continue
            try:
                result = (True, fn(arg))
            except BaseException as e:  # handed to the caller, whatever it is
                result = (False, e)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, fut, *result)

    def close(self) -> None:
        """Stop after the running call; queued calls are cancelled. Does not wait."""
        if self._closed:
            return
        self._closed = True
        pending = []
        with contextlib.suppress(queue.Empty):
            while True:
                pending.append(self._queue.get_nowait())
        self._queue.put(_STOP)
        for item in pending:
            if item is _STOP:
                continue
            loop, fut, _, _ = item
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(fut.cancel)

"""The quote thread: answers on the caller's loop, in order, within a deadline."""

from __future__ import annotations

import asyncio
import threading

import pytest

from pricepilot.serving.quote_thread import QuoteThread


def test_calls_run_on_one_other_thread_in_order_and_return_their_value() -> None:
    qt = QuoteThread()
    seen: list[tuple[int, str]] = []

    def work(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * 2

    async def main() -> list[int]:
        return list(await asyncio.gather(*(qt.call(work, i, 5.0) for i in range(20))))

    try:
        assert asyncio.run(main()) == [i * 2 for i in range(20)]
    finally:
        qt.close()
    assert [i for i, _ in seen] == list(range(20))
    assert {name for _, name in seen} == {"pricepilot-quote"}


def test_an_exception_reaches_the_caller_and_the_thread_goes_on() -> None:
    qt = QuoteThread()

    def boom(_: object) -> None:
        raise ValueError("database says no")

    async def main() -> int:
        with pytest.raises(ValueError, match="database says no"):
            await qt.call(boom, None, 5.0)
        return await qt.call(lambda x: x + 1, 1, 5.0)

    try:
        assert asyncio.run(main()) == 2
    finally:
        qt.close()


def test_a_call_past_its_deadline_raises_timeout_and_later_calls_queue_behind_it() -> None:
    qt = QuoteThread()
    release = threading.Event()

    def hang(_: object) -> str:
        release.wait(10)
        return "late"

    async def main() -> str:
        with pytest.raises(TimeoutError):
            await qt.call(hang, None, 0.05)
        # the stuck call still holds the thread: the next one waits for it, then runs
        nxt = asyncio.ensure_future(qt.call(lambda x: x, "next", 5.0))
        await asyncio.sleep(0.05)
        assert not nxt.done()
        release.set()
        return await nxt

    try:
        assert asyncio.run(main()) == "next"
    finally:
        qt.close()


def test_close_cancels_queued_calls_and_refuses_new_ones() -> None:
    qt = QuoteThread()
    release = threading.Event()
    ran: list[str] = []

    async def main() -> None:
        first = asyncio.ensure_future(qt.call(lambda _: release.wait(10), None, 5.0))
        queued = asyncio.ensure_future(qt.call(lambda _: ran.append("queued"), None, 5.0))
        await asyncio.sleep(0.05)
        qt.close()
        with pytest.raises(asyncio.CancelledError):
            await queued
        release.set()
        await first
        with pytest.raises(RuntimeError, match="closed"):
            await qt.call(lambda x: x, 1, 1.0)

    asyncio.run(main())
    assert ran == []


def test_quotes_leave_the_event_loop_only_when_they_wait_on_the_network() -> None:
    from pricepilot.config import load_settings
    from pricepilot.serving.runtime import quote_thread_on

    def on(**overrides: object) -> bool:
        return quote_thread_on(load_settings(path=None, env={}, overrides=overrides))

    assert not on()  # embedded default: SQLite and in-process features
    assert on(**{"store.type": "postgresql", "store.url": "postgresql+psycopg://db/x"})
    assert on(**{"online.type": "redis"})
    assert on(**{"service.quote_thread": "on"})
    assert not on(**{"service.quote_thread": "off", "online.type": "redis"})

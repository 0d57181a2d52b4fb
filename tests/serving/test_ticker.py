"""The background tick: closing it never starts one more tick (a closing ``serve`` probe used to
start a scheduled retrain and wait 5 s for it), and owners flush what they hold themselves."""

from __future__ import annotations

import threading
import time

from pricepilot.serving.ticker import Ticker


def test_closing_a_ticker_waiting_for_its_next_tick_does_not_run_it() -> None:
    calls: list[float] = []
    t = Ticker("test", 60.0, lambda: calls.append(time.monotonic()), lambda: None)
    started = time.monotonic()
    t.close()
    assert calls == []
    assert time.monotonic() - started < 1.0  # no tick to wait for


def test_a_woken_ticker_runs_at_once_and_a_tick_under_way_finishes_on_close() -> None:
    running, release = threading.Event(), threading.Event()
    done: list[bool] = []

    def tick() -> None:
        running.set()
        release.wait(5)
        done.append(True)

    t = Ticker("test", 60.0, tick, lambda: None)
    t.wake()
    assert running.wait(5)
    closer = threading.Thread(target=t.close)
    closer.start()
    release.set()
    closer.join(5)
    assert done == [True]

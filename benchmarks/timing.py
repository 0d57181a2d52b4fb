"""Per-call timing for the in-process benchmarks: wall clock and this thread's CPU time.

On a shared machine the wall clock includes waiting for a core; the thread's CPU time is the
work itself. Both come back as arrays of milliseconds, one value per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def time_calls(fn: Callable[[], object], n: int, warmup: int) -> tuple[np.ndarray, np.ndarray]:
    """(wall ms, CPU ms) of ``n`` calls of ``fn``, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    wall = np.empty(n)
    cpu = np.empty(n)
    for i in range(n):
        c = time.thread_time_ns()
        t = time.perf_counter_ns()
        fn()
        wall[i] = time.perf_counter_ns() - t
        cpu[i] = time.thread_time_ns() - c
    return wall / 1e6, cpu / 1e6

"""Point-in-time training-set build throughput on a synthetic event log.

Prints the median of --repeat builds (events/s and views/s) and the command that reproduces it.

    PYTHONPATH=src python benchmarks/training_set.py --events 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import pyarrow as pa

from pricepilot.features.synthetic import synthetic_log
from pricepilot.features.training import build_training_set


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--arrow", action="store_true", help="pass a pyarrow Table, not pandas")
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: default)")
    ap.add_argument("--memory-limit", default=None, help='DuckDB memory limit, e.g. "6GB"')
    args = ap.parse_args()

    t = time.perf_counter()
    log = synthetic_log(args.events, days=args.days, seed=42)
    gen = time.perf_counter() - t
    events: object = log.events
    n = len(log.events)
    if args.arrow:
        # Arrow holds the strings in flat buffers: far less memory than pandas objects
        events = pa.Table.from_pandas(log.events, preserve_index=False)
        log.events = log.events.iloc[:0]
    times = []
    rows = 0
    for _ in range(args.repeat):
        t = time.perf_counter()
        frame = build_training_set(events, log.products, log.shoppers,  # type: ignore[arg-type]
                                   threads=args.threads or None,
                                   memory_limit=args.memory_limit)
        times.append(time.perf_counter() - t)
        rows = len(frame)
        del frame
    med = statistics.median(times)
    print(f"command: PYTHONPATH=src {sys.executable} {' '.join(sys.argv)}")
    print(f"events: {n:,}  views (rows): {rows:,}  users: {len(log.shoppers):,}  "
          f"products: {len(log.products):,}  days: {args.days}  (generated in {gen:.1f} s)")
    print(f"build times (s): {', '.join(f'{x:.2f}' for x in times)}")
    print(f"median: {med:.2f} s  ->  {n / med:,.0f} events/s, {rows / med:,.0f} rows/s")


if __name__ == "__main__":
    main()

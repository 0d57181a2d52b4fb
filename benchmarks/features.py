"""Online feature state: learn throughput and read latency, memory vs Redis side by side.

Learns a synthetic log, then times ``features_for`` (one product) and ``features_many`` (one
shopper x 100 products, the page of a quote) for random shoppers. Prints medians and p95, and
the command that reproduces them. Redis is skipped when it is not reachable.

    PYTHONPATH=src python benchmarks/features.py --events 200000 --reads 2000
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid

from pricepilot.features.backends import FeatureBackend, MemoryBackend, RedisBackend
from pricepilot.features.online import OnlineFeatures
from pricepilot.features.synthetic import synthetic_log


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run(name: str, backend: FeatureBackend, log: object, reads: int) -> None:
    lg = log  # SyntheticLog
    state = OnlineFeatures(backend, lg.products)  # type: ignore[attr-defined]
    for s in lg.shopper_records().values():  # type: ignore[attr-defined]
        state.set_shopper(s)
    events = lg.events  # type: ignore[attr-defined]
    rows = events.to_dict("records")
    t = time.perf_counter()
    state.learn_many(rows)
    learn_many_s = time.perf_counter() - t
    # learn_one on a slice, fresh ids so none is a duplicate
    sample = [dict(r, event_id=f"x{i}") for i, r in enumerate(rows[:20_000])]
    t = time.perf_counter()
    for r in sample:
        state.learn_one(r)
    learn_one_s = (time.perf_counter() - t) / len(sample)

    rng = random.Random(0)
    users = list(lg.shoppers["user_id"])  # type: ignore[attr-defined]
    products = lg.products  # type: ignore[attr-defined]
    at = int(events["ts"].max()) + 1
    one, page = [], []
    for _ in range(reads):
        u = rng.choice(users)
        p = rng.choice(products)
        t = time.perf_counter()
        state.features_for(u, p, at, session_id="S1")
        one.append(time.perf_counter() - t)
    for _ in range(max(1, reads // 10)):
        u = rng.choice(users)
        chosen = rng.sample(products, 100)
        t = time.perf_counter()
        state.features_many(u, chosen, at, session_id="S1")
        page.append(time.perf_counter() - t)
    print(f"[{name}] learn_many: {len(rows) / learn_many_s:,.0f} events/s   "
          f"learn_one: {1 / learn_one_s:,.0f} events/s ({learn_one_s * 1e6:.0f} us/event)")
    print(f"[{name}] features_for 1 product:   median {statistics.median(one) * 1e6:7.0f} us   "
          f"p95 {pct(one, 0.95) * 1e6:7.0f} us   ({len(one)} reads)")
    print(f"[{name}] features_many 100 products: median {statistics.median(page) * 1e3:6.2f} ms   "
          f"p95 {pct(page, 0.95) * 1e3:6.2f} ms   ({len(page)} reads, one round trip each)")
    state.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--reads", type=int, default=2_000)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = ap.parse_args()
    log = synthetic_log(args.events, days=90, seed=7, n_products=500)
    print(f"command: PYTHONPATH=src {sys.executable} {' '.join(sys.argv)}")
    print(f"events: {len(log.events):,}  users: {len(log.shoppers):,}  "
          f"products: {len(log.products):,}")
    run("memory", MemoryBackend(), log, args.reads)
    prefix = f"ppbench:{uuid.uuid4().hex[:8]}:"
    try:
        import redis

        r = redis.Redis.from_url(args.redis_url, socket_connect_timeout=2)
        r.ping()
    except Exception as e:  # redis down or not installed: report and skip
        print(f"[redis] skipped: {e}")
        return
    try:
        run("redis", RedisBackend(args.redis_url, prefix=prefix), log, args.reads)
    finally:
        keys = list(r.scan_iter(match=prefix + "*", count=10_000))
        for i in range(0, len(keys), 10_000):
            r.delete(*keys[i:i + 10_000])
        r.close()


if __name__ == "__main__":
    main()

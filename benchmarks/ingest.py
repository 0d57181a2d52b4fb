"""Ingestion throughput: Parquet file -> validated, cleaned, pseudonymised -> SQLite / PostgreSQL.

Generates N synthetic valid events (default 1,000,000: views, carts, purchases, competitor
prices, inventory) into a Parquet file in a temporary directory, then ingests it end to end with
``ingest_event_files`` (validation included) into a fresh SQLite file and a fresh PostgreSQL
schema, several times each, and prints the median events/s (wall clock), and events per CPU
second of this process (steadier on a shared machine; for PostgreSQL the server's CPU is not
included).

    PYTHONPATH=src python benchmarks/ingest.py [--events 1000000] [--runs 3] [--no-postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock
from pricepilot.config import load_settings
from pricepilot.events.ingest import ingest_event_files
from pricepilot.store import open_store

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
N_PRODUCTS = 2_000


def generate(path: Path, n: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    types = rng.choice(
        np.array(["view", "add_to_cart", "purchase", "competitor_price", "inventory"]),
        size=n, p=[0.80, 0.08, 0.04, 0.05, 0.03],
    )
    products = np.char.add("SKU-", rng.integers(0, N_PRODUCTS, n).astype(str))
    customers = np.char.add("cust-", rng.integers(0, 100_000, n).astype(str))
    cents = rng.integers(500, 20_000, n)
    price = [f"{c // 100}.{c % 100:02d}" for c in cents.tolist()]
    ts = (np.datetime64("2026-02-01T00:00:00", "us")
          + rng.integers(0, 27 * 86_400 * 10**6, n).astype("timedelta64[us]"))
    is_t = {t: types == t for t in ("view", "add_to_cart", "purchase", "competitor_price",
                                   "inventory")}
    user = ~(is_t["competitor_price"] | is_t["inventory"])
    priced = ~is_t["inventory"]

    def masked(values: object, mask: np.ndarray, typ: pa.DataType = pa.string()) -> pa.Array:
        return pa.array(values, typ, mask=~mask)

    table = pa.table({
        "event_id": pa.array([f"ev-{i:09d}" for i in range(n)]),
        "type": pa.array(types),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "customer_id": masked(customers, user),
        "product_id": pa.array(products),
        "session_id": masked(np.char.add("s-", rng.integers(0, 300_000, n).astype(str)), user),
        "order_id": masked(np.char.add("o-", np.arange(n).astype(str)), is_t["purchase"]),
        "quantity": masked(rng.integers(1, 4, n), is_t["add_to_cart"] | is_t["purchase"],
                           pa.int64()),
        "price": masked(price, priced),
        "currency": masked(np.full(n, "EUR"), priced),
        "competitor": masked(np.full(n, "acme"), is_t["competitor_price"]),
        "on_promotion": masked(rng.random(n) < 0.2, is_t["competitor_price"], pa.bool_()),
        "stock": masked(rng.integers(0, 500, n), is_t["inventory"], pa.int64()),
        "channel": masked(np.full(n, "web"), is_t["view"]),
        "device": masked(rng.choice(np.array(["mobile", "desktop"]), n), is_t["view"]),
    })
    pq.write_table(table, path)


def catalogue() -> list[Product]:
    return [Product(product_id=f"SKU-{i}", title=f"Product {i}", category="c",
                    currency="EUR", unit_cost=300, list_price=20_000) for i in range(N_PRODUCTS)]


def run(url: str, path: Path, settings_dir: Path) -> tuple[float, float, int]:
    settings = load_settings(None, env={}, overrides={"paths.data_dir": str(settings_dir)})
    store = open_store(url)
    store.migrate()
    store.upsert_products(catalogue())
    t, cpu = time.perf_counter(), time.process_time()
    report = ingest_event_files(store, [path], settings,
                                clock=FixedClock(T0 + timedelta(days=1)))
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    store.close()
    return seconds, cpu, report.inserted


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    import sqlalchemy as sa

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = d / "events.parquet"
        t = time.perf_counter()
        generate(path, args.events)
        print(f"generated {args.events:,} events in {time.perf_counter() - t:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB Parquet)")
        results: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        cpu_rates: dict[str, list[float]] = {"sqlite": [], "postgresql": []}

        def show(backend: str, i: int, secs: float, cpu: float) -> None:
            results[backend].append(args.events / secs)
            cpu_rates[backend].append(args.events / cpu)
            print(f"{backend:<10} run {i + 1}: {secs:6.2f} s wall {args.events / secs:>10,.0f} "
                  f"events/s | {cpu:6.2f} s client CPU {args.events / cpu:>10,.0f} events/CPU-s")

        for i in range(args.runs):
            secs, cpu, n = run(f"sqlite:///{d / f'run{i}.sqlite'}", path, d)
            assert n == args.events, n
            show("sqlite", i, secs, cpu)
            (d / f"run{i}.sqlite").unlink()
            if args.no_postgres:
                continue
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(PG_URL)
            with admin.begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            try:
                secs, cpu, n = run(f"{PG_URL}?options=-csearch_path%3D{schema}", path, d)
                assert n == args.events, n
                show("postgresql", i, secs, cpu)
            finally:
                with admin.begin() as c:
                    c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
        print()
        for backend, rates in results.items():
            if rates:
                print(f"median {backend:<10}: {statistics.median(rates):>10,.0f} events/s wall, "
                      f"{statistics.median(cpu_rates[backend]):>10,.0f} events per client "
                      f"CPU-second, over {len(rates)} runs of {args.events:,} events")
        print(f"reproduce: PYTHONPATH=src {Path(sys.executable).name} benchmarks/ingest.py "
              f"--events {args.events} --runs {args.runs}"
              + (" --no-postgres" if args.no_postgres else ""))


if __name__ == "__main__":
    main()

"""Ingestion throughput: Parquet file -> validated, cleaned, pseudonymised -> SQLite / PostgreSQL.

Generates N synthetic valid events (default 1,000,000: views, carts, purchases, competitor
prices, inventory) into a Parquet file in a temporary directory, then ingests it end to end with
``ingest_event_files`` (validation included) into a fresh SQLite file and a fresh PostgreSQL
schema, several times each, and prints the median events/s (wall clock), and events per CPU
second of this process (steadier on a shared machine; for PostgreSQL the server's CPU is not
included).

    PYTHONPATH=src python benchmarks/ingest.py [--events 1000000] [--runs 3]
        [--backends sqlite,postgresql] [--variants default,pipeline]

Variants run alternately in the same invocation, so they see the same machine load; the
1-minute load average is printed beside every figure.
"""

from __future__ import annotations

import argparse
import os
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


# Named variants compared side by side in the same invocation: settings overrides, and extra
# SQLite pragmas run on every new connection after the store's own (so they override them).
VARIANTS: dict[str, tuple[dict[str, object], tuple[str, ...]]] = {
    "default": ({}, ()),
    "pipeline": ({"ingest.pipeline": True}, ()),  # insert on a thread, overlapping validation
    "temp-memory": ({}, ("temp_store=MEMORY",)),  # the setting before 2026-11-29
    "temp-file": ({}, ("temp_store=FILE",)),
    "temp-file-threads0": ({}, ("temp_store=FILE", "threads=0")),
    "threads0": ({}, ("threads=0",)),
    "cache256m": ({}, ("cache_size=-262144",)),
}


def run(url: str, path: Path, settings_dir: Path,
        variant: tuple[dict[str, object], tuple[str, ...]]) -> tuple[float, float, int]:
    import sqlalchemy as sa

    overrides, pragmas = variant
    settings = load_settings(None, env={},
                             overrides={"paths.data_dir": str(settings_dir), **overrides})
    store = open_store(url)
    if pragmas and store.dialect == "sqlite":
        @sa.event.listens_for(store.engine, "connect")
        def _pragmas(dbapi_conn: object, _rec: object) -> None:
            for p in pragmas:
                dbapi_conn.execute(f"PRAGMA {p}")  # type: ignore[attr-defined]

    store.migrate()
    store.upsert_products(catalogue())
    t, cpu = time.perf_counter(), time.process_time()
    report = ingest_event_files(store, [path], settings,
                                clock=FixedClock(T0 + timedelta(days=1)))
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    store.close()
    return seconds, cpu, report.inserted


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} CPUs"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backends", default="sqlite,postgresql",
                    help="comma-separated: sqlite, postgresql")
    ap.add_argument("--variants", default="default",
                    help=f"comma-separated, run alternately: {', '.join(VARIANTS)}")
    ap.add_argument("--no-postgres", action="store_true", help="same as --backends sqlite")
    args = ap.parse_args()
    import sqlalchemy as sa

    backends = ["sqlite"] if args.no_postgres else args.backends.split(",")
    variants = args.variants.split(",")
    for name in variants:
        if name not in VARIANTS:
            ap.error(f"unknown variant {name!r}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = d / "events.parquet"
        t = time.perf_counter()
        generate(path, args.events)
        print(f"generated {args.events:,} events in {time.perf_counter() - t:.1f} s "
              f"({path.stat().st_size / 1e6:.0f} MB Parquet); {load()}")
        results: dict[str, list[float]] = {}
        cpu_rates: dict[str, list[float]] = {}
        loads: list[float] = []

        def show(label: str, i: int, secs: float, cpu: float) -> None:
            results.setdefault(label, []).append(args.events / secs)
            cpu_rates.setdefault(label, []).append(args.events / cpu)
            loads.append(os.getloadavg()[0])
            print(f"{label:<22} run {i + 1}: {secs:6.2f} s wall {args.events / secs:>9,.0f} "
                  f"events/s | {cpu:6.2f} s CPU {args.events / cpu:>9,.0f} events/CPU-s "
                  f"| {load()}", flush=True)

        for i in range(args.runs):
            for variant in variants:
                for backend in backends:
                    label = f"{backend}/{variant}"
                    if backend == "sqlite":
                        db = d / f"run{i}-{variant}.sqlite"
                        secs, cpu, n = run(f"sqlite:///{db}", path, d, VARIANTS[variant])
                        assert n == args.events, n
                        show(label, i, secs, cpu)
                        for suffix in ("", "-wal", "-shm"):
                            Path(f"{db}{suffix}").unlink(missing_ok=True)
                        continue
                    if backend != "postgresql":
                        ap.error(f"unknown backend {backend!r}")
                    schema = f"bench_{uuid.uuid4().hex[:8]}"
                    admin = sa.create_engine(PG_URL)
                    with admin.begin() as c:
                        c.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
                    try:
                        secs, cpu, n = run(f"{PG_URL}?options=-csearch_path%3D{schema}", path,
                                           d, VARIANTS[variant])
                        assert n == args.events, n
                        show(label, i, secs, cpu)
                    finally:
                        with admin.begin() as c:
                            c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
                        admin.dispose()
        print()
        for label, rates in results.items():
            print(f"median {label:<22}: {statistics.median(rates):>9,.0f} events/s wall, "
                  f"{statistics.median(cpu_rates[label]):>9,.0f} events per CPU-second of this "
                  f"process, over {len(rates)} runs of {args.events:,} events")
        print(f"1-minute load average during the runs: median {statistics.median(loads):.1f} "
              f"(min {min(loads):.1f}, max {max(loads):.1f}) on {os.cpu_count()} CPUs")
        print(f"reproduce: PYTHONPATH=src {Path(sys.executable).name} benchmarks/ingest.py "
              f"--events {args.events} --runs {args.runs} --backends {','.join(backends)} "
              f"--variants {','.join(variants)}")


if __name__ == "__main__":
    main()

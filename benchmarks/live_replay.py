"""The demo's live loop end to end, timed: history -> store -> model -> service -> live replay.

    PYTHONPATH=src python benchmarks/live_replay.py --days 30 --hours 6

Prints the seconds of each stage and the hourly profit table (pricepilot vs list price).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import msgspec

import pricepilot
from pricepilot.config import load_settings
from pricepilot.experiments.live_replay import live_display, replay_live, running_service
from pricepilot.sim.config import SimConfig
from pricepilot.sim.history import generate_history
from pricepilot.sim.market import Market


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--shoppers", type=int, default=5000)
    ap.add_argument("--products", type=int, default=200)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--family", default="lgbm")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--learn", choices=["auto", "on", "off"], default="auto",
                    help="service.learn_outcomes: the live demand posterior (auto: on here)")
    ap.add_argument("--quote-ttl", type=int, default=900,
                    help="security.quote_ttl_seconds (real seconds): a replay compresses hours "
                         "into seconds, so unbought quotes are learnt only once they expire")
    ap.add_argument("--outcome-grace", type=int, default=60, help="service.outcome_grace_seconds")
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="pp-live-"))
    settings = load_settings(path=None, env={}, overrides={
        "paths.data_dir": str(root), "service.learn_outcomes": a.learn,
        "security.quote_ttl_seconds": a.quote_ttl, "service.outcome_grace_seconds": a.outcome_grace})
    settings = msgspec.structs.replace(settings, compliance=msgspec.structs.replace(
        settings.compliance, audit_only=[*settings.compliance.audit_only, "gender"]))
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    # history ends a day before today: yesterday is the live replay's day
    hist_end = today - timedelta(days=1)
    cfg = SimConfig(seed=a.seed, days=a.days, shoppers=a.shoppers, products=a.products,
                    start=hist_end - timedelta(days=a.days))
    t = {}
    s = time.perf_counter()
    paths = generate_history(cfg, root / "history", fmt="parquet")
    t["history"] = time.perf_counter() - s
    s = time.perf_counter()
    # the shop's own steps, through the public API: ingest the files, train and promote
    with pricepilot.open(settings, warm=False) as shop:
        shop.ingest_files(products=paths["products"], shoppers=paths["shoppers"],
                          events=[paths["events"]])
        t["ingest"] = time.perf_counter() - s
        s = time.perf_counter()
        manifest = shop.train(family=a.family, promote=True)
    t["train"] = time.perf_counter() - s
    market = Market(cfg)
    start = hist_end + timedelta(hours=24 - a.hours)  # the evening of yesterday
    s = time.perf_counter()
    with running_service(settings, root / "service.log") as svc:
        t["service start"] = time.perf_counter() - s
        with live_display(cfg.currency, a.hours) as show:
            r = replay_live(settings, market, start=start, hours=a.hours, base_url=svc.base_url,
                            api_key=svc.api_key, progress=show)
        if a.learn != "off" and a.quote_ttl + a.outcome_grace <= 60:
            time.sleep(a.quote_ttl + a.outcome_grace + 1.0)  # the last quotes expire, are learnt
        learning = httpx.get(f"{svc.base_url}/readyz", timeout=10).json()["dependencies"].get(
            "outcome_learning", {"detail": "off"})["detail"]
    t["replay"] = r.seconds
    print(f"model {manifest.version} ({a.family}), {manifest.data.rows:,} training rows"
          + ("" if manifest.promotable else f"; not promoted: {manifest.promotion_note}"))
    print(r.hourly.to_string(index=False))
    print(r.totals().to_string(index=False))
    print(f"quotes {r.quotes:,} (fallback {r.fallbacks:,}), events {r.events_accepted:,}/{r.events_sent:,}")
    print(f"outcome learning: {learning}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()))
    print(f"data in {root}")


if __name__ == "__main__":
    main()

"""What live learning costs per request: CPU per quote, cart and event batch, learning on vs off.

Builds the app twice over the same seeded data directory as ``benchmarks/serve.py`` (SQLite,
1,000 products, 5,000 consenting shoppers, a small logistic model): once with
``service.learn_outcomes = "on"`` (Thompson sampling over the demand posterior, quotes remembered
for attribution, the learner thread scoring and learning them) and once ``"off"`` (the model's
curve as is). Requests are called in process (ASGI, no server); ``time.process_time`` counts the
CPU of every thread of this process; the learner's work for a round (scoring the new quotes) is
done by a synchronous ``flush`` inside that round's timing. The two apps are measured in
alternating rounds so both see the same machine load.

    PYTHONPATH=src:. python benchmarks/quote_learning.py --rounds 7 --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from benchmarks.serve import KEY, asgi_call, requests_by_endpoint, seed_data_dir  # noqa: E402

from pricepilot.service.auth import hash_key  # noqa: E402


def build(data_dir: Path, learn: str) -> tuple[Any, Any]:
    from pricepilot.config import load_settings
    from pricepilot.service.app import create_app
    from pricepilot.service.engine_backend import build_engine_backend

    settings = load_settings(path=None, env={}, overrides={
        "service.api_keys": {hash_key(KEY): ["storefront"]}, "paths.data_dir": str(data_dir),
        "service.learn_outcomes": learn})
    backend = build_engine_backend(settings)
    return create_app(settings, backend), backend


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="pp-learn-"))
    seed_data_dir(data_dir, with_model=True)
    makers = requests_by_endpoint()
    del makers["healthz"]
    apps = {learn: build(data_dir, learn) for learn in ("on", "off")}
    out: dict[tuple[str, str], list[float]] = {}

    async def go() -> None:
        for app, _ in apps.values():  # warm-up
            for make in makers.values():
                for i in range(200):
                    await asgi_call(app, *make(i))
        for r in range(a.rounds):
            for name, make in makers.items():
                reqs = [make(r * a.requests + i) for i in range(a.requests)]
                order = list(apps.items()) if r % 2 == 0 else list(apps.items())[::-1]
                for learn, (app, backend) in order:  # which goes first alternates
                    start = time.process_time()
                    for req in reqs:
                        status = await asgi_call(app, *req)
                        if status >= 400:
                            raise SystemExit(f"{name} ({learn}): HTTP {status}")
                    if backend.outcomes is not None:
                        backend.outcomes.flush()  # the learner's share, inside the timing
                    out.setdefault((name, learn), []).append(
                        1e6 * (time.process_time() - start) / len(reqs))

    asyncio.run(go())
    print(f"CPU per request (us), median of {a.rounds} rounds of {a.requests}:")
    for name in makers:
        on, off = np.median(out[(name, "on")]), np.median(out[(name, "off")])
        print(f"  {name:18s} learning on {on:8.0f}   off {off:8.0f}   on/off {on / off:5.2f}")
    backend = apps["on"][1]
    if backend.outcomes is not None:
        o = backend.outcomes
        print(f"learner: {o.pending:,} quotes pending, {o.dropped:,} dropped")
    for _, b in apps.values():
        b.close()


if __name__ == "__main__":
    main()

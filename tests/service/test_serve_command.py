"""`pricepilot serve` as an operator runs it: Granian workers, a LightGBM model promoted.

The command builds a probe backend first (so a bad setting fails once, clearly); with a LightGBM
model that loads the booster, and OpenMP, in the command's own process. Workers forked from it
hung for good loading their booster (GNU OpenMP is not fork-safe), so the service never
answered; workers now start as fresh interpreters. This drives the real command end to end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.config import load_settings
from pricepilot.service.auth import hash_key

from .harness import SRC, free_port

pytestmark = pytest.mark.slow

KEY = "pp_serve-command-test-key"


def _seed(data_dir: Path) -> None:
    from pricepilot.demand.models import LGBMDemand
    from pricepilot.demand.registry import ModelRegistry
    from pricepilot.demand.synthetic import synthetic_frame
    from pricepilot.store import open_store

    settings = load_settings(path=None, env={}, overrides={"paths.data_dir": str(data_dir)})
    store = open_store(settings)
    store.migrate()
    store.upsert_products([Product(product_id="SKU-1", title="Mug", category="kitchen",
                                   currency="EUR", unit_cost=400, list_price=999, stock=50,
                                   guardrails=Guardrails(min_margin=0.1))])
    store.close()
    registry = ModelRegistry(settings.models_dir)
    model = LGBMDemand(n_estimators=30).fit(synthetic_frame(3000, seed=5))
    registry.promote(registry.register(model).version)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    _seed(tmp_path / "data")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRICEPILOT_")}
    env["PRICEPILOT_PATHS__DATA_DIR"] = str(tmp_path / "data")
    env["PRICEPILOT_SERVICE__API_KEYS"] = f'{{ "{hash_key(KEY)}" = ["storefront"] }}'
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pricepilot.cli.main", "serve", "--server", "granian",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its workers are stopped with it, even hung ones
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"not ready in 90 s:\n{log_path.read_text()}"
                time.sleep(0.2)
            yield base
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # a worker left behind
            proc.wait(5)


def test_the_service_starts_with_a_lightgbm_model_and_prices_with_it(served: str) -> None:
    r = httpx.post(f"{served}/v1/quotes", headers={"Authorization": f"Bearer {KEY}"},
                   json={"product_ids": ["SKU-1"]}, timeout=10)
    assert r.status_code == 200, r.text
    q = r.json()["quotes"][0]
    assert q["fallback"] is False and q["price"] >= 440  # priced by the model, above the floor
    ready = httpx.get(f"{served}/readyz", timeout=5).json()
    assert ready["dependencies"]["demand_model"]["detail"].startswith("lgbm-")

from __future__ import annotations

from pathlib import Path

import pytest

from pricepilot.config import load_settings
from pricepilot.errors import ConfigError
from pricepilot.service.wiring import build_backend, load_factory

from .fake_backend import FakeBackend


def test_a_named_factory_builds_the_backend() -> None:
    s = load_settings(path=None, env={},
                      overrides={"service.backend": "tests.service.fake_backend:build"})
    backend = build_backend(s)
    # Imported by name, so it is tests.service.fake_backend's class, not this package's alias.
    assert type(backend).__name__ == FakeBackend.__name__ and len(backend.products) == 1000


@pytest.mark.parametrize(
    ("spec", "reason"),
    [("no_colon", "form"), ("nowhere.module:f", "cannot import"),
     ("tests.service.fake_backend:missing", "no callable")],
)
def test_a_bad_factory_name_is_a_config_error(spec: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        load_factory(spec)


def test_a_factory_returning_something_else_is_refused() -> None:
    s = load_settings(path=None, env={}, overrides={"service.backend": "builtins:str"})
    with pytest.raises(ConfigError, match="not a ServiceBackend"):
        build_backend(s)


def test_without_a_factory_the_engines_backend_is_built(tmp_path: Path) -> None:
    s = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    backend = build_backend(s)
    assert type(backend).__name__ == "EngineBackend"
    assert (tmp_path / "pricepilot.sqlite").exists()  # the embedded default store
    backend.close()  # type: ignore[attr-defined]


def test_the_serve_probe_builds_the_engines_backend_without_replaying_the_event_log(
    tmp_path: Path,
) -> None:
    """`pricepilot serve` checks that a backend can be built; the workers replay the event log."""
    from datetime import datetime, timezone

    from pricepilot.catalog.models import Product
    from pricepilot.events.schemas import View
    from pricepilot.store import open_store

    s = load_settings(path=None, env={}, overrides={"paths.data_dir": str(tmp_path)})
    store = open_store(s)
    store.migrate()
    p = Product(product_id="P1", title="Mug", category="kitchen", currency="EUR",
                unit_cost=400, list_price=999)
    store.upsert_products([p])
    t0 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
    store.add_events([View(event_id=f"v{i}", ts=t0, user_id="u1", product_id="P1", price=999,
                           currency="EUR") for i in range(3)])
    store.close()
    views = {}
    for warm in (False, True):
        backend = build_backend(s, warm=warm)
        assert type(backend).__name__ == "EngineBackend"
        views[warm] = backend.app.features.features_for("u1", p, t0)["u_views_7d"]  # type: ignore[attr-defined]
        backend.close()  # type: ignore[attr-defined]
    assert views == {False: 0, True: 3}

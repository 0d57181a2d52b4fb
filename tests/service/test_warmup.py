from datetime import datetime, timedelta, timezone

from pricepilot.catalog.models import Product
from pricepilot.config import load_settings
from pricepilot.events.schemas import Purchase, View
from pricepilot.features.online import open_online_features
from pricepilot.serving.warmup import warm_online_features
from pricepilot.store.sql import open_store


def test_a_restarted_process_serves_the_features_it_had_before(tmp_path) -> None:
    settings = load_settings(path=None, env={})
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.migrate()
    p = Product(product_id="P1", title="Mug", category="kitchen", currency="EUR",
                unit_cost=400, list_price=999)
    store.upsert_products([p])
    t0 = datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
    events = [View(event_id=f"v{i}", ts=t0 + timedelta(minutes=i), user_id="u1", product_id="P1",
                   price=999, currency="EUR") for i in range(5)]
    events.append(Purchase(event_id="b1", ts=t0 + timedelta(minutes=9), user_id="u1",
                           product_id="P1", order_id="o1", price=999, currency="EUR"))
    store.add_events(events)

    live = open_online_features(settings, [p])
    live.learn_many(events)
    restarted = open_online_features(settings, [p])
    assert warm_online_features(store, restarted, "memory") == len(events)
    at = t0 + timedelta(hours=2)
    assert restarted.features_for("u1", p, at) == live.features_for("u1", p, at)
    assert restarted.features_for("u1", p, at)["u_frequency_90d"] == 1


def test_redis_state_is_not_replayed(tmp_path) -> None:
    settings = load_settings(path=None, env={})
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.migrate()
    assert warm_online_features(store, open_online_features(settings, []), "redis") == 0

"""Issue #13 point 3 (plausibility) and point 16 (a future ts reported as a date): one rule set,
``settings.ingest.plausibility``, applied by file ingestion, struct ingestion and live events."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from ingest_support import NOW, clock, make_settings, settings, store, view_row, write_csv  # noqa: F401

from pricepilot.clock import FixedClock
from pricepilot.config import ConfigError, Settings, load_settings
from pricepilot.events.ingest import IngestError, ingest_event_files, ingest_events
from pricepilot.events.schemas import AddToCart, View
from pricepilot.serving.live_events import LiveIngestor
from pricepilot.store.sql import SqlStore

T = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)

# (rule, file row overrides, field, reason); SKU-1's list price is 9.99 EUR
FILE_BAD = [
    ("price 0", {"price": "0.00"}, "price", "price 0 below the minimum 1 minor unit"),
    ("price above the bound", {"price": "10000000.01"}, "price",
     "price 1000000001 above the maximum 1000000000 minor units"),
    ("100x the list price", {"price": "999.00"}, "price",
     "price 99900 above 20x the list price 999 of product 'SKU-1' (allowed 0.05x to 20x)"),
    ("a 99% markdown", {"price": "0.09"}, "price",
     "price 9 below 0.05x the list price 999 of product 'SKU-1'"),
    ("ts in 1970", {"ts": "1970-01-01T00:00:00+00:00"}, "ts",
     "ts 1970-01-01T00:00:00Z is before the earliest accepted 2021-03-02T12:00:00Z"),
    ("quantity 10^9", {"type": "add_to_cart", "quantity": "1000000000"}, "quantity",
     "quantity 1000000000 above the maximum 1000"),
]


@pytest.mark.parametrize("rule,over,field,reason", FILE_BAD, ids=[b[0] for b in FILE_BAD])
def test_point3_an_implausible_file_row_is_refused_naming_the_field_and_the_rule(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path,
    rule: str, over: dict[str, str], field: str, reason: str,
) -> None:
    path = write_csv(tmp_path / "e.csv", [view_row("ok1"), view_row("bad", **over)])
    with pytest.raises(IngestError) as info:
        ingest_event_files(store, [path], settings, clock=clock)
    assert info.value.field == field and reason in info.value.reason
    assert info.value.location == "e.csv, line 3"
    assert store.count_events() == 0


def test_point3_skipped_implausible_rows_carry_the_reason_in_the_rejects_file(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    rows = [view_row("ok1")] + [view_row(f"bad{i}", **over) for i, (_, over, _, _) in
                                enumerate(FILE_BAD)]
    rejects = tmp_path / "rejects.csv"
    report = ingest_event_files(store, [write_csv(tmp_path / "e.csv", rows)], settings,
                                clock=clock, on_error="skip", rejects_path=rejects)
    assert (report.inserted, report.rejected) == (1, len(FILE_BAD))
    with rejects.open() as fh:
        got = {r["event_id"]: (r["field"], r["reason"]) for r in csv.DictReader(fh)}
    for i, (_, _, field, reason) in enumerate(FILE_BAD):
        assert got[f"bad{i}"][0] == field and reason in got[f"bad{i}"][1]


def view(eid: str, **kw: object) -> View:
    base: dict[str, object] = dict(event_id=eid, ts=T, user_id="u1", product_id="SKU-1",
                                   price=999, currency="EUR")
    base.update(kw)
    return View(**base)  # type: ignore[arg-type]


STRUCT_BAD = [
    ("price 0", view("b", price=0), "price", "price 0 below the minimum 1 minor unit"),
    ("price 2^62", view("b", price=2**62), "price", "above the maximum 1000000000"),
    ("ts in 1970", view("b", ts=datetime(1970, 1, 1, tzinfo=timezone.utc)), "ts",
     "ts 1970-01-01T00:00:00Z is before the earliest accepted"),
    ("quantity 10^9", AddToCart(event_id="b", ts=T, user_id="u1", product_id="SKU-1",
                                price=999, currency="EUR", quantity=10**9), "quantity",
     "quantity 1000000000 above the maximum 1000"),
]


@pytest.mark.parametrize("rule,bad,field,reason", STRUCT_BAD, ids=[b[0] for b in STRUCT_BAD])
def test_point3_struct_and_live_ingestion_apply_the_same_rules(
    store: SqlStore, settings: Settings, clock: FixedClock,
    rule: str, bad: View, field: str, reason: str,
) -> None:
    with pytest.raises(IngestError) as info:
        ingest_events(store, [view("g1"), bad], settings, clock=clock)
    assert info.value.field == field and reason in info.value.reason
    live = LiveIngestor(store, settings, clock)
    with pytest.raises(IngestError) as live_info:
        live.ingest([view("g1"), bad])
    assert live_info.value.field == field and reason in live_info.value.reason
    assert live_info.value.location == "events, event 1"
    assert store.count_events() == 0  # the valid event of the refused batch is not stored


def test_point3_the_bounds_are_settings(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    loose = make_settings(tmp_path, plausibility={"min_price": 0, "max_quantity": 5000})
    report = ingest_events(store, [view("free", price=0), AddToCart(
        event_id="bulk", ts=T, user_id="u1", product_id="SKU-1", price=999, currency="EUR",
        quantity=5000)], loose, clock=clock)
    assert report.inserted == 2
    with pytest.raises(ConfigError, match="ingest.plausibility.max_quantity"):
        load_settings(None, env={"PRICEPILOT_INGEST__PLAUSIBILITY__MAX_QUANTITY": "0"})


def test_point16_a_future_timestamp_is_reported_as_a_utc_date_and_how_far_ahead(
    store: SqlStore, settings: Settings, clock: FixedClock
) -> None:
    ahead = NOW + timedelta(days=3, hours=4, minutes=5)
    with pytest.raises(IngestError) as info:
        ingest_events(store, [view("f", ts=ahead)], settings, clock=clock)
    assert info.value.field == "ts"
    assert info.value.reason.startswith(
        "ts 2026-03-05T16:05:00Z is 3 d 4 h in the future (now 2026-03-02T12:00:00Z, "
        "tolerance 5 min)")

"""Ingestion of event files: every validation rule in both error modes, atomicity, idempotency,
cleaning (duplicates, missing values, outliers) and pseudonymisation."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_support import NOW, clock, make_settings, settings, store, view_row, write_csv  # noqa: F401

from pricepilot.clock import FixedClock
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings
from pricepilot.errors import ValidationError
from pricepilot.events.ingest import IngestError, ingest_event_files
from pricepilot.store.sql import SqlStore

# (rule, overrides of a good view row, field named in the error, words of the reason)
BAD_ROWS = [
    ("bad type", {"type": "add_to_cart", "quantity": "two"}, "quantity", "not an integer"),
    ("missing required field", {"price": ""}, "price", "missing required field"),
    ("missing customer", {"customer_id": ""}, "customer_id", "missing required field"),
    ("unknown event type", {"type": "click"}, "type", "unknown event type 'click'"),
    ("negative price", {"price": "-1.00"}, "price", "must not be negative"),
    ("zero quantity", {"type": "purchase", "order_id": "o1", "quantity": "0"}, "quantity",
     "must be positive"),
    ("negative quantity", {"type": "add_to_cart", "quantity": "-2"}, "quantity",
     "must be positive"),
    ("unknown product", {"product_id": "SKU-404"}, "product_id",
     "unknown product 'SKU-404' (not in the catalogue)"),
    ("future timestamp", {"ts": (NOW + timedelta(hours=1)).isoformat()}, "ts", "in the future"),
    ("unknown currency", {"currency": "XXX"}, "currency", "unknown currency 'XXX'"),
    ("too many decimals", {"price": "9.999"}, "price", "more decimals than EUR allows (2)"),
    ("decimals for a currency without", {"price": "100.5", "currency": "JPY"}, "price",
     "more decimals than JPY allows (0)"),
    ("price not a number", {"price": "9,99"}, "price", "not a decimal number"),
    ("timestamp without offset", {"ts": "2026-03-01T10:00:00"}, "ts", "no UTC offset"),
    ("timestamp not a time", {"ts": "yesterday"}, "ts", "not an ISO 8601 timestamp"),
    ("missing event id", {"event_id": ""}, "event_id", "missing required field"),
    ("negative stock", {"type": "inventory", "stock": "-5"}, "stock", "must not be negative"),
    ("bad boolean", {"type": "competitor_price", "competitor": "acme", "on_promotion": "maybe"},
     "on_promotion", "not a boolean"),
    ("bad calendar day", {"type": "calendar", "day": "2026-02-30", "name": "x"}, "day",
     "not a date"),
    ("missing calendar name", {"type": "calendar", "day": "2026-12-25"}, "name",
     "missing required field"),
]


def _file(tmp_path: Path, overrides: dict[str, str]) -> Path:
    return write_csv(tmp_path / "ev.csv", [view_row("good-1"), view_row("bad-1", **overrides),
                                           view_row("good-2")])


@pytest.mark.parametrize("rule,overrides,field,reason", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_bad_row_fails_the_file_and_nothing_is_written(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path,
    rule: str, overrides: dict[str, str], field: str, reason: str,
) -> None:
    path = _file(tmp_path, overrides)
    with pytest.raises(IngestError) as info:
        ingest_event_files(store, [path], settings, clock=clock)
    err = info.value
    assert err.location == "ev.csv, line 3"
    assert err.field == field
    assert reason in err.reason
    assert "ev.csv, line 3" in str(err) and field in str(err)
    assert store.count_events() == 0


@pytest.mark.parametrize("rule,overrides,field,reason", BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_bad_row_is_skipped_and_written_to_the_rejects_file(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path,
    rule: str, overrides: dict[str, str], field: str, reason: str,
) -> None:
    path = _file(tmp_path, overrides)
    rejects = tmp_path / "rejects.csv"
    report = ingest_event_files(store, [path], settings, clock=clock, on_error="skip",
                                rejects_path=rejects)
    assert (report.inserted, report.rejected, report.rows_read) == (2, 1, 3)
    assert sorted(store.events_frame().event_id) == ["good-1", "good-2"]
    rows = list(csv.DictReader(rejects.read_text().splitlines()))
    assert len(rows) == 1
    assert rows[0]["line"] == "3" and rows[0]["field"] == field and reason in rows[0]["reason"]
    assert rows[0]["source"] == "ev.csv"
    assert report.reject_examples[0].line == 3


def test_a_malformed_csv_line_is_named_and_handled_in_both_modes(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ev.csv", [view_row("g1"), view_row("g2")])
    text = path.read_text().splitlines()
    text.insert(2, "broken,view,only-three-cells")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(IngestError, match=r"ev.csv, line 3.*expected 19 cells, found 3"):
        ingest_event_files(store, [path], settings, clock=clock)
    assert store.count_events() == 0
    report = ingest_event_files(store, [path], settings, clock=clock, on_error="skip",
                                rejects_path=tmp_path / "r.jsonl")
    assert (report.inserted, report.rejected) == (2, 1)
    rej = [json.loads(x) for x in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert rej[0]["line"] == 3
    # rows after the broken line keep their real line numbers
    assert report.reject_examples[0].line == 3


def test_a_file_failing_halfway_through_many_batches_writes_nothing(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, batch_size=10)
    rows = [view_row(f"e{i:03d}") for i in range(95)]
    rows[77]["product_id"] = "SKU-404"
    path = write_csv(tmp_path / "big.csv", rows)
    with pytest.raises(IngestError, match="big.csv, line 79"):
        ingest_event_files(store, [path], settings, clock=clock)
    assert store.count_events() == 0
    # the deferred indexes were restored with the rollback: the store still works fully
    rows[77]["product_id"] = "SKU-1"
    write_csv(path, rows)
    assert ingest_event_files(store, [path], settings, clock=clock).inserted == 95
    assert len(store.events_frame(product_id="SKU-1")) == 95


def test_one_bad_file_among_several_writes_nothing(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    good = write_csv(tmp_path / "a.csv", [view_row("a1")])
    bad = write_csv(tmp_path / "b.csv", [view_row("b1", price="-3")])
    with pytest.raises(IngestError, match="b.csv, line 2"):
        ingest_event_files(store, [good, bad], settings, clock=clock)
    assert store.count_events() == 0


def test_reingesting_the_same_file_changes_nothing(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ev.csv", [view_row(f"e{i}") for i in range(20)])
    first = ingest_event_files(store, [path], settings, clock=clock)
    before = store.events_frame()
    again = ingest_event_files(store, [path], settings, clock=clock)
    assert (first.inserted, again.inserted, again.already_present) == (20, 0, 20)
    assert store.events_frame().equals(before)


def test_duplicate_ids_within_a_file_are_removed_and_counted(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, batch_size=4)
    rows = [view_row("e1"), view_row("e1"), view_row("e2"), view_row("e3"),
            view_row("e4"), view_row("e2", price="5.00"), view_row("e5")]
    report = ingest_event_files(store, [write_csv(tmp_path / "d.csv", rows)], settings,
                                clock=clock)
    # e1 twice is a duplicate; e2 again at another price is a conflict (issue #13 point 3)
    assert (report.inserted, report.duplicates, report.already_present) == (5, 1, 0)
    assert report.conflicts == 1
    assert store.events_frame().set_index("event_id").loc["e2", "price"] == 999  # first kept


def test_missing_optional_values_are_filled_by_default(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    rows = [view_row("v1", channel="", device=""),
            view_row("a1", type="add_to_cart"),
            view_row("c1", type="competitor_price", competitor="acme", customer_id="")]
    ingest_event_files(store, [write_csv(tmp_path / "m.csv", rows)], settings, clock=clock)
    df = store.events_frame().set_index("event_id")
    assert df.loc["v1", "channel"] == "unknown" and df.loc["v1", "device"] == "unknown"
    assert df.loc["a1", "quantity"] == 1
    assert not df.loc["c1", "on_promotion"]


def test_missing_optional_values_drop_the_row_when_declared(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, missing="drop")
    rows = [view_row("v1", channel=""), view_row("v2"),
            view_row("a1", type="add_to_cart")]
    report = ingest_event_files(store, [write_csv(tmp_path / "m.csv", rows)], settings,
                                clock=clock)
    assert (report.inserted, report.dropped_missing) == (1, 2)
    assert list(store.events_frame().event_id) == ["v2"]


@pytest.mark.parametrize("method", ["rolling", "iqr", "zscore"])
def test_price_outliers_are_flagged_per_product_but_kept(
    store: SqlStore, clock: FixedClock, tmp_path: Path, method: str
) -> None:
    settings = make_settings(tmp_path, outlier_method=method, outlier_threshold=3.0)
    rows = [view_row(f"e{i}", price=f"{9 + (i % 3) * 0.5:.2f}") for i in range(30)]
    rows += [view_row("wild", price="99.00")]
    # SKU-2 at a different level is not an outlier of SKU-1
    rows += [view_row(f"p{i}", product_id="SKU-2", price="120.00") for i in range(12)]
    report = ingest_event_files(store, [write_csv(tmp_path / "o.csv", rows)], settings,
                                clock=clock)
    assert report.outliers == 1
    ex = report.outlier_examples[0]
    assert (ex.event_id, ex.product_id, ex.price, ex.line) == ("wild", "SKU-1", "99.00", 32)
    assert report.inserted == 43


def test_customer_ids_are_pseudonymised_and_never_stored(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    ingest_event_files(store, [write_csv(tmp_path / "p.csv", [view_row("e1",
                       customer_id="alice@example.com")])], settings, clock=clock)
    df = store.events_frame()
    assert df.user_id[0] == Pseudonymiser(settings.security.pseudonym_key)("alice@example.com")
    assert "alice" not in df.to_csv()


def test_fields_a_type_does_not_carry_are_not_stored_and_unknown_columns_reported(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    header = ("event_id", "type", "ts", "product_id", "stock", "price", "currency", "colour")
    path = write_csv(tmp_path / "i.csv", [{"event_id": "i1", "type": "inventory",
                     "ts": "2026-03-01T10:00:00Z", "product_id": "SKU-1", "stock": "7",
                     "price": "1.00", "currency": "EUR", "colour": "red"}], header)
    report = ingest_event_files(store, [path], settings, clock=clock)
    row = store.events_frame().iloc[0]
    assert row.stock == 7 and pd.isna(row.price) and pd.isna(row.currency)
    assert report.ignored_columns == ["colour"]


def test_calendar_events_come_through_event_files(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [{"event_id": "h1", "type": "calendar",
                     "ts": "2026-03-01T00:00:00+00:00", "day": "2026-12-25",
                     "name": "Christmas", "region": "DE"}])
    ingest_event_files(store, [path], settings, clock=clock)
    row = store.events_frame(types=["calendar"]).iloc[0]
    assert (row.day, row["name"], row.region) == ("2026-12-25", "Christmas", "DE")


def test_json_lines_keep_prices_exact_and_name_bad_lines(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    good = {k: v for k, v in view_row("j1").items()}
    good["price"] = 19.99  # a JSON number: read as a decimal, never as a float
    other = dict(view_row("j2"), quantity=None, on_promotion=False)
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + "{not json\n" + json.dumps(other) + "\n"
                    + json.dumps(dict(view_row("j3"), price={"a": 1})) + "\n")
    with pytest.raises(IngestError, match="e.jsonl, line 3.*not valid JSON"):
        ingest_event_files(store, [path], settings, clock=clock)
    report = ingest_event_files(store, [path], settings, clock=clock, on_error="skip",
                                rejects_path=tmp_path / "r.csv")
    assert (report.inserted, report.rejected) == (2, 2)
    assert store.events_frame().set_index("event_id").loc["j1", "price"] == 1999
    lines = sorted((r.line, r.field) for r in report.reject_examples)
    assert lines == [(3, None), (5, "price")]


def test_parquet_files_with_timestamp_columns_are_ingested_and_rows_named(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    from datetime import datetime, timezone

    ts = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)
    t = pa.table({
        "event_id": ["p1", "p2", "p3"], "type": ["view"] * 3,
        "ts": pa.array([ts] * 3, pa.timestamp("us", tz="UTC")),
        "customer_id": ["c1", "c2", "c3"], "product_id": ["SKU-1", "SKU-2", "SKU-9"],
        "price": ["9.99", "39.99", "1.00"], "currency": ["EUR"] * 3,
        "quantity": pa.array([None, None, None], pa.int64()),
    })
    pq.write_table(t, tmp_path / "e.parquet")
    with pytest.raises(IngestError, match=r"e.parquet, row 3.*SKU-9"):
        ingest_event_files(store, [tmp_path / "e.parquet"], settings, clock=clock)
    report = ingest_event_files(store, [tmp_path / "e.parquet"], settings, clock=clock,
                                on_error="skip", rejects_path=tmp_path / "r.csv")
    assert report.inserted == 2
    assert int(store.events_frame().ts.iloc[0]) == int(ts.timestamp() * 1_000_000)


def test_parquet_float_prices_are_refused_as_inexact(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    t = pa.table({"event_id": ["p1"], "type": ["view"], "ts": ["2026-03-01T10:00:00Z"],
                  "customer_id": ["c1"], "product_id": ["SKU-1"], "price": [9.99],
                  "currency": ["EUR"]})
    pq.write_table(t, tmp_path / "f.parquet")
    with pytest.raises(IngestError, match="float"):
        ingest_event_files(store, [tmp_path / "f.parquet"], settings, clock=clock)


def test_the_future_tolerance_comes_from_settings(
    store: SqlStore, clock: FixedClock, tmp_path: Path
) -> None:
    soon = (NOW + timedelta(seconds=200)).isoformat()
    path = write_csv(tmp_path / "f.csv", [view_row("e1", ts=soon)])
    assert ingest_event_files(store, [path], make_settings(tmp_path), clock=clock).inserted == 1
    strict = make_settings(tmp_path, future_tolerance_seconds=60)
    with pytest.raises(IngestError, match="future"):
        ingest_event_files(store, [write_csv(tmp_path / "g.csv", [view_row("e2", ts=soon)])],
                           strict, clock=clock)


def test_unknown_file_formats_and_missing_files_are_refused(
    store: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "e.xlsx").write_text("x")
    with pytest.raises(ValidationError, match="unknown format"):
        ingest_event_files(store, [tmp_path / "e.xlsx"], settings)
    with pytest.raises(ValidationError, match="does not exist"):
        ingest_event_files(store, [tmp_path / "nope.csv"], settings)
    (tmp_path / "h.csv").write_text("type,ts\nview,2026-03-01T10:00:00Z\n")
    with pytest.raises(ValidationError, match="event_id"):
        ingest_event_files(store, [tmp_path / "h.csv"], settings)


def test_an_invalid_on_error_mode_is_refused(
    store: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ev.csv", [view_row("e1")])
    with pytest.raises(ValidationError, match="on_error"):
        ingest_event_files(store, [path], settings, on_error="ignore")  # type: ignore[arg-type]


def test_skip_mode_without_a_path_writes_rejects_under_the_reports_dir(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "ev.csv", [view_row("e1", price="-1")])
    report = ingest_event_files(store, [path], settings, clock=clock, on_error="skip")
    assert report.rejects_path is not None
    assert Path(report.rejects_path).parent == settings.reports_dir / "rejects"
    assert "must not be negative" in Path(report.rejects_path).read_text()


@pytest.mark.postgres
def test_a_file_failing_halfway_writes_nothing_on_postgresql(
    pg_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    from ingest_support import catalogue

    from pricepilot.store import open_store

    store = open_store(pg_url)
    store.migrate()
    store.upsert_products(catalogue())
    settings = make_settings(tmp_path, batch_size=10)
    rows = [view_row(f"e{i:03d}") for i in range(45)]
    rows[33]["price"] = "-1"
    path = write_csv(tmp_path / "big.csv", rows)
    with pytest.raises(IngestError, match="line 35"):
        ingest_event_files(store, [path], settings, clock=clock)
    assert store.count_events() == 0
    rows[33]["price"] = "1.00"
    write_csv(path, rows)
    assert ingest_event_files(store, [path], settings, clock=clock).inserted == 45
    assert ingest_event_files(store, [path], settings, clock=clock).already_present == 45
    store.close()


def _pipeline_input(tmp_path: Path) -> Path:
    rows = [view_row(f"e{i:03d}") for i in range(60)]
    rows[5] = view_row("e001")  # duplicate of an earlier batch
    rows[41]["product_id"] = "SKU-404"  # rejected in skip mode
    rows[50] = view_row("e049")  # duplicate within a batch
    return write_csv(tmp_path / "p.csv", rows)


@pytest.mark.parametrize("pipeline", [True, False], ids=["pipelined", "serial"])
def test_pipelined_and_serial_ingestion_report_and_store_the_same(
    store: SqlStore, clock: FixedClock, tmp_path: Path, pipeline: bool
) -> None:
    path = _pipeline_input(tmp_path)
    settings = make_settings(tmp_path, batch_size=7, on_error="skip", pipeline=pipeline)
    first = ingest_event_files(store, [path], settings, clock=clock,
                               rejects_path=tmp_path / "r.csv")
    again = ingest_event_files(store, [path], settings, clock=clock,
                               rejects_path=tmp_path / "r2.csv")
    got = (first.inserted, first.duplicates, first.rejected, first.already_present,
           again.inserted, again.duplicates, again.already_present)
    assert got == (57, 2, 1, 0, 0, 2, 57)
    assert sorted(store.events_frame().event_id) == sorted(
        {f"e{i:03d}" for i in range(60)} - {"e005", "e041", "e050"})


def test_a_failing_insert_on_the_pipeline_thread_rolls_everything_back(
    store: SqlStore, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "ev.csv", [view_row(f"e{i:03d}") for i in range(50)])
    settings = make_settings(tmp_path, batch_size=10, pipeline=True)
    real = SqlStore.add_event_batch
    calls: list[int] = []

    def third_fails(self: SqlStore, batch: pa.Table) -> int:
        calls.append(batch.num_rows)
        if len(calls) == 3:
            raise ValidationError("store", None, "disk full")
        return real(self, batch)

    monkeypatch.setattr(SqlStore, "add_event_batch", third_fails)
    with pytest.raises(ValidationError, match="disk full"):
        ingest_event_files(store, [path], settings, clock=clock)
    monkeypatch.undo()
    assert store.count_events() == 0
    assert ingest_event_files(store, [path], settings, clock=clock).inserted == 50

"""Ingestion from the Python API (event structs), and of the catalogue and shopper files."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from ingest_support import NOW, clock, settings, store  # noqa: F401

from pricepilot.clock import FixedClock
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings, load_settings
from pricepilot.errors import NotFound, ValidationError
from pricepilot.events.ingest import (
    IngestError,
    ingest_events,
    ingest_products,
    ingest_shoppers,
)
from pricepilot.events.schemas import AddToCart, CompetitorPrice, Inventory, Purchase, View
from pricepilot.store.sql import SqlStore

T = datetime(2026, 3, 1, 10, tzinfo=timezone.utc)


def view(eid: str, **kw: object) -> View:
    base: dict[str, object] = dict(event_id=eid, ts=T, user_id="u1", product_id="SKU-1",
                                   price=999, currency="EUR")
    base.update(kw)
    return View(**base)  # type: ignore[arg-type]


API_BAD = [
    ("unknown product", view("b", product_id="SKU-404"), "product_id", "unknown product"),
    ("negative price", view("b", price=-1), "price", "must not be negative"),
    ("non-positive quantity", AddToCart(event_id="b", ts=T, user_id="u1", product_id="SKU-1",
                                        price=1, currency="EUR", quantity=0), "quantity",
     "must be positive"),
    ("negative stock", Inventory(event_id="b", ts=T, product_id="SKU-1", stock=-1), "stock",
     "must not be negative"),
    ("unknown currency", view("b", currency="ABC"), "currency", "unknown currency"),
    ("future timestamp", view("b", ts=NOW + timedelta(days=1)), "ts", "in the future"),
]


@pytest.mark.parametrize("rule,bad,field,reason", API_BAD, ids=[b[0] for b in API_BAD])
def test_a_bad_event_struct_fails_the_call_and_nothing_is_written(
    store: SqlStore, settings: Settings, clock: FixedClock,
    rule: str, bad: object, field: str, reason: str,
) -> None:
    with pytest.raises(IngestError) as info:
        ingest_events(store, [view("g1"), bad, view("g2")], settings,  # type: ignore[list-item]
                      clock=clock)
    assert info.value.field == field and reason in info.value.reason
    assert info.value.location == "events, event 1"
    assert store.count_events() == 0


@pytest.mark.parametrize("rule,bad,field,reason", API_BAD, ids=[b[0] for b in API_BAD])
def test_a_bad_event_struct_is_skipped_in_skip_mode(
    store: SqlStore, settings: Settings, clock: FixedClock, tmp_path: Path,
    rule: str, bad: object, field: str, reason: str,
) -> None:
    report = ingest_events(store, [view("g1"), bad, view("g2")], settings,  # type: ignore[list-item]
                           clock=clock, on_error="skip", rejects_path=tmp_path / "r.jsonl")
    assert (report.inserted, report.rejected) == (2, 1)
    rej = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert rej["line"] == 1 and rej["field"] == field and reason in rej["reason"]


def test_event_structs_are_ingested_idempotently(
    store: SqlStore, settings: Settings, clock: FixedClock
) -> None:
    evs = [view("v1"), Purchase(event_id="p1", ts=T, user_id="u1", product_id="SKU-2",
                                order_id="o1", price=3999, currency="EUR"),
           CompetitorPrice(event_id="c1", ts=T, product_id="SKU-1", competitor="acme",
                           price=949, currency="EUR"), view("v1")]
    r1 = ingest_events(store, evs, settings, clock=clock)
    r2 = ingest_events(store, evs, settings, clock=clock)
    assert (r1.inserted, r1.duplicates) == (3, 1)
    assert (r2.inserted, r2.already_present, r2.duplicates) == (0, 3, 1)
    assert store.count_events() == 3


PRODUCTS_HEADER = ("product_id,title,category,brand,currency,unit_cost,list_price,stock,"
                   "season_end,floor,ceiling,min_margin,max_change_per_day,price_ending,ladder,"
                   "attributes")


def test_a_products_file_becomes_the_catalogue(store: SqlStore, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        PRODUCTS_HEADER + "\n"
        'SKU-7,Kettle,kitchen,Acme,EUR,12.50,39.99,40,2026-06-30T00:00:00+00:00,29.99,49.99,'
        '0.15,0.1,99,34.99;39.99;44.99,"{""colour"": ""red""}"\n'
        "SKU-8,Cup,kitchen,,JPY,300,1200,,,,,,,,,\n"
    )
    assert ingest_products(store, path) == 2
    p = store.get_product("SKU-7")
    assert (p.unit_cost, p.list_price, p.stock) == (1250, 3999, 40)
    assert p.guardrails.ladder == [3499, 3999, 4499]
    assert (p.guardrails.floor, p.guardrails.ceiling, p.guardrails.price_ending) == (
        2999, 4999, 99)
    assert p.guardrails.min_margin == 0.15 and p.attributes == {"colour": "red"}
    assert p.season_end == datetime(2026, 6, 30, tzinfo=timezone.utc)
    q = store.get_product("SKU-8")
    assert (q.currency, q.list_price, q.stock) == ("JPY", 1200, None)


@pytest.mark.parametrize("row,field,reason", [
    ("SKU-9,Bad,k,,EUR,1.00,9.999,,,,,,,,,", "list_price", "more than 2 decimals"),
    ("SKU-9,Bad,k,,EUR,1.00,-5.00,,,,,,,,,", "list_price", "must be positive"),
    ("SKU-9,Bad,k,,XXX,1.00,5.00,,,,,,,,,", "currency", "unknown currency"),
    ("SKU-9,Bad,k,,EUR,,5.00,,,,,,,,,", "unit_cost", "missing required field"),
    ("SKU-9,Bad,k,,EUR,1.00,5.00,many,,,,,,,,", "stock", "not an integer"),
    ("SKU-9,Bad,k,,EUR,1.00,5.00,,soon,,,,,,,", "season_end", "not an ISO 8601"),
    ("SKU-9,Bad,k,,EUR,1.00,5.00,,,9.00,4.00,,,,,", "guardrails.floor", "above ceiling"),
    ("SKU-9,Bad,k,,EUR,1.00,5.00,,,,,,,,,{bad", "attributes", "not JSON"),
    ("SKU-1,Again,k,,EUR,1.00,5.00,,,,,,,,,", "product_id", "duplicate of line 2"),
])
def test_a_bad_products_row_is_named_and_nothing_is_written(
    store: SqlStore, tmp_path: Path, row: str, field: str, reason: str
) -> None:
    before = store.list_products()
    path = tmp_path / "products.csv"
    path.write_text(PRODUCTS_HEADER + "\nSKU-1,Mug v2,kitchen,,EUR,4.00,10.99,,,,,,,,,\n"
                    + row + "\n")
    with pytest.raises(ValidationError) as info:
        ingest_products(store, path)
    assert info.value.location == "products.csv, line 3"
    assert info.value.field == field and reason in info.value.reason
    assert store.list_products() == before


def test_products_can_come_from_json_lines(store: SqlStore, tmp_path: Path) -> None:
    path = tmp_path / "products.jsonl"
    path.write_text(json.dumps({"product_id": "SKU-5", "title": "Tray", "category": "k",
                                "currency": "EUR", "unit_cost": "2.00", "list_price": 7.49,
                                "ladder": ["6.99", "7.49"], "attributes": {"size": "L"}}) + "\n")
    assert ingest_products(store, path) == 1
    p = store.get_product("SKU-5")
    assert (p.list_price, p.guardrails.ladder, p.attributes) == (749, [699, 749], {"size": "L"})


def test_shoppers_are_pseudonymised_with_declared_attributes(
    store: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "shoppers.csv"
    path.write_text("customer_id,tier,device,region,channel,segment,personalisation_consent\n"
                    "alice,gold,mobile,DE,app,students,false\nbob,,,,,,\n")
    assert ingest_shoppers(store, path, settings) == 2
    pseudo = Pseudonymiser(settings.security.pseudonym_key)
    a = store.get_shopper(pseudo("alice"))
    assert (a.tier, a.region, a.attributes, a.personalisation_consent) == (
        "gold", "DE", {"segment": "students"}, False)
    assert store.get_shopper(pseudo("bob")).personalisation_consent is True
    with pytest.raises(NotFound):
        store.get_shopper("alice")


def test_a_protected_shopper_attribute_is_refused_naming_the_row(
    store: SqlStore, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "shoppers.csv"
    path.write_text("customer_id,tier,gender\nalice,gold,\nbob,silver,m\n")
    with pytest.raises(ValidationError) as info:
        ingest_shoppers(store, path, settings)
    assert info.value.location == "shoppers.csv, line 3" and info.value.field == "gender"
    with pytest.raises(NotFound):
        store.get_shopper(Pseudonymiser(settings.security.pseudonym_key)("alice"))


def test_an_audit_only_attribute_is_kept_apart_from_pricing_attributes(
    store: SqlStore, tmp_path: Path
) -> None:
    from pricepilot.config import load_settings

    s = load_settings(None, env={}, overrides={"compliance.audit_only": ["gender"]})
    path = tmp_path / "shoppers.jsonl"
    path.write_text(json.dumps({"customer_id": "bob", "tier": "silver", "gender": "m"}) + "\n")
    ingest_shoppers(store, path, s)
    b = store.get_shopper(Pseudonymiser(s.security.pseudonym_key)("bob"))
    assert (b.attributes, b.audit_attributes) == ({}, {"gender": "m"})


@pytest.mark.parametrize("content,field", [
    ("customer_id,tier\n,gold\n", "customer_id"),
    ("customer_id,personalisation_consent\nalice,perhaps\n", "personalisation_consent"),
])
def test_a_bad_shoppers_row_is_named(
    store: SqlStore, settings: Settings, tmp_path: Path, content: str, field: str
) -> None:
    path = tmp_path / "shoppers.csv"
    path.write_text(content)
    with pytest.raises(ValidationError) as info:
        ingest_shoppers(store, path, settings)
    assert info.value.location == "shoppers.csv, line 2" and info.value.field == field


@pytest.mark.parametrize("content", ["", "product_id,title\n", "not,a,header\n"])
def test_a_products_or_shoppers_file_without_rows_is_an_error_not_zero_written(
    store: SqlStore, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    before = store.list_products()
    with pytest.raises(ValidationError, match="has no rows") as info:
        ingest_products(store, path)
    assert info.value.location == "empty.csv" and store.list_products() == before
    with pytest.raises(ValidationError, match="has no rows"):
        ingest_shoppers(store, path, load_settings(path=None, env={}))

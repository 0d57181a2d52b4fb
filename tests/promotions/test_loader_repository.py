"""Promotion files and the stored set: validated whole, replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from pricepilot.errors import NotFound, ValidationError
from pricepilot.promotions import model as m
from pricepilot.promotions.loader import dump_promotions, load_promotions, parse_promotions
from pricepilot.promotions.repository import PromotionRepository
from pricepilot.promotions.tables import TABLES
from pricepilot.store.schema import metadata

GOOD = """
promotions:
  - id: T
    benefit: {kind: tiered, tiers: [{spend: 100.00, amount: 10.00}, {spend: 200, amount: 25.5}]}
  - id: B
    benefit: {kind: buy_x_get_y, buy_qty: 2, max_quantity: 3}
"""


def test_unquoted_decimals_in_yaml_stay_exact_text() -> None:
    promos = parse_promotions(GOOD)
    assert promos[0].benefit.tiers[0].spend == "100.00"  # type: ignore[union-attr]
    assert promos[0].benefit.tiers[1].amount == "25.5"  # type: ignore[union-attr]


def test_json_files_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(dump_promotions(parse_promotions(GOOD)))
    assert [p.id for p in load_promotions(path)] == ["T", "B"]


@pytest.mark.parametrize(("text", "words"), [
    ("promotions: [{id: X, benefit: {kind: nope}}]", "kind"),
    ("promotions: [{id: X, benefit: {kind: percent_off, percent: 120}}]", "(0, 100]"),
    ("promotions: [{id: X, benefit: {kind: percent_off, percent: 5}, colour: red}]", "colour"),
    ("promotions: [{id: X, benefit: {kind: amount_off, amount: 1.005}}]", "decimals"),
    ("just: text", "promotions"),
    ("promotions: [unclosed", "not valid YAML"),
])
def test_malformed_files_are_refused_with_the_location(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError) as e:
        load_promotions(path)
    assert words in str(e.value) and "bad.yaml" in str(e.value)


def test_a_malformed_file_changes_no_stored_promotion(tmp_path: Path) -> None:
    eng = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    metadata.create_all(eng, tables=TABLES)
    repo = PromotionRepository(eng)
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert repo.load_file(good) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD + "  - id: T\n    benefit: {kind: percent_off, percent: 5}\n")  # duplicate id
    with pytest.raises(ValidationError, match="duplicate"):
        repo.load_file(bad)
    assert [p.id for p in repo.list()] == ["T", "B"]
    assert repo.get("T") == parse_promotions(GOOD)[0]


def test_upsert_and_delete_keep_the_set_valid(tmp_path: Path) -> None:
    eng = sa.create_engine("sqlite://")
    metadata.create_all(eng, tables=TABLES)
    repo = PromotionRepository(eng)
    repo.upsert(m.Promotion(id="A", benefit=m.PercentOff(percent="5")))
    with pytest.raises(ValidationError):
        repo.upsert(m.Promotion(id="B", benefit=m.PercentOff(percent="5"), combinable_with=["Z"]))
    repo.delete("A")
    with pytest.raises(NotFound):
        repo.get("A")
    with pytest.raises(NotFound):
        repo.delete("A")


@pytest.mark.postgres
def test_the_repository_works_on_postgresql(pg_url: str) -> None:
    eng = sa.create_engine(pg_url)
    metadata.create_all(eng, tables=TABLES)
    repo = PromotionRepository(eng)
    repo.replace_all(parse_promotions(GOOD))
    assert [p.id for p in repo.list()] == ["T", "B"]
    eng.dispose()


def test_the_migration_creates_the_same_tables() -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "src/pricepilot/store/migrations/versions/promotions_0001.py"
    spec = importlib.util.spec_from_file_location("promotions_0001", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert (mod.revision, mod.down_revision, mod.branch_labels) == ("promotions_0001", "0001", ("promotions",))
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    eng = sa.create_engine("sqlite://")
    with eng.begin() as conn:
        ctx = MigrationContext.configure(conn)
        mod.op = Operations(ctx)  # type: ignore[attr-defined]
        mod.upgrade()
        insp = sa.inspect(conn)
        for t in TABLES:
            assert {c["name"] for c in insp.get_columns(t.name)} == {c.name for c in t.columns}


def test_the_cli_prints_the_priced_cart(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pricepilot.cli.main import app

    root = Path(__file__).resolve().parents[2] / "examples" / "promotions"
    res = CliRunner().invoke(app, ["cart", "price", "--json", "--cart", str(root / "cart.json"),
                                   "--promotions", str(root / "brief.yaml"), "--at",
                                   "2026-12-25T10:00:00+00:00"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["total"] == 9728 and [a["id"] for a in out["applied"]] == ["HOLIDAY20", "VIP5"]
    res = CliRunner().invoke(app, ["cart", "price", "--json", "--cart", str(root / "cart.json"),
                                   "--promotions", str(root / "brief.yaml"), "--coupon", "NOPE",
                                   "--at", "2026-12-25T10:00"])
    assert json.loads(res.output)["coupons"][0]["error"] == "unknown"

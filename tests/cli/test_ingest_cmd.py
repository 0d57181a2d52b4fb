"""``pricepilot db upgrade`` and ``pricepilot ingest ...`` end to end on a SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pricepilot.cli.main import app
from pricepilot.store import open_store


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "pricepilot.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    return cfg


def test_upgrade_then_ingest_products_shoppers_and_events(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    run = CliRunner().invoke
    assert run(app, ["-c", str(cfg), "db", "upgrade"]).exit_code == 0
    (tmp_path / "p.csv").write_text("product_id,title,category,currency,unit_cost,list_price\n"
                                    "SKU-1,Mug,kitchen,EUR,4.00,9.99\n")
    res = run(app, ["-c", str(cfg), "ingest", "products", str(tmp_path / "p.csv")])
    assert res.exit_code == 0 and "1 products written" in res.output
    (tmp_path / "s.csv").write_text("customer_id,tier\nalice,gold\n")
    res = run(app, ["-c", str(cfg), "ingest", "shoppers", str(tmp_path / "s.csv")])
    assert res.exit_code == 0 and "1 shoppers written" in res.output
    (tmp_path / "e.csv").write_text(
        "event_id,type,ts,customer_id,product_id,price,currency\n"
        "e1,view,2026-03-01T10:00:00+00:00,alice,SKU-1,9.99,EUR\n"
        "e2,view,2026-03-01T10:00:00+00:00,alice,SKU-404,9.99,EUR\n")
    res = run(app, ["-c", str(cfg), "ingest", "events", str(tmp_path / "e.csv")])
    assert res.exit_code == 2
    assert "e.csv, line 3" in res.output and "SKU-404" in res.output
    rej = tmp_path / "rej.csv"
    res = run(app, ["-c", str(cfg), "ingest", "events", str(tmp_path / "e.csv"),
                    "--on-error", "skip", "--rejects", str(rej)])
    assert res.exit_code == 0, res.output
    assert "inserted" in res.output and "rejected" in res.output
    assert "SKU-404" in rej.read_text()
    store = open_store(f"sqlite:///{tmp_path / 'data' / 'pricepilot.sqlite'}")
    assert store.count_events() == 1
    store.close()


def test_an_invalid_on_error_option_is_refused(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    (tmp_path / "e.csv").write_text("event_id\n")
    res = CliRunner().invoke(app, ["-c", str(cfg), "ingest", "events", str(tmp_path / "e.csv"),
                                   "--on-error", "ignore"])
    assert res.exit_code != 0


# ------------------------------------------------------------------ issue #13, point 16

_PRODUCTS = "product_id,title,category,currency,unit_cost,list_price\nSKU-1,Mug,kitchen,EUR,4.00,9.99\n"
_EVENTS = ("event_id,type,ts,customer_id,product_id,price,currency\n"
           "e1,view,2026-03-01T10:00:00+00:00,alice,SKU-1,9.99,EUR\n")


def _loaded(tmp_path: Path) -> Path:
    cfg = _config(tmp_path)
    run = CliRunner().invoke
    assert run(app, ["-c", str(cfg), "db", "upgrade"]).exit_code == 0
    (tmp_path / "p.csv").write_text(_PRODUCTS)
    assert run(app, ["-c", str(cfg), "ingest", "products", str(tmp_path / "p.csv")]).exit_code == 0
    (tmp_path / "e.csv").write_text(_EVENTS)
    return cfg


def test_point16_rejects_file_is_written_with_its_header_when_nothing_is_rejected(tmp_path: Path) -> None:
    cfg = _loaded(tmp_path)
    rej = tmp_path / "rejects.csv"
    rej.write_text("source,unit,line,event_id,field,reason,value\nold.csv,event,2,x,y,stale,z\n")
    res = CliRunner().invoke(app, ["-c", str(cfg), "ingest", "events", str(tmp_path / "e.csv"),
                                   "--on-error", "skip", "--rejects", str(rej)])
    assert res.exit_code == 0, res.output
    # the header only: a rejects file from an earlier run does not linger as if it were this one's
    assert rej.read_text().splitlines() == ["source,unit,line,event_id,field,reason,value"]
    rej_jsonl = tmp_path / "rejects.jsonl"
    res = CliRunner().invoke(app, ["-c", str(cfg), "ingest", "events", str(tmp_path / "e.csv"),
                                   "--rejects", str(rej_jsonl)])
    assert res.exit_code == 0, res.output
    assert rej_jsonl.exists() and rej_jsonl.read_text() == ""


def test_point16_the_first_ingest_into_an_empty_store_warns_about_the_development_pseudonym_key(
        tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    run = CliRunner().invoke
    assert run(app, ["-c", str(cfg), "db", "upgrade"]).exit_code == 0
    (tmp_path / "p.csv").write_text(_PRODUCTS)
    first = run(app, ["-c", str(cfg), "ingest", "products", str(tmp_path / "p.csv")])
    assert first.exit_code == 0, first.output
    out = " ".join(first.output.split())
    assert "security.pseudonym_key is the public development key" in out
    assert "PRICEPILOT_SECURITY__PSEUDONYM_KEY" in out
    # once the store holds data, changing the key is too late to matter less: no repeat each time
    (tmp_path / "s.csv").write_text("customer_id,tier\nalice,gold\n")
    later = run(app, ["-c", str(cfg), "ingest", "shoppers", str(tmp_path / "s.csv")])
    assert later.exit_code == 0 and "pseudonym_key" not in later.output
    # a key of one's own: no warning, even on an empty store
    own = tmp_path / "own"
    own.mkdir()
    cfg2 = own / "pricepilot.toml"
    cfg2.write_text(f'[paths]\ndata_dir = "{own / "data"}"\n'
                    '[security]\npseudonym_key = "a-secret-of-this-shop-0123456789abcdef"\n')
    assert run(app, ["-c", str(cfg2), "db", "upgrade"]).exit_code == 0
    res = run(app, ["-c", str(cfg2), "ingest", "products", str(tmp_path / "p.csv")])
    assert res.exit_code == 0 and "pseudonym_key" not in res.output


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_point16_ingest_into_a_store_without_schema_says_to_run_db_upgrade(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    from pricepilot.store.errors import SchemaMissing

    if backend == "sqlite":
        cfg = _config(tmp_path)
        where = str(tmp_path / "data" / "pricepilot.sqlite")
    else:
        url = request.getfixturevalue("pg_url")  # a fresh, empty schema
        cfg = tmp_path / "pricepilot.toml"
        cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                       f'[store]\ntype = "postgresql"\nurl = "{url}"\n')
        where = "postgresql+psycopg://"
    (tmp_path / "e.csv").write_text(_EVENTS)
    res = CliRunner().invoke(app, ["-c", str(cfg), "ingest", "events", str(tmp_path / "e.csv")])
    assert res.exit_code != 0
    err = res.exception
    assert isinstance(err, SchemaMissing), repr(err)
    assert "has no schema: run `pricepilot db upgrade`" in str(err)
    assert where in str(err) and "no such table" not in str(err)
    # the command line prints it as one clean line, exit code 2
    proc = subprocess.run([sys.executable, "-m", "pricepilot.cli.main", "-c", str(cfg), "ingest",
                           "events", str(tmp_path / "e.csv")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert "has no schema: run `pricepilot db upgrade`" in " ".join(proc.stderr.split())

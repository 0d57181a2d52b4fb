"""``pricepilot db upgrade`` and ``pricepilot ingest ...`` end to end on a SQLite file."""

from __future__ import annotations

from pathlib import Path

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

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pricepilot.cli.main import app


def test_bench_shop_prints_a_table_per_seed_and_writes_the_report(tmp_path: Path) -> None:
    cfg = tmp_path / "pricepilot.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n')
    md = tmp_path / "shop.md"
    res = CliRunner().invoke(app, ["-c", str(cfg), "bench", "shop", "--seeds", "1", "--days", "2",
                                   "--history-days", "28", "--shoppers", "400", "--products", "12",
                                   "--out", str(tmp_path / "rep"), "-o", str(md)])
    assert res.exit_code == 0, res.output
    assert "seed 1" in res.output and "personalised oracle" in res.output
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "Fairness" in html and "calibration" in html and "data:image/png;base64" in html
    assert "| pricepilot |" in md.read_text(encoding="utf-8")


def test_bench_shop_refuses_zero_seeds() -> None:
    res = CliRunner().invoke(app, ["bench", "shop", "--seeds", "0"])
    assert res.exit_code != 0

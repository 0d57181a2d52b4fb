from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pricepilot.cli.main import app


def test_bench_pricing_prints_and_writes_the_table(tmp_path: Path) -> None:
    out = tmp_path / "pricing.md"
    res = CliRunner().invoke(app, ["bench", "pricing", "--seeds", "5", "--b2-seeds", "2",
                                   "--horizons", "100", "--b2-horizons", "50", "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert text.count("| B1 |") == 2 and text.count("| B2 |") == 3
    assert "| B1 | alpha=0.25 | 100 | 5 |" in res.output


def test_bench_pricing_refuses_bad_horizons() -> None:
    res = CliRunner().invoke(app, ["bench", "pricing", "--horizons", "ten"])
    assert res.exit_code != 0

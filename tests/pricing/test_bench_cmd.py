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


def test_bench_pricing_prints_the_engine_beside_the_reference_and_the_published_figures(
        tmp_path: Path) -> None:
    out = tmp_path / "pricing.md"
    res = CliRunner().invoke(app, ["bench", "pricing", "--seeds", "3", "--b2-seeds", "0",
                                   "--horizons", "40", "--engine-seeds", "1",
                                   "--engine-b2-seeds", "0", "--engine-horizons", "40",
                                   "--engine-set", "pricing.max_change_per_day=1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    header = text.splitlines()[0]
    for label in ("reference TS-update (pricing/published.py)", "engine (pricepilot.open)",
                  "published TS-update"):
        assert label in header
    rows = [line for line in text.splitlines() if line.startswith("| B1 |")]
    assert len(rows) == 2  # one per alpha: both implementations' figures on the same row
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3] == "3" and cells[9] == "1"  # reference seeds, engine seeds
        assert 0 < float(cells[4]) <= 105 and 0 < float(cells[10]) <= 105
    assert "the defaults with pricing.max_change_per_day=1" in text


def test_bench_pricing_refuses_an_unknown_engine_setting_before_running_anything() -> None:
    res = CliRunner().invoke(app, ["bench", "pricing", "--engine-set", "pricing.no_such=1"])
    assert res.exit_code != 0 and "no_such" in res.output

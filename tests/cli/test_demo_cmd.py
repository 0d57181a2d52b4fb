from pathlib import Path

import pytest
from typer.testing import CliRunner

from pricepilot.cli.main import app


def test_demo_simulates_ingests_and_writes_a_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--days", "21", "--weeks", "1",
                                      "--shoppers", "400", "--products", "16", "--seed", "3",
                                      "--live-hours", "2"])
    assert result.exit_code == 0, result.output
    report = out / "report" / "report.html"
    assert report.exists()
    html = report.read_text()
    assert "Key figures" in html and "data:image/png;base64," in html
    for section in ("oracle", "alibration", "airness", "Live loop"):
        assert section in html, section
    assert "pricepilot vs the best baseline" in result.output
    assert "guardrail violations: 0" in result.output
    assert (out / "models").is_dir()
    import sqlalchemy as sa

    eng = sa.create_engine(f"sqlite:///{out / 'pricepilot.sqlite'}")
    with eng.connect() as c:
        n = c.execute(sa.text("select count(*) from events")).scalar_one()
        gender_in_attrs = c.execute(
            sa.text("select count(*) from shoppers where attributes like '%gender%'")).scalar_one()
    eng.dispose()
    assert n > 0
    assert gender_in_attrs == 0  # the protected attribute is kept audit-only, never as a pricing attribute

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pricepilot.cli.main import COMMAND_MODULES, app


def test_sim_generate_writes_the_three_files(tmp_path: Path) -> None:
    assert "pricepilot.cli.sim_cmd" in COMMAND_MODULES
    res = CliRunner().invoke(app, ["sim", "generate", "--out", str(tmp_path), "--days", "2",
                                   "--shoppers", "100", "--products", "10", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert {p.name for p in tmp_path.iterdir()} == {"events.csv", "products.csv", "shoppers.csv", "audit"}
    assert (tmp_path / "audit" / "protected_attributes.csv").is_file()


def test_sim_generate_refuses_a_bad_size(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["sim", "generate", "--out", str(tmp_path), "--days", "0"])
    assert res.exit_code != 0

from __future__ import annotations

from typer.testing import CliRunner

from pricepilot.cli.main import app


def test_bench_robustness_lists_its_variants() -> None:
    res = CliRunner().invoke(app, ["bench", "robustness", "--list"])
    assert res.exit_code == 0, res.output
    assert "base:" in res.output and "new-catalogue-hard:" in res.output


def test_bench_robustness_refuses_an_unknown_variant() -> None:
    res = CliRunner().invoke(app, ["bench", "robustness", "--variants", "base,nope"])
    assert res.exit_code != 0
    assert "nope" in res.output

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pricepilot.config import load_settings
from pricepilot.demand.registry import ModelRegistry
from pricepilot.demand.synthetic import synthetic_frame
from pricepilot.demand.training import in_stock, promotion_verdict, train_model
from pricepilot.errors import ValidationError


@pytest.fixture
def settings(tmp_path):
    return load_settings(None, env={}, overrides={"paths.data_dir": str(tmp_path)})


def test_train_model_evaluates_out_of_time_registers_and_promotes(settings):
    frame = synthetic_frame(3000, seed=31)
    seen: list[tuple[str, float]] = []
    m = train_model(frame, settings, family="lgbm", params={"n_estimators": 20}, n_splits=2,
                    promote=True, progress=lambda msg, frac: seen.append((msg, frac)))
    reg = ModelRegistry.from_settings(settings)
    assert reg.current_version() == m.version
    assert m.metrics["log_loss"] < m.metrics["log_loss_constant"]
    assert len(m.folds) == 2 and all(f.train_ts_max < f.test_ts_min for f in m.folds)
    assert m.calibration and m.elasticity["(all)"] < 0
    in_stock_rows = int((~(frame["p_stock"] <= 0)).sum())
    assert m.metrics["rows_sold_out_dropped"] == 3000 - in_stock_rows
    assert m.data.rows == in_stock_rows and m.data.ts_max <= int(frame["ts"].max())
    assert reg.load_current().n_rows_ == in_stock_rows  # every in-stock row
    assert any(msg.startswith("evaluate") for msg, _ in seen) and seen[-1] == ("fit on all rows", 1.0)


def test_views_of_sold_out_products_are_not_demand_observations(settings):
    frame = synthetic_frame(2000, seed=33)
    frame.loc[:499, "p_stock"] = 0.0  # sold out: nobody could buy, whatever the price
    frame.loc[:499, "y"] = 0
    assert len(in_stock(frame)) == 2000 - 500 - int((frame.loc[500:, "p_stock"] <= 0).sum())
    m = train_model(frame, settings, family="logistic", n_splits=2)
    assert m.metrics["rows_sold_out_dropped"] >= 500
    frame["p_stock"] = 0.0
    with pytest.raises(ValidationError, match="sold-out"):
        train_model(frame, settings, family="logistic", n_splits=2)
    no_stock = synthetic_frame(200, seed=34).drop(columns=["p_stock"])
    assert len(in_stock(no_stock)) == 200  # nothing to judge by: every row stays


def test_search_picks_a_point_of_the_declared_grid(settings):
    m = train_model(synthetic_frame(2000, seed=32), settings, family="logistic", search=True, n_splits=2)
    assert m.params["C"] in (0.1, 1.0, 10.0)


def test_train_model_refuses_a_feature_the_settings_protect(settings):
    s = load_settings(None, env={}, overrides={
        "paths.data_dir": settings.paths.data_dir, "compliance.protected_attributes": ["u_tier"],
    })
    with pytest.raises(ValidationError, match="protected"):
        train_model(synthetic_frame(500), s, family="logistic")
    assert ModelRegistry.from_settings(s).list() == []


def test_an_unknown_family_is_refused(settings):
    with pytest.raises(ValidationError, match="family"):
        train_model(synthetic_frame(500), settings, family="svm")


def test_the_cli_trains_lists_promotes_and_rolls_back(tmp_path, monkeypatch):
    from pricepilot.cli.main import app

    monkeypatch.setenv("PRICEPILOT_PATHS__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    synthetic_frame(2000, seed=33).to_parquet(tmp_path / "frame.parquet")
    runner = CliRunner()
    first = runner.invoke(app, ["train", "--data", "frame.parquet", "--family", "logistic", "--folds", "2", "--promote"])
    assert first.exit_code == 0, first.output
    assert "log_loss" in first.output and "calibration" in first.output
    second = runner.invoke(app, ["train", "--data", "frame.parquet", "--family", "logistic", "--folds", "2"])
    assert second.exit_code == 0, second.output
    reg = ModelRegistry(tmp_path / "data" / "models")
    v1, v2 = [m.version for m in reg.list()]
    assert reg.current_version() == v1
    assert runner.invoke(app, ["models", "promote", v2]).exit_code == 0
    listing = runner.invoke(app, ["models", "list"], terminal_width=80)
    assert listing.exit_code == 0 and "logistic" in listing.output
    assert v1 in listing.output and v2 in listing.output  # whole, to copy into `promote`
    assert runner.invoke(app, ["models", "rollback"]).exit_code == 0
    assert reg.current_version() == v1


def test_the_cli_reports_a_missing_frame_as_an_error(tmp_path, monkeypatch):
    from pricepilot.cli.main import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--data", "missing.parquet"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationError)


def test_a_model_that_ranks_no_better_than_chance_is_registered_but_not_promoted(settings, caplog):
    frame = synthetic_frame(2000, seed=5)
    frame["y"] = np.random.default_rng(0).permutation(frame["y"].to_numpy())  # labels are noise
    m = train_model(frame, settings, family="logistic", n_splits=2, promote=True)
    reg = ModelRegistry.from_settings(settings)
    assert m.metrics["auc"] <= 0.5
    assert not m.promotable and "no better than chance" in (m.promotion_note or "")
    assert reg.current_version() is None  # the promotion rule held, no exception
    assert reg.manifest(m.version).promotion_note == m.promotion_note  # recorded in the registry
    assert "not promoted" in caplog.text
    # a calibration the held-out rows cannot support is recorded, not raised
    assert m.calibration_method == "none" and m.metrics["calibrated"] == 0.0
    assert "slope" in (m.calibration_note or "")


def test_the_promotion_rule_refuses_a_chance_ranking_or_no_out_of_time_evidence():
    assert promotion_verdict({"auc": 0.62}) is None
    assert promotion_verdict({"auc": float("nan")}) is None
    assert "0.500" in (promotion_verdict({"auc": 0.5}) or "")
    assert "no out-of-time" in (promotion_verdict({"cv_folds": 0.0}) or "")


def test_a_calibrated_model_says_which_calibration_it_applies(settings):
    m = train_model(synthetic_frame(3000, seed=31), settings, family="logistic", n_splits=2)
    assert m.calibration_method in {"sigmoid", "isotonic"} and m.calibration_note is None
    assert m.metrics["calibrated"] == 1.0 and m.promotable

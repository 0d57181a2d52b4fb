from pathlib import Path

import pytest

from pricepilot.config import load_settings
from pricepilot.errors import ConfigError


def test_defaults_need_no_file() -> None:
    s = load_settings(path=None, env={})
    assert s.store.type == "sqlite"
    assert s.database_url.startswith("sqlite:///")


def test_file_then_environment_with_environment_winning(tmp_path: Path) -> None:
    f = tmp_path / "pricepilot.toml"
    f.write_text('[shop]\ncurrency = "GBP"\n[ingest]\nfuture_tolerance_seconds = 10\n')
    s = load_settings(f, env={"PRICEPILOT_INGEST__FUTURE_TOLERANCE_SECONDS": "60"})
    assert s.shop.currency == "GBP"
    assert s.ingest.future_tolerance_seconds == 60


def test_wrong_type_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="ingest.future_tolerance_seconds"):
        load_settings(path=None, env={"PRICEPILOT_INGEST__FUTURE_TOLERANCE_SECONDS": "soon"})


def test_unknown_setting_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="colour"):
        load_settings(path=None, env={"PRICEPILOT_SHOP__COLOUR": "red"})


def test_invalid_values_fail_at_start_up() -> None:
    with pytest.raises(ConfigError, match="shop.currency"):
        load_settings(path=None, env={"PRICEPILOT_SHOP__CURRENCY": "XXX"})
    with pytest.raises(ConfigError, match="shop.timezone"):
        load_settings(path=None, env={"PRICEPILOT_SHOP__TIMEZONE": "Mars/Olympus"})
    with pytest.raises(ConfigError, match="store.url"):
        load_settings(path=None, env={"PRICEPILOT_STORE__TYPE": "postgresql"})
    with pytest.raises(ConfigError, match="pricing.stock_horizon_days"):
        load_settings(path=None, env={"PRICEPILOT_PRICING__STOCK_HORIZON_DAYS": "-1"})
    with pytest.raises(ConfigError, match="pricing.curve_fit"):
        load_settings(path=None, env={"PRICEPILOT_PRICING__CURVE_FIT": "spline"})


def test_a_named_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", env={})


def test_malformed_toml_is_reported_with_the_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[shop\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_settings(f, env={})


def test_several_workers_need_shared_online_state() -> None:
    with pytest.raises(ConfigError, match="service.workers"):
        load_settings(path=None, env={"PRICEPILOT_SERVICE__WORKERS": "2"})
    s = load_settings(path=None, env={"PRICEPILOT_SERVICE__WORKERS": "2",
                                      "PRICEPILOT_ONLINE__TYPE": "redis"})
    assert s.service.workers == 2

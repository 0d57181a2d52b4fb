from __future__ import annotations

import pytest

from pricepilot.config import load_settings
from pricepilot.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "value"),
    [("max_body_bytes", 100), ("port", 0), ("port", 70000), ("workers", 0),
     ("retry_after_seconds", 0), ("server", "gunicorn")],
)
def test_bad_service_settings_fail_at_start_up_naming_the_setting(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"service.{name}"):
        load_settings(path=None, env={}, overrides={f"service.{name}": value})


def test_api_keys_can_come_from_the_environment_as_a_toml_table() -> None:
    digest = "a" * 64
    s = load_settings(path=None, env={"PRICEPILOT_SERVICE__API_KEYS": f'{{ "{digest}" = ["admin"] }}'})
    assert s.service.api_keys == {digest: ["admin"]}

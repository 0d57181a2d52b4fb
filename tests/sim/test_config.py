from __future__ import annotations

from datetime import datetime

import pytest

from pricepilot.errors import ValidationError
from pricepilot.sim.config import SimConfig, validate_config


def test_default_config_is_valid() -> None:
    assert validate_config(SimConfig()).shoppers == 5000


@pytest.mark.parametrize("field,value", [
    ("days", 0), ("shoppers", 0), ("products", 0), ("categories", 0), ("competitors", 4),
    ("currency", "XXX"), ("visit_rate", 0.0), ("views_per_session", 0.5),
    ("stock_limited_share", 1.5), ("price_test_share", -0.1), ("reference_memory", 1.0),
    ("price_response", -1.0), ("cart_ratio", 0.5), ("start", datetime(2026, 1, 1)),
])
def test_each_bad_setting_is_refused_naming_its_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as e:
        validate_config(SimConfig(**{field: value}))  # type: ignore[arg-type]
    assert e.value.field == field


def test_more_categories_than_products_is_refused() -> None:
    with pytest.raises(ValidationError):
        validate_config(SimConfig(products=3, categories=8))

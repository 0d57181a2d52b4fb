"""Every YAML example in docs/promotions/ is a valid promotions file, and the settings map onto
the stacking policy."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from pricepilot.config import load_settings
from pricepilot.errors import ConfigError
from pricepilot.promotions.loader import parse_promotions
from pricepilot.promotions.policy import policy_from_settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "promotions"
BLOCKS = [(p.name, b) for p in sorted(DOCS.glob("*.md")) for b in re.findall(r"```yaml\n(.*?)```", p.read_text(), re.S)]


def test_every_promotion_type_has_a_page_with_an_example() -> None:
    kinds = {"percent_off", "amount_off", "fixed_price", "tiered", "every_spend", "buy_x_get_y", "gift", "bundle",
             "shipping"}
    shown = {msgspec.to_builtins(p.benefit)["kind"] for _, b in BLOCKS for p in parse_promotions(b)}
    assert kinds <= shown


@pytest.mark.parametrize(("page", "block"), BLOCKS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BLOCKS)])
def test_the_yaml_example_parses_and_validates(page: str, block: str) -> None:
    assert parse_promotions(block, source=page)


def test_settings_build_the_stacking_policy() -> None:
    s = load_settings(None, env={"PRICEPILOT_PROMOTIONS__COMPOUNDING": "original",
                                 "PRICEPILOT_PROMOTIONS__ROUNDING_POINT": "unit",
                                 "PRICEPILOT_SHOP__TIMEZONE": "Europe/Paris"})
    p = policy_from_settings(s)
    assert (p.compounding, p.rounding_point, p.timezone, p.best_deal) == ("original", "unit", "Europe/Paris", True)
    with pytest.raises(ConfigError):
        load_settings(None, env={"PRICEPILOT_PROMOTIONS__ALLOCATION": "random"})

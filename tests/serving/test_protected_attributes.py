"""Issue #13 point 6: protected attributes are matched on normalised names and configurable
patterns (not by exact column name), in shopper files (CSV, JSON lines), HTTP requests and model
features; innocent names that merely contain a pattern's letters are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from pricepilot.compliance.attributes import ShopperAttributes
from pricepilot.config import ComplianceSettings, load_settings
from pricepilot.errors import ValidationError
from pricepilot.events.ingest import ingest_shoppers
from pricepilot.store import open_store

DEFAULT = ComplianceSettings().protected_attributes
PROTECTED = ["attr_gender", "Gender", "customerGender", "date_of_birth", "dob", "birthDate",
             "ethnic_origin", "Religion", "shopper-age", "AGE", "sexualOrientation", "race"]
INNOCENT = ["page", "stage", "usage", "message", "language", "average_order", "tier",
            "region", "brace", "dobson", "agent", "image_url", "manager"]


@pytest.mark.parametrize("name", PROTECTED)
def test_point6_normalised_protected_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="protected attribute") as e:
        ShopperAttributes(DEFAULT).split({"tier": "gold", name: "x"})
    assert e.value.field == name
    with pytest.raises(ValidationError, match=name):
        ShopperAttributes(DEFAULT).check_feature_names(["u_views_7d", name])


@pytest.mark.parametrize("name", INNOCENT)
def test_point6_names_merely_containing_a_pattern_are_not_protected(name: str) -> None:
    assert ShopperAttributes(DEFAULT).split({name: "x"}) == ({name: "x"}, {})
    ShopperAttributes(DEFAULT).check_feature_names([name])


def test_point6_patterns_are_configurable_and_audit_only_matches_the_same_way() -> None:
    attrs = ShopperAttributes(["loyalty score", "gender"], audit_only=["gender"])
    with pytest.raises(ValidationError, match="'loyalty score'"):
        attrs.split({"LoyaltyScore": "9"})
    assert attrs.split({"customerGender": "f", "page": "1"}) == ({"page": "1"},
                                                                {"customerGender": "f"})


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_point6_shopper_files_with_a_protected_column_are_refused(tmp_path: Path,
                                                                  fmt: str) -> None:
    path = tmp_path / f"shoppers.{fmt}"
    if fmt == "csv":
        path.write_text("customer_id,tier,language,attr_gender\nc1,gold,de,f\n")
    else:
        path.write_text('{"customer_id": "c1", "tier": "gold", "language": "de", '
                        '"attr_gender": "f"}\n')
    store = open_store("sqlite://")
    store.migrate()
    settings = load_settings(None, env={})
    with pytest.raises(ValidationError, match="attr_gender.*protected") as e:
        ingest_shoppers(store, path, settings)
    assert e.value.field == "attr_gender"
    assert e.value.location == f"{path.name}, line {2 if fmt == 'csv' else 1}"
    assert store.shoppers_frame().empty  # nothing written
    kept = load_settings(None, env={}, overrides={"compliance.audit_only": ["gender"]})
    assert ingest_shoppers(store, path, kept) == 1
    shopper = store.get_shopper(next(iter(store.shoppers_frame()["user_id"])))
    assert shopper.audit_attributes == {"attr_gender": "f"}
    assert shopper.attributes == {"language": "de"}

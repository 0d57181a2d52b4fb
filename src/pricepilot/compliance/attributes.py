"""Declared shopper attributes, and the refusal of protected ones.

A shopper's attributes (tier, device, region, channel, ...) may feed prices. Attributes listed as
protected in settings (gender, age, ...) are refused, unless the shop marks them audit-only: then
they are stored for fairness audits and never reach a pricing feature.

>>> a = ShopperAttributes(protected=["gender"], audit_only=["gender"])
>>> a.split({"tier": "gold", "gender": "f"})
({'tier': 'gold'}, {'gender': 'f'})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

from pricepilot.errors import ValidationError


class Shopper(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    shopper_id: str  # pseudonymous
    tier: str | None = None
    device: str | None = None
    region: str | None = None
    channel: str | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)  # usable in pricing
    audit_attributes: dict[str, str] = msgspec.field(default_factory=dict)  # never in pricing
    personalisation_consent: bool = True


class ShopperAttributes:
    def __init__(self, protected: Iterable[str], audit_only: Iterable[str] = ()) -> None:
        self.protected = {p.lower() for p in protected}
        self.audit_only = {a.lower() for a in audit_only}

    def split(self, attrs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Return (pricing attributes, audit-only attributes); refuse protected ones."""
        usable: dict[str, str] = {}
        audit: dict[str, str] = {}
        for k, v in attrs.items():
            key = k.lower()
            if key in self.protected:
                if key not in self.audit_only:
                    raise ValidationError(
                        "shopper", k,
                        "is a protected attribute and may not be stored; mark it audit-only "
                        "in compliance.audit_only to keep it for fairness audits",
                    )
                audit[k] = v
            else:
                usable[k] = v
        return usable, audit

    def check_feature_names(self, names: Iterable[str]) -> None:
        """Refuse a model feature list that includes a protected attribute."""
        bad = sorted(n for n in names if n.lower() in self.protected or
                     any(n.lower().startswith(p + "_") or n.lower().endswith("_" + p)
                         for p in self.protected))
        if bad:
            raise ValidationError("model features", None, f"protected attributes used: {bad}")

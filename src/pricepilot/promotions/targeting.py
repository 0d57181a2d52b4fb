"""An index of promotions by SKU, category and brand, so a cart only looks at what can apply.

>>> from pricepilot.promotions.model import Promotion, PercentOff, Targeting
>>> from pricepilot.promotions.validation import compile_promotion
>>> idx = PromotionIndex([compile_promotion(Promotion(id="A", benefit=PercentOff(percent="5"),
...                                                  targeting=Targeting(skus=["S1"])))])
>>> [c.id for c in idx.candidates({"S1"}, set(), set())], idx.candidates({"S2"}, set(), set())
(['A'], [])
"""

from __future__ import annotations

from collections.abc import Iterable

from pricepilot.promotions import model as m
from pricepilot.promotions.validation import Compiled


def _targetings(c: Compiled) -> list[m.Targeting]:
    b = c.spec.benefit
    ts = [c.spec.targeting]
    if isinstance(b, m.BuyXGetY):
        ts += [t for t in (b.buy, b.get) if t is not None]
    return ts


class PromotionIndex:
    def __init__(self, promotions: Iterable[Compiled]) -> None:
        self.always: list[Compiled] = []
        self.by_sku: dict[str, list[Compiled]] = {}
        self.by_category: dict[str, list[Compiled]] = {}
        self.by_brand: dict[str, list[Compiled]] = {}
        for c in promotions:
            b = c.spec.benefit
            if isinstance(b, m.Bundle):
                for sku in b.items:
                    self.by_sku.setdefault(sku, []).append(c)
                continue
            ts = _targetings(c)
            # gifts and shipping need no item in range; an untargeted promotion meets every cart
            if any(t.is_all for t in ts) or isinstance(b, m.ShippingDiscount):
                self.always.append(c)
                continue
            for t in ts:
                for sku in t.skus:
                    self.by_sku.setdefault(sku, []).append(c)
                for cat in t.categories:
                    self.by_category.setdefault(cat, []).append(c)
                for br in t.brands:
                    self.by_brand.setdefault(br, []).append(c)

    def candidates(self, skus: set[str], categories: set[str], brands: set[str]) -> list[Compiled]:
        """Promotions that could touch a cart with these SKUs, categories and brands, by id."""
        seen: dict[str, Compiled] = {c.id: c for c in self.always}
        for key, table in ((skus, self.by_sku), (categories, self.by_category), (brands, self.by_brand)):
            for k in key:
                for c in table.get(k, ()):
                    seen[c.id] = c
        return [seen[k] for k in sorted(seen)]

    def for_line(self, sku: str, category: str | None, brand: str | None) -> list[Compiled]:
        """Targeted (non-storewide) promotions indexed under this line's SKU, category or brand."""
        out = list(self.by_sku.get(sku, ()))
        if category is not None:
            out += self.by_category.get(category, ())
        if brand is not None:
            out += self.by_brand.get(brand, ())
        return list({c.id: c for c in out}.values())

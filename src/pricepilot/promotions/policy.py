"""The per-shop stacking policy: how promotions combine, compound and round.

Built from ``Settings.promotions`` (plus the shop's time zone) or directly.

>>> StackingPolicy().compounding
'running_net'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from pricepilot.money import RoundingMode

if TYPE_CHECKING:
    from pricepilot.config import Settings


class StackingPolicy(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    # percentages apply to the running net price (compound) or to the original price
    compounding: Literal["running_net", "original"] = "running_net"
    # spend thresholds compare against the running net or the original subtotal
    threshold_base: Literal["running_net", "original"] = "running_net"
    rounding: RoundingMode = "half_up"
    # where a percentage is rounded to minor units: each unit, each line, or once per promotion
    rounding_point: Literal["unit", "line", "promotion"] = "line"
    # how leftover minor units of an allocation are placed
    allocation: Literal["largest_remainder", "remainder_to_first", "remainder_to_last"] = (
        "largest_remainder"
    )
    # "deals": units used by a multi-unit deal (buy-x-get-y, fixed price, bundle) are consumed
    # for other deals; "all": every item-stage promotion consumes the units it discounts
    consumption: Literal["deals", "all"] = "deals"
    # among mutually exclusive options, pick the combination saving the customer most;
    # otherwise exclusive promotions win by priority (an eligible exclusive applies alone)
    best_deal: bool = True
    timezone: str = "UTC"


def policy_from_settings(settings: Settings) -> StackingPolicy:
    p = settings.promotions
    return StackingPolicy(
        compounding=p.compounding,
        threshold_base=p.threshold_base,
        rounding=p.rounding,
        rounding_point=p.rounding_point,
        allocation=p.allocation,
        consumption=p.consumption,
        best_deal=p.best_deal,
        timezone=settings.shop.timezone,
    )

"""The result of a price decision and its explanation (msgspec structs, JSON-ready).

The explanation lists the model price, then each pipeline stage in order with the price before and
after it, and names the binding rule: the last stage that changed the price (``"model"`` when none
did). See ``docs/pricing.md`` for the format.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class StageEffect(msgspec.Struct, frozen=True, kw_only=True):
    stage: str  # smoothing | ceiling | competitor_band | max_change | price_ending | margin_floor | personal
    before: int
    after: int
    rule: str
    # expected profit per view this stage gave up, minor units (negative: it gained);
    # None where no demand curve is known (fallback, personal layer): see pricing/stage_cost.py
    profit_cost: float | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


class Explanation(msgspec.Struct, frozen=True, kw_only=True):
    model_price: int | None  # what the objective + exploration chose (None in fallback)
    greedy_price: int | None  # the posterior-mean optimum, without exploration
    stages: list[StageEffect]
    binding_rule: str  # stage name of the last change, or "model" / "fallback"
    reason: str = ""  # why a fallback happened, or notes (LP capacity...)
    lp_capacity: float | None = None


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    product_id: str
    price: int  # minor units, what the shopper is offered
    base_price: int  # the public price before the personal layer
    list_price: int
    reference_price: int | None  # lowest price of the previous 30 days (shown beside reductions)
    is_reduction: bool  # price below the reference price: show the reference
    currency: str
    personalised: bool
    fallback: bool
    explanation: Explanation
    model_version: str | None
    propensity: float  # P(policy serves this base price | state)
    candidates_evaluated: int
    decided_at: datetime
    expires_at: datetime
    # the public demand curve the optimiser saw (no shopper features, before the posterior) at
    # ``price``: what an outcome at this price is learnt against; None if not known exactly
    public_probability: float | None = None

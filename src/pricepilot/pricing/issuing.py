"""How a served price becomes a :class:`~pricepilot.pricing.decision.Decision`: its time stamps
and expiry, the model version, the 30-day prior price read from the history (before the price
is recorded there: a price is not its own prior price), the public P(buy) at the price, and the
explanation's pieces shared by the single and the page path; plus the list-price fallback.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from pricepilot.money import format_money
from pricepilot.pricing.decision import Decision, Explanation, StageEffect
from pricepilot.pricing.guardrails import GuardrailSpec, apply_guardrails, stage_rules
from pricepilot.pricing.prep import EngineState, Prep
from pricepilot.pricing.public_curve import PublicCurves

Stamp = tuple[datetime, datetime, datetime, datetime, str | None]


class Lookup:
    """Marker: the decision's prior price is read from the history."""


LOOKUP = Lookup()


class Issuer:
    """Makes an engine's decisions (``engine`` a weak proxy of it) and records its public
    prices in the history when they change."""

    def __init__(self, engine: EngineState) -> None:
        self._engine = engine
        self._last_recorded: dict[str, int] = {}
        self._rules_cache: dict[GuardrailSpec, dict[str, str]] = {}

    def decision(self, prep: Prep, price: int, base_price: int, personalised: bool, fallback: bool,
                 expl: Explanation, propensity: float, stamp: Stamp | None = None,
                 reference: int | None | Lookup = LOOKUP) -> Decision:
        engine = self._engine
        now, expires, since, until, version = stamp or self.stamp(engine.clock.now())
        product = prep.product
        if isinstance(reference, Lookup):
            history = engine.history
            reference = (None if history is None
                         else history.lowest(product.product_id, since, until))
        current = prep.ctx.current_price if prep.ctx.current_price is not None else product.list_price
        return Decision(
            product_id=product.product_id, price=price, base_price=base_price,
            list_price=product.list_price, reference_price=reference,
            is_reduction=price < current, currency=product.currency,
            personalised=personalised, fallback=fallback, explanation=expl,
            model_version=version, propensity=propensity,
            candidates_evaluated=int(prep.cands.shape[0]), decided_at=now,
            expires_at=expires,
            public_probability=None if fallback else PublicCurves.public_at(prep, price),
        )

    def record(self, product_id: str, price: int) -> None:
        """Record the public base price in the history when it changes (the 30-day prior price)."""
        engine = self._engine
        history = engine.history
        if history is None or self._last_recorded.get(product_id) == price:
            return
        history.record(product_id, engine.clock.now(), price)
        self._last_recorded[product_id] = price

    def stamp(self, now: datetime) -> Stamp:
        """What every decision made at ``now`` shares: (now, expiry, prior-price window start and
        end, model version), computed once for a page."""
        engine = self._engine
        settings = engine.settings
        days = settings.compliance.prior_price_days
        version = None
        model = engine.model
        if model is not None:
            try:
                version = str(model.version)
            except Exception:  # a broken model must not break the fallback path; version unknown
                version = None
        # strictly before now: the price being decided is not its own prior price
        return (now, now + timedelta(seconds=settings.security.quote_ttl_seconds),
                now - timedelta(days=days), now - timedelta(microseconds=1), version)

    def stage_rules(self, spec: GuardrailSpec) -> dict[str, str]:
        """:func:`stage_rules`, cached: a pure function of the (frozen) spec."""
        rules = self._rules_cache.get(spec)
        if rules is None:
            rules = stage_rules(spec)
            if len(self._rules_cache) >= 100_000:
                self._rules_cache.clear()
            self._rules_cache[spec] = rules
        return rules

    def fallback(self, prep: Prep, reason: str) -> Decision:
        """The list price inside the guardrails, ``fallback=True``, the reason explained."""
        lp = np.array([prep.product.list_price], dtype=np.int64)
        finals, trace = apply_guardrails(lp, prep.spec)
        stages = [StageEffect(stage=t.name, before=int(t.before[0]), after=int(t.after[0]), rule=t.rule)
                  for t in trace]
        changed = binding(stages)
        expl = Explanation(model_price=None, greedy_price=None, stages=stages,
                           binding_rule=changed if changed != "model" else "fallback",
                           reason=f"fallback to the list price: {reason}")
        price = int(finals[0])
        return self.decision(prep, price, price, False, True, expl, 1.0)


def binding(stages: list[StageEffect]) -> str:
    """The last stage that moved the price ("model": none did)."""
    for s in reversed(stages):
        if s.before != s.after:
            return s.stage
    return "model"


def smoothing_rule(current: int | None, alpha: float, currency: str, *, lp: bool = False) -> str:
    """The smoothing stage's note; the current price in major units with the currency.

    >>> smoothing_rule(2158, 0.5, "EUR")
    'p_cur EUR 21.58 + 0.5 (p_opt - p_cur)'
    >>> smoothing_rule(2158, 1.0, "EUR", lp=True)
    'not smoothed: a price of the inventory LP mixture'
    """
    if lp:
        return "not smoothed: a price of the inventory LP mixture"
    if current is None:
        return "no current price: no smoothing"
    if alpha >= 1.0:
        return "smoothing off (alpha = 1)"
    return f"p_cur {format_money(current, currency)} + {alpha:g} (p_opt - p_cur)"

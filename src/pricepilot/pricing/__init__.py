"""Real-time price decisions: candidates, demand, objective with the inventory LP, Thompson
sampling, smoothing, ordered guardrails, the personal layer, the 30-day prior price, signed quotes.

Start with :class:`~pricepilot.pricing.engine.PricingEngine`; see ``docs/pricing.md``.
"""

from __future__ import annotations

from pricepilot.pricing.decision import Decision, Explanation, StageEffect
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.history import InMemoryPriceHistory, PriceHistory
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.pricing.quotes import QuoteSigner, SignedQuote

__all__ = [
    "Context", "Decision", "DemandPosterior", "Explanation", "InMemoryPriceHistory", "Outcome",
    "PriceHistory", "PricingEngine", "QuoteSigner", "SignedQuote", "StageEffect",
]

"""Quoting: one use case, from a quote request to signed, logged, explained quotes.

For each requested product: the online features, the moment's context (lowest competitor price,
today's public base price for smoothing and the daily change limit, the expected arrival rate
and the latest stock for the inventory LP), one vectorised engine decision for the page, a
signature, the decision record, the prior-price disclosure, and the quote remembered for outcome
learning. :meth:`Quoting.fallback` is the guarded list price for when a dependency failed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import datetime

import msgspec

from pricepilot.catalog.models import Product
from pricepilot.clock import Clock
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings
from pricepilot.errors import NotFound, PricepilotError, Unavailable, ValidationError
from pricepilot.features.online import OnlineFeatures
from pricepilot.ids import uuid7_hex
from pricepilot.money import format_amount
from pricepilot.pricing.decision import Decision
from pricepilot.pricing.engine import Context
from pricepilot.pricing.quotes import QuoteSigner
from pricepilot.serving import schemas as s
from pricepilot.serving.adapters import ANONYMOUS, encode_token, wire_quote
from pricepilot.serving.base_prices import BasePrices
from pricepilot.serving.catalogue import Catalogue
from pricepilot.serving.decision_log import DecisionLog
from pricepilot.serving.learning import Item, Learning
from pricepilot.serving.shoppers import ShopperDirectory
from pricepilot.store.records import DecisionRecord

ANON_FEATURE_USER = "anonymous"  # online-feature key of shoppers without a customer id
HOURS_7D = 7 * 24.0
PRIOR_HOURS = 24.0  # the arrival prior is worth one day of traffic
log = logging.getLogger("pricepilot.serving.quoting")


def arrivals_per_hour(views_7d: object, prior_per_hour: float,
                      observed_hours: object = HOURS_7D) -> float:
    """Expected shoppers per hour who see the product (``pricing.prior_arrivals_per_hour``
    until it has traffic): the last 7 days' views over the hours they were observed (since
    the product's first view, at most 7 days), with a Gamma-Poisson prior worth one day. A
    product first seen this morning is not diluted over a week it did not exist.

    No view yet says nothing of the traffic to come (a new product, a new install): the prior.

    >>> arrivals_per_hour(0.0, 0.1), round(arrivals_per_hour(336.0, 0.1), 3)
    (0.1, 1.762)
    >>> round(arrivals_per_hour(6.0, 0.1, observed_hours=6.0), 3)  # six views in its first six hours
    0.28
    """
    views = float(views_7d) if isinstance(views_7d, (int, float)) and math.isfinite(views_7d) else 0.0
    if views <= 0:
        return prior_per_hour
    hours = (float(observed_hours) if isinstance(observed_hours, (int, float))
             and math.isfinite(observed_hours) else HOURS_7D)
    hours = min(max(hours, 0.0), HOURS_7D)
    return (views + prior_per_hour * PRIOR_HOURS) / (hours + PRIOR_HOURS)


def _units(v: object) -> float:
    """Units a purchase takes, from the features (1 when unknown)."""
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) and v >= 1.0 else 1.0


class Quoting:
    def __init__(self, settings: Settings, clock: Clock, pseudonymise: Pseudonymiser,
                 catalogue: Catalogue, shoppers: ShopperDirectory, features: OnlineFeatures,
                 learning: Learning, base_prices: BasePrices, signer: QuoteSigner,
                 decisions: DecisionLog) -> None:
        self.settings = settings
        self.clock = clock
        self.pseudonymise = pseudonymise
        self.catalogue = catalogue
        self.shoppers = shoppers
        self.features = features
        self.learning = learning
        self.base_prices = base_prices
        self.signer = signer
        self.decisions = decisions

    def quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        state = self.learning.pricing()
        if state.loaded.model is None:
            raise Unavailable("demand model", state.loaded.reason)
        products = [self.catalogue.product(pid) for pid in request.product_ids]
        _check_currency(request, products)
        now = self.clock.now()
        user_id = self.pseudonymise(request.customer_id) if request.customer_id else None
        shopper = self.shoppers.get(user_id)
        try:
            feats = self.features.features_many(
                user_id or ANON_FEATURE_USER, products, now, request.session_id,
                shopper=shopper, device=request.device, channel=request.channel)
        except Exception as e:
            raise Unavailable("online features", str(e)) from e
        items = [self._item(p, f, now) for p, f in zip(products, feats, strict=True)]
        personal = shopper if shopper is not None and shopper.personalisation_consent else None
        with self.learning.lock:
            decisions = state.engine.decide_page(items, personal)
        for d, (_p, f, _c) in zip(decisions, items, strict=True):
            if not d.fallback:
                self.base_prices.decided(d.product_id, now, d.base_price,
                                         temporary=_promotion_day(f))
        response = self._respond(decisions, user_id, request, fallback=False)
        if user_id is not None and (shopper is None or shopper.personalisation_consent):
            self.learning.remember(state, items, decisions,
                                   [q.quote_id for q in response.quotes], user_id)
        return response

    def _item(self, product: Product, f: dict[str, object], now: datetime) -> Item:
        stock = f.get("p_stock")
        if isinstance(stock, float) and math.isfinite(stock) and int(stock) != product.stock:
            # the latest inventory event, not the catalogue's count, is what is left to sell
            product = msgspec.structs.replace(product, stock=max(int(stock), 0))
        comp = f.get("competitor_price")
        ctx = Context(
            competitor_price=_opt_int(comp),
            competitor_regular_price=_opt_int(f.get("competitor_regular_price")),
            current_price=self.base_prices.current(product.product_id, now,
                                                   list_price=product.list_price),
            arrivals_per_hour=arrivals_per_hour(f.get("p_views_7d"),
                                                self.settings.pricing.prior_arrivals_per_hour,
                                                f.get("p_views_hours", HOURS_7D)),
            units_per_purchase=_units(f.get("p_units_per_purchase")))
        return product, f, ctx

    def fallback(self, request: s.QuoteRequest) -> s.QuoteResponse:
        """Guarded list prices with ``fallback=True``: the cached catalogue (a product missing
        from it is read from the store) and the signing key, nothing else."""
        products = []
        for pid in request.product_ids:
            p = self.catalogue.cached(pid)
            if p is None:
                try:
                    p = self.catalogue.product(pid)
                except NotFound:
                    raise
                except PricepilotError as e:
                    raise Unavailable("catalogue", f"product {pid!r} is not cached: {e}") from e
            products.append(p)
        _check_currency(request, products)
        user_id = self.pseudonymise(request.customer_id) if request.customer_id else None
        decisions = self.learning.fallback_engine.decide_page([(p, {}, None) for p in products], None)
        return self._respond(decisions, user_id, request, fallback=True)

    def _respond(self, decisions: list[Decision], user_id: str | None,
                 request: s.QuoteRequest, *, fallback: bool) -> s.QuoteResponse:
        quotes: list[s.Quote] = []
        records: list[DecisionRecord] = []
        context = {k: v for k, v in (("session_id", request.session_id),
                                     ("channel", request.channel), ("device", request.device),
                                     ("region", request.region)) if v is not None}
        days = self.settings.compliance.prior_price_days
        for d in decisions:
            qid = uuid7_hex()  # time-ordered: the decision log appends at its index edge
            signed = self.signer.sign(qid, user_id or ANONYMOUS, d.product_id, d.price,
                                      d.currency, d.expires_at)
            quotes.append(wire_quote(d, signed, encode_token(signed), disclosure(d, days)))
            records.append(DecisionRecord(
                decision_id=qid, ts=d.decided_at, user_id=user_id, product_id=d.product_id,
                price=d.price, list_price=d.list_price, currency=d.currency,
                model_version=d.model_version or "none", propensity=d.propensity,
                personalised=d.personalised, fallback=d.fallback or fallback,
                binding_rule=d.explanation.binding_rule,
                explanation=msgspec.to_builtins(d.explanation), context=context,
            ))
        try:
            self.decisions.append(records)
        except PricepilotError:
            if not fallback:
                raise  # the caller serves the fallback, which tries once more
            # the fallback must answer even with the store down; the loss is logged loudly
            log.exception(
                "decision log unavailable: %d fallback quotes not logged", len(records))
        return s.QuoteResponse(quotes=quotes, fallback=fallback or any(q.fallback for q in quotes))


def _check_currency(request: s.QuoteRequest, products: list[Product]) -> None:
    if request.currency is None:
        return
    for i, p in enumerate(products):
        if p.currency != request.currency:
            raise ValidationError("quote", f"$.product_ids[{i}]",
                                  f"product is priced in {p.currency}, not {request.currency}")


def disclosure(d: Decision, days: int) -> str | None:
    """The shopper-facing text: personalisation, and the prior price beside a reduction."""
    parts = []
    if d.personalised:
        parts.append("This price is personalised, based on your activity in this shop.")
    if d.is_reduction and d.reference_price is not None:
        parts.append(f"Lowest price in the previous {days} days: "
                     f"{format_amount(d.reference_price, d.currency)} {d.currency}.")
    return " ".join(parts) or None


def _promotion_day(f: Mapping[str, object]) -> bool:
    """A competitor runs a promotion on the product, or it is a holiday: today's price is not
    carried into tomorrow's base."""
    return f.get("p_comp_on_promo") == 1.0 or f.get("c_holiday") == 1.0


def _opt_int(v: object) -> int | None:
    if v is None:
        return None
    try:
        return int(v)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return None


__all__ = ["Quoting", "arrivals_per_hour", "disclosure"]

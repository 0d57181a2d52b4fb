"""The real-time price decision: candidates → demand → objective (+ inventory LP) → Thompson
sampling → smoothing → ordered guardrails → personal layer → prior price → :class:`Decision`.

Model problems never reach the caller: no model, a model that raises, or a curve with NaN, values
outside [0, 1] or the wrong length gives the list price inside the guardrails with
``fallback=True`` and the reason in the explanation. Bad *input* (protected attributes among the
features) is refused with :class:`~pricepilot.errors.ValidationError`.

:class:`PricingEngine` holds the state and makes single decisions (and a page's ladder
products); its parts, each with its own caches, are composed in: :class:`~.prep.Preparer`
(features, candidates, guardrail spec), :class:`~.public_curve.PublicCurves` (the model's base
curves, their fit and cache), :class:`~.page.PagePricer` (a page's grid products in one
vectorised pass), :class:`~.personal_layer.PersonalLayer` and :class:`~.issuing.Issuer` (the
:class:`Decision` value, the prior price, the price history). They read the engine's public
state (``model``, ``posterior``, ``rng``, ...) at call time through a weak proxy, so there is one
random stream and a caller may replace any of it.

>>> from datetime import datetime, timezone
>>> from pricepilot.catalog.models import Guardrails, Product
>>> from pricepilot.clock import FixedClock
>>> from pricepilot.config import load_settings
>>> from pricepilot.pricing.testing import LogitDemand
>>> engine = PricingEngine(load_settings(path=None, env={}), LogitDemand(a=1.0, b=4.0),
...                        clock=FixedClock(datetime(2026, 1, 1, tzinfo=timezone.utc)), seed=1)
>>> mug = Product(product_id="MUG", title="Mug", category="kitchen", currency="EUR",
...               unit_cost=400, list_price=999, guardrails=Guardrails(min_margin=0.3))
>>> d = engine.decide(mug, {})
>>> d.price >= 572, d.fallback, d.explanation.stages[-1].stage
(True, False, 'margin_floor')
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import cast

import numpy as np

from pricepilot.catalog.models import Guardrails, Product
from pricepilot.clock import Clock, SystemClock
from pricepilot.compliance.attributes import Shopper
from pricepilot.config import Settings
from pricepilot.demand.base import DemandModel
from pricepilot.money import exponent
from pricepilot.pricing.decision import Decision, Explanation, StageEffect
from pricepilot.pricing.explore import Choice, safe_set, thompson_choice
from pricepilot.pricing.guardrails import StageTrace, apply_guardrails
from pricepilot.pricing.history import PriceHistory
from pricepilot.pricing.issuing import Issuer, binding, smoothing_rule
from pricepilot.pricing.lp import solve_single_resource
from pricepilot.pricing.objective import margin_weights, stock_capacity
from pricepilot.pricing.page import PagePricer
from pricepilot.pricing.personal_layer import PersonalLayer
from pricepilot.pricing.posterior import DemandPosterior, Outcome, sample_beta
from pricepilot.pricing.prep import (
    I64,
    SHOPPER_PREFIX,
    Context,
    EngineState,
    F,
    Prep,
    Preparer,
    checked,
    horizon_hours,
    smoothed,
)
from pricepilot.pricing.public_curve import PublicCurves
from pricepilot.pricing.stage_cost import with_costs

log = logging.getLogger(__name__)
MAX_PAGE = 100


class PricingEngine:
    """Decides prices; see the module docstring for the pipeline.

    ``posterior`` (Thompson sampling) and ``history`` (30-day prior price) are optional: without a
    posterior the model's curve is used as is (propensity 1); without a history no reference
    price is given. ``draws`` is the number of posterior draws used to estimate the propensity
    (``lp_draws`` of them for stock-limited products, where every draw costs an LP).
    """

    def __init__(
        self,
        settings: Settings,
        model: DemandModel | None,
        posterior: DemandPosterior | None = None,
        history: PriceHistory | None = None,
        clock: Clock | None = None,
        *,
        categories: dict[str, Guardrails] | None = None,
        draws: int = 64,
        lp_draws: int = 16,
        seed: int | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self.posterior = posterior
        self.history = history
        self.clock: Clock = clock or SystemClock()
        self.categories = categories
        self.draws = max(1, draws)
        self.lp_draws = max(1, min(lp_draws, self.draws))
        self.rng = np.random.default_rng(seed)
        # the parts read this engine's state through a weak proxy: no reference cycle, so a
        # replaced engine (a model reload) is freed with its caches even after gc.freeze()
        state = cast(EngineState, weakref.proxy(self))
        self._prep = Preparer(state)
        self._curves = PublicCurves(state)
        self._issuer = Issuer(state)
        self._page = PagePricer(state, self._curves, self._issuer)
        self._personal = PersonalLayer(state, self._curves, self._issuer)
        # (weights, smoothed candidates, final prices, guardrail trace) of a single decision
        self._single_cache: dict[tuple[object, ...], tuple[F, I64, I64, list[StageTrace]]] = {}

    # ---- public API -----------------------------------------------------------------------
    def decide(
        self,
        product: Product,
        features: Mapping[str, object],
        shopper: Shopper | None = None,
        context: Context | None = None,
    ) -> Decision:
        """The price for ``product`` now, for ``shopper`` (None: anonymous, no personal layer)."""
        prep = self._prep.prepare(product, features, context)
        curve, reason = self._curves.one(prep)
        base = self._base(prep, curve, reason)
        personal = self._personal
        if not personal.on(shopper) or base.fallback:
            return base
        prices = personal.prices(prep, base.base_price)
        return personal.apply(prep, base, personal.one(prep, prices), shopper, prices)

    def decide_page(
        self,
        items: Sequence[tuple[Product, Mapping[str, object], Context | None]],
        shopper: Shopper | None = None,
    ) -> list[Decision]:
        """Decisions for up to 100 products (one page), with one batched model call."""
        if len(items) > MAX_PAGE:
            from pricepilot.errors import ValidationError

            raise ValidationError("page", None, f"at most {MAX_PAGE} products, got {len(items)}")
        prepare = self._prep.prepare
        preps = [prepare(p, f, c) for p, f, c in items]
        self._curves.attach(preps)
        personal = self._personal
        if not personal.on(shopper):
            curves, reasons = self._curves.page(preps)
            return self._base_page(preps, curves, reasons)
        # with the personal layer on, one model call answers both the base curves and the
        # shopper's curves over every personal price any servable base price can lead to;
        # base decisions first, then one batched personal call for the rest of the page
        curves, reasons, ahead = personal.curves_with(preps)
        return personal.page(preps, self._base_page(preps, curves, reasons), ahead, shopper)

    def public_probabilities(
        self,
        items: Sequence[tuple[Product, Mapping[str, object], Context | None]],
        prices: Sequence[int],
    ) -> list[float]:
        """The public demand curve (no shopper features, before the posterior) at one price per
        item, as the optimiser sees it (``pricing.curve_fit`` applied over the item's candidates
        and that price): the ``model_prob`` an :class:`Outcome` at that price is learnt against.
        NaN where there is no usable model."""
        model = self.model
        if model is None or not items:
            return [float("nan")] * len(items)
        preps = [self._prep.prepare(p, f, c) for p, f, c in items]
        grids = [np.union1d(pr.cands, np.array([price], dtype=np.int64)) for pr, price in zip(preps, prices, strict=True)]
        try:
            res = model.predict_curves([pr.base_features for pr in preps], grids,
                                       [pr.product.list_price for pr in preps],
                                       [pr.ctx.competitor_price for pr in preps])
        except Exception:  # a failing model only loses the posterior's Gaussian step (NaN)
            log.exception("public probabilities: the demand model failed; outcomes learn counts only")
            return [float("nan")] * len(items)
        out = []
        for pr, grid, c, price in zip(preps, grids, res, prices, strict=True):
            chk = checked(c, grid.shape[0])
            if isinstance(chk, str):
                out.append(float("nan"))
                continue
            on_grid = np.isin(grid, pr.cands)  # the fit is the decision's: over the candidates
            self._curves.public_curve(pr, chk[on_grid])
            got = self._curves.public_at(pr, int(price))
            out.append(float(chk[int(np.searchsorted(grid, price))]) if got is None else got)
        return out

    def learn(self, outcome: Outcome) -> None:
        """Feed one observed outcome to the posterior (prices react from the next decision)."""
        if self.posterior is not None:
            self.posterior.learn_one(outcome)

    # ---- the pipeline -------------------------------------------------------------------------
    def _base(self, prep: Prep, curve: F | None, reason: str) -> Decision:
        """The public base price decision (no personal layer yet)."""
        now = self.clock.now()
        product = prep.product
        ps = self.settings.pricing
        if curve is None:
            return self._issuer.fallback(prep, reason)
        curve = self._curves.public_curve(prep, curve)
        cap = stock_capacity(product.stock, product.season_end, now, prep.ctx.arrivals_per_hour,
                             horizon_hours(ps), prep.ctx.units_per_purchase)
        # the inventory LP's mixture is served as drawn: smoothing it would change its sell-through
        alpha = 1.0 if cap is not None else ps.smoothing_alpha
        weights, smooth, finals, trace = self._single_static(prep, alpha)
        draws, mean = self._draws(prep, curve)
        # the LP per draw costs more than an argmax: fewer draws estimate the LP's propensity
        choice: Choice = thompson_choice(draws if cap is None else draws[: self.lp_draws],
                                         weights, cap, self.rng,
                                         safe=safe_set(mean * weights, ps.exploration_max_loss))
        if cap is None:
            greedy = int(np.argmax(mean * weights))
        else:
            x, _ = solve_single_resource((mean * weights)[None], mean[None], np.array([cap]))
            greedy = int(np.argmax(x[0])) if x[0].sum() > 0 else prep.cands.shape[0] - 1
        # every candidate mapped through smoothing + guardrails (above): the served price's
        # propensity is the policy probability of all candidates that end at it
        i = choice.index
        price = int(finals[i])
        # a sum of probabilities: rounding must not take it past 1 (the decision log refuses it)
        propensity = min(float(choice.probs[finals == price].sum()), 1.0)
        stages = [StageEffect(stage="smoothing", before=int(prep.cands[i]), after=int(smooth[i]),
                              rule=smoothing_rule(prep.ctx.current_price, alpha, product.currency,
                                                  lp=cap is not None))]
        stages += [StageEffect(stage=t.name, before=int(t.before[i]), after=int(t.after[i]), rule=t.rule)
                   for t in trace]
        stages = with_costs(stages, prep.cands, mean, product.unit_cost)
        notes = (("inventory LP (TS-update)" if choice.lp_used else "unconstrained optimum")
                 + self._curves.fit_note())
        expl = Explanation(
            model_price=int(prep.cands[i]), greedy_price=int(prep.cands[greedy]), stages=stages,
            binding_rule=binding(stages), reason=notes, lp_capacity=cap,
        )
        # the prior price is read before this price is recorded: it is not its own prior price
        decision = self._issuer.decision(prep, price, price, False, False, expl, propensity)
        self._issuer.record(product.product_id, price)
        return decision

    def _base_page(self, preps: list[Prep], curves: list[F | None], reasons: list[str]) -> list[Decision]:
        """Base decisions for a page: grid products in one vectorised pass
        (:class:`~.page.PagePricer`), the rest (ladders, fallbacks) one by one."""
        out: list[Decision | None] = [None] * len(preps)
        grid = [i for i, (p, c) in enumerate(zip(preps, curves, strict=True))
                if c is not None and not p.g.ladder]
        in_grid = set(grid)
        for i, (prep, curve, reason) in enumerate(zip(preps, curves, reasons, strict=True)):
            if i not in in_grid:
                out[i] = self._base(prep, curve, reason)
        if grid:
            for i, d in zip(grid, self._page.decide([preps[i] for i in grid],
                                                    [curves[i] for i in grid]), strict=True):
                out[i] = d
        return [d for d in out if d is not None]

    def _draws(self, prep: Prep, curve: F) -> tuple[F, F]:
        """(M, K) posterior draws of P(buy) and the posterior mean curve."""
        post = self.posterior
        if post is None:
            return curve[None, :], curve
        p = prep.product
        if prep.g.ladder:
            a, b = post.beta_params(p.product_id, p.category, prep.cands, p.list_price, curve)
            mean = a / (a + b)
            if not self.settings.pricing.exploration:
                return mean[None, :], mean
            return sample_beta(a, b, self.draws, self.rng), mean
        mu, cov = post.correction(p.product_id, p.category)
        ratios = prep.cands / float(p.list_price)
        mean = post.corrected(curve, ratios, mu)
        if not self.settings.pricing.exploration:
            return mean[None, :], mean
        chol = np.linalg.cholesky(cov)
        thetas = mu[None, :] + self.rng.standard_normal((self.draws, 2)) @ chol.T
        return post.corrected(curve, ratios, thetas), mean

    def _single_static(self, prep: Prep, alpha: float) -> tuple[F, I64, I64, list[StageTrace]]:
        """(weights, smoothed candidates, final prices, guardrail trace) of one product: pure
        functions of (candidates, guardrail spec, current price, smoothing) and the settings,
        cached."""
        key = (prep.cand_key, prep.spec, prep.ctx.current_price, alpha)
        hit = self._single_cache.get(key)
        if hit is None:
            ps = self.settings.pricing
            product = prep.product
            weights = margin_weights(prep.cands, product.unit_cost, ps.objective, ps.revenue_weight)
            weights = weights / 10.0 ** exponent(product.currency)
            smooth = smoothed(prep, alpha)
            finals, trace = apply_guardrails(smooth, prep.spec)
            for arr in (weights, smooth, finals, *(x for t in trace for x in (t.before, t.after))):
                if arr.flags.owndata:
                    arr.flags.writeable = False  # shared between decisions
            if len(self._single_cache) >= 100_000:
                self._single_cache.clear()
            hit = self._single_cache[key] = (weights, smooth, finals, trace)
        return hit


__all__ = ["Context", "PricingEngine", "MAX_PAGE", "SHOPPER_PREFIX"]

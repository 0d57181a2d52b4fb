"""The real-time price decision: candidates → demand → objective (+ inventory LP) → Thompson
sampling → smoothing → ordered guardrails → personal layer → prior price → :class:`Decision`.

Model problems never reach the caller: no model, a model that raises, or a curve with NaN, values
outside [0, 1] or the wrong length gives the list price inside the guardrails with
``fallback=True`` and the reason in the explanation. Bad *input* (protected attributes among the
features) is refused with :class:`~pricepilot.errors.ValidationError`.

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
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Guardrails, Product, effective_guardrails
from pricepilot.clock import Clock, SystemClock
from pricepilot.compliance.attributes import Shopper, ShopperAttributes
from pricepilot.config import Settings
from pricepilot.demand.base import DemandModel
from pricepilot.demand.prior import lerner_slope
from pricepilot.money import exponent
from pricepilot.pricing.candidates import candidates
from pricepilot.pricing.curve_fit import LogitLinearFit, fit_logit_linear, fit_one
from pricepilot.pricing.decision import Decision, Explanation, StageEffect
from pricepilot.pricing.explore import Choice, thompson_choice
from pricepilot.pricing.guardrails import (
    GuardrailArrays,
    GuardrailSpec,
    StageTrace,
    apply_guardrails,
    apply_guardrails_batch,
    stage_rules,
)
from pricepilot.pricing.history import PriceHistory
from pricepilot.pricing.lp import draw_from_mixture, solve_single_resource
from pricepilot.pricing.objective import margin_weights, stock_capacity
from pricepilot.pricing.personal import choose_personal, personal_candidates, personal_factors
from pricepilot.pricing.posterior import DemandPosterior, Outcome, curve_logits, sample_beta
from pricepilot.pricing.price_response import information_for, shrink_slopes
from pricepilot.pricing.smoothing import smooth, steps_towards
from pricepilot.pricing.stage_cost import with_costs

I64 = npt.NDArray[np.int64]
F = npt.NDArray[np.float64]

log = logging.getLogger(__name__)
MAX_PAGE = 100
SHOPPER_PREFIX = "u_"  # shopper features; the public base price is decided without them


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What the engine needs to know about the moment, beyond the product and features."""

    competitor_price: int | None = None  # lowest known competitor price, minor units
    # the lowest competitor price off promotion: the competitor band is measured against it, so
    # a competitor's temporary promotion does not drag the band down (None: competitor_price)
    competitor_regular_price: int | None = None
    current_price: int | None = None  # today's public price (smoothing, daily change limit)
    arrivals_per_hour: float | None = None  # expected shoppers seeing the product until season end


class _Public(NamedTuple):
    """One grid product's public curve as the optimiser sees it (the model's over the candidates,
    after ``pricing.curve_fit``) and its logits: a pure function of the model, the base features,
    the candidates and the competitor price, so it is kept per engine (one per model version)
    and a product quoted again with the same features skips the model call and the fit."""

    curve: F  # (K,) over the candidates
    a: float  # the fit's intercept and slope (NaN: not fitted)
    b: float
    logits: F | None  # curve_logits(curve), with the engine's own posterior class (else None)


_NAN_KEY = object()  # NaN feature values in cache keys (NaN != NaN would never hit)


def _key_values(values: Iterable[object]) -> tuple[object, ...]:
    """Feature values as part of a cache key: NaN as one marker, everything else as is."""
    return tuple(_NAN_KEY if v.__class__ is float and v != v else v for v in values)


def _rows(arrays: Sequence[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """Equal-length 1-D arrays as the rows of a 2-D array (one array: a view, no copy)."""
    return arrays[0][None, :] if len(arrays) == 1 else np.stack(arrays)


class _Prep(msgspec.Struct):
    product: Product
    g: Guardrails
    ctx: Context
    cands: I64
    base_features: dict[str, object]
    features: Mapping[str, object]
    spec: GuardrailSpec
    cand_key: tuple[object, ...]
    # the public curve the optimiser saw over ``cands`` and, when fitted, its logit-linear
    # parameters (logit P = pub_a + pub_b (price/list - 1)): the public P(buy) at any price
    pub_curve: F | None = None
    pub_a: float = float("nan")
    pub_b: float = float("nan")
    # the key of the public-curve cache (None: not cacheable) and the cached value, if any
    pub_key: tuple[object, ...] | None = None
    public: _Public | None = None
    shopper_keys: tuple[str, ...] = ()  # the shopper features' names, in ``features`` order


class _Lookup:
    """Marker: the decision's prior price is read from the history."""


_LOOKUP = _Lookup()


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
        self._attrs = ShopperAttributes(settings.compliance.protected_attributes)
        # feature-name sets already checked for protected attributes -> their non-shopper names
        self._checked_keys: dict[frozenset[str], tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._last_recorded: dict[str, int] = {}
        self._cand_cache: dict[tuple[object, ...], I64] = {}
        # personal candidates are a pure function of (guardrail spec, base price) and their union
        # over every servable base price one of (spec, candidates, current price)
        self._personal_cache: dict[tuple[GuardrailSpec, int], I64] = {}
        self._union_cache: dict[tuple[object, ...], I64] = {}
        self._rules_cache: dict[GuardrailSpec, dict[str, str]] = {}
        self._single_cache: dict[tuple[object, ...], tuple[F, I64, I64, list[StageTrace]]] = {}
        self._static_cache: dict[tuple[object, ...], tuple[F, F, I64, I64, list[tuple[str, I64, I64]]]] = {}
        self._public_cache: dict[tuple[object, ...], _Public] = {}
        # the shopper's smoothed curve over the personal price union, per exact input (product,
        # base and shopper features, guardrails): shoppers with the same features (new visitors,
        # shoppers without history) share it
        self._personal_curve_cache: dict[tuple[object, ...], tuple[I64, F]] = {}
        # per product: (posterior state token, correction mean, Cholesky factor of its covariance)
        self._correction_cache: dict[str, tuple[tuple[object, ...], F, F]] = {}

    # ---- public API -----------------------------------------------------------------------
    def decide(
        self,
        product: Product,
        features: Mapping[str, object],
        shopper: Shopper | None = None,
        context: Context | None = None,
    ) -> Decision:
        """The price for ``product`` now, for ``shopper`` (None: anonymous, no personal layer)."""
        prep = self._prepare(product, features, context)
        curve, reason = self._base_curve_one(prep)
        return self._finish(prep, curve, reason, shopper)

    def decide_page(
        self,
        items: Sequence[tuple[Product, Mapping[str, object], Context | None]],
        shopper: Shopper | None = None,
    ) -> list[Decision]:
        """Decisions for up to 100 products (one page), with one batched model call."""
        if len(items) > MAX_PAGE:
            from pricepilot.errors import ValidationError

            raise ValidationError("page", None, f"at most {MAX_PAGE} products, got {len(items)}")
        preps = [self._prepare(p, f, c) for p, f, c in items]
        self._attach_public(preps)
        personal_on = self._personal_on(shopper)
        # with the personal layer on, one model call answers both the base curves and the
        # shopper's curves over every personal price any servable base price can lead to
        ahead: dict[int, tuple[I64, F]] = {}
        if personal_on:
            curves, reasons, ahead = self._curves_with_personal(preps)
        else:
            curves, reasons = self._base_curves_page(preps)
        personal: dict[int, F | str] = {}
        prices_of: dict[int, I64] = {}  # the personal candidates, computed once per product
        out: list[Decision] = []
        # base decisions first, then one batched personal call for the whole page
        bases = self._base_page(preps, curves, reasons)
        if personal_on:
            want = [i for i, b in enumerate(bases) if not b.fallback]
            model = self.model
            for i in want:
                prices_of[i] = self._personal_prices(preps[i], bases[i].base_price)
                got = _lookup(ahead.get(i), prices_of[i])
                if got is not None:
                    personal[i] = got
            want = [i for i in want if i not in personal]
            if want and model is not None:
                pc = [prices_of[i] for i in want]
                try:
                    res = model.predict_curves(
                        [preps[i].features for i in want], pc,
                        [preps[i].product.list_price for i in want],
                        [preps[i].ctx.competitor_price for i in want],
                    )
                    for j, i in enumerate(want):
                        chk = _checked(res[j], pc[j].shape[0])
                        personal[i] = chk if isinstance(chk, str) else self._smooth_curve(
                            chk, pc[j], preps[i].product)
                except Exception as e:  # model problems must not reach the caller
                    for i in want:
                        personal[i] = f"personal curve failed: {type(e).__name__}: {e}"
        for i, (prep, b) in enumerate(zip(preps, bases, strict=True)):
            out.append(self._apply_personal(prep, b, personal.get(i), shopper, prices_of.get(i)))
        return out

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
        preps = [self._prepare(p, f, c) for p, f, c in items]
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
            chk = _checked(c, grid.shape[0])
            if isinstance(chk, str):
                out.append(float("nan"))
                continue
            on_grid = np.isin(grid, pr.cands)  # the fit is the decision's: over the candidates
            self._public_curve(pr, chk[on_grid])
            got = self._public_at(pr, int(price))
            out.append(float(chk[int(np.searchsorted(grid, price))]) if got is None else got)
        return out

    def learn(self, outcome: Outcome) -> None:
        """Feed one observed outcome to the posterior (prices react from the next decision)."""
        if self.posterior is not None:
            self.posterior.learn_one(outcome)

    # ---- preparation and model calls ----------------------------------------------------------
    def _prepare(self, product: Product, features: Mapping[str, object], context: Context | None) -> _Prep:
        keys = frozenset(features)
        split = self._checked_keys.get(keys)
        if split is None:
            self._attrs.check_feature_names(keys)  # raises ValidationError naming them
            # the public base price is decided without the shopper's features
            split = (tuple(k for k in features if not k.startswith(SHOPPER_PREFIX)),
                     tuple(k for k in features if k.startswith(SHOPPER_PREFIX)))
            if len(self._checked_keys) >= 10_000:
                self._checked_keys.clear()
            self._checked_keys[keys] = split
        base_keys, shopper_keys = split
        ctx = context or Context()
        g = effective_guardrails(product, self.categories)
        ps = self.settings.pricing
        spec = GuardrailSpec.build(
            g, cost=product.unit_cost, currency=product.currency,
            competitor_price=(ctx.competitor_regular_price if ctx.competitor_regular_price
                              is not None else ctx.competitor_price),
            current_price=ctx.current_price,
            competitor_band=ps.competitor_band, max_change=ps.max_change_per_day,
        )
        key = (product.list_price, product.unit_cost, product.currency, g.floor, g.ceiling,
               g.price_ending, g.ending_modulus, tuple(g.ladder) if g.ladder else None)
        cands = self._cand_cache.get(key)
        if cands is None:
            cands = candidates(product, g, ps.grid_size)
            cands.flags.writeable = False  # shared between decisions
            if len(self._cand_cache) >= 100_000:
                self._cand_cache.clear()
            self._cand_cache[key] = cands
        base_features = {k: features[k] for k in base_keys}
        pub_key = None
        if not g.ladder:  # ladder products take the Beta path, which has no public-curve cache
            pub_key = (key, ctx.competitor_price, base_keys, _key_values(base_features.values()))
        return _Prep(product, g, ctx, cands, base_features, features, spec, key, pub_key=pub_key,
                     shopper_keys=shopper_keys)

    def _attach_public(self, preps: list[_Prep]) -> None:
        """Set ``prep.public`` where the public curve for these exact inputs is cached."""
        cache = self._public_cache
        if not cache:
            return
        for p in preps:
            if p.pub_key is not None:
                try:
                    p.public = cache.get(p.pub_key)
                except TypeError:  # an unhashable feature value: never cached
                    p.pub_key = None

    def _keep_public(self, p: _Prep, curve: F, logits: F | None) -> None:
        if p.pub_key is None:
            return
        c = curve.copy()
        c.flags.writeable = False  # shared between decisions
        lg = None
        if logits is not None:
            lg = logits.copy()
            lg.flags.writeable = False
        if len(self._public_cache) >= 100_000:
            self._public_cache.clear()
        try:
            self._public_cache[p.pub_key] = _Public(c, p.pub_a, p.pub_b, lg)
        except TypeError:  # an unhashable feature value
            p.pub_key = None

    def _base_curve_one(self, prep: _Prep) -> tuple[F | None, str]:
        if self.model is None:
            return None, "no demand model loaded"
        try:
            curve = self.model.predict_curve(
                prep.base_features, prep.cands, prep.product.list_price, prep.ctx.competitor_price
            )
        except Exception as e:  # model problems must not reach the caller
            return None, f"demand model failed: {type(e).__name__}: {e}"
        checked = _checked(curve, prep.cands.shape[0])
        return (None, checked) if isinstance(checked, str) else (checked, "")

    def _curves_with_personal(
        self, preps: list[_Prep]
    ) -> tuple[list[F | None], list[str], dict[int, tuple[I64, F]]]:
        """Base curves plus, per product, the shopper's curve over its personal price union.

        Curves are per price, so asking for more prices changes none of the answers. If the joint
        call fails, the separate calls run instead, so a failure is attributed exactly as without
        sharing (base curve failed, or only the personal curve).
        """
        model = self.model
        if model is None:
            curves, reasons = self._base_curves_page(preps)
            return curves, reasons, {}
        n = len(preps)
        unions = [self._personal_union(p) for p in preps]
        cache = self._personal_curve_cache
        keys = [self._personal_key(p) for p in preps]
        ahead: dict[int, tuple[I64, F]] = {}
        for i, key in enumerate(keys):
            if key is None:
                continue
            try:
                hit = cache.get(key)
            except TypeError:  # an unhashable feature value: never cached
                keys[i] = None
                continue
            if hit is not None:
                ahead[i] = hit
        ask = [i for i in range(n) if i not in ahead]  # personal curves not cached
        todo = [p for p in preps if p.public is None]  # base curves not cached
        m = len(todo)
        if not todo and not ask:  # a repeat quote: no model call at all
            curves, reasons = self._merge_cached(preps, ([], []))
            return curves, reasons, ahead
        try:
            res = model.predict_curves(
                [p.base_features for p in todo] + [preps[i].features for i in ask],
                [p.cands for p in todo] + [unions[i] for i in ask],
                [p.product.list_price for p in todo] + [preps[i].product.list_price for i in ask],
                [p.ctx.competitor_price for p in todo] + [preps[i].ctx.competitor_price for i in ask],
            )
            if len(res) != m + len(ask):
                raise ValueError(f"returned {len(res)} curves for {m + len(ask)} queries")
        except Exception:  # the separate calls below report which part failed
            curves, reasons = self._base_curves_page(preps)
            return curves, reasons, {}
        curves, reasons = self._merge_cached(preps, self._checked_page(todo, res[:m]))
        for j, i in enumerate(ask):
            u = unions[i]
            chk = _checked(res[m + j], u.shape[0])
            if isinstance(chk, str):
                continue
            smoothed = self._smooth_curve(chk, u, preps[i].product)
            smoothed.flags.writeable = False  # shared between decisions
            ahead[i] = (u, smoothed)
            key = keys[i]
            if key is not None:
                if len(cache) >= 20_000:
                    cache.clear()
                cache[key] = ahead[i]
        return curves, reasons, ahead

    @staticmethod
    def _personal_key(p: _Prep) -> tuple[object, ...] | None:
        """What the shopper's curve over the personal union depends on, or None (not cached)."""
        if p.pub_key is None:
            return None
        f = p.features
        return (p.pub_key, p.spec, p.ctx.current_price, p.shopper_keys,
                _key_values(f[k] for k in p.shopper_keys))

    def _base_curves_page(self, preps: list[_Prep]) -> tuple[list[F | None], list[str]]:
        n = len(preps)
        if self.model is None:
            return [None] * n, ["no demand model loaded"] * n
        todo = [p for p in preps if p.public is None]  # base curves not cached
        if not todo:
            return self._merge_cached(preps, ([], []))
        try:
            res = self.model.predict_curves(
                [p.base_features for p in todo], [p.cands for p in todo],
                [p.product.list_price for p in todo], [p.ctx.competitor_price for p in todo],
            )
            if len(res) != len(todo):
                raise ValueError(f"returned {len(res)} curves for {len(todo)} products")
        except Exception as e:  # model problems must not reach the caller
            reason = f"demand model failed: {type(e).__name__}: {e}"
            return self._merge_cached(preps, ([None] * len(todo), [reason] * len(todo)))
        return self._merge_cached(preps, self._checked_page(todo, res))

    @staticmethod
    def _merge_cached(preps: list[_Prep], computed: tuple[list[F | None], list[str]]
                      ) -> tuple[list[F | None], list[str]]:
        """The page's curves: the cached public curve where there is one, else the next of
        ``computed`` (the model's answers for the others, in order)."""
        if len(computed[0]) == len(preps):
            return computed
        got = iter(zip(*computed, strict=True))
        curves: list[F | None] = []
        reasons: list[str] = []
        for p in preps:
            c, r = (p.public.curve, "") if p.public is not None else next(got)
            curves.append(c)
            reasons.append(r)
        return curves, reasons

    @staticmethod
    def _checked_page(preps: list[_Prep], res: Sequence[object]) -> tuple[list[F | None], list[str]]:
        if not preps:
            return [], []
        # the usual case, float arrays of the right lengths all inside [0, 1], in one range check
        if all(type(c) is np.ndarray and c.dtype == np.float64 and c.shape == p.cands.shape
               for p, c in zip(preps, res, strict=True)):
            arrays: list[F] = list(res)  # type: ignore[arg-type]
            flat = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
            if bool(((flat >= 0.0) & (flat <= 1.0)).all()):
                return list(arrays), [""] * len(arrays)
        curves: list[F | None] = []
        reasons: list[str] = []
        for p, c in zip(preps, res, strict=True):
            chk = _checked(c, p.cands.shape[0])
            curves.append(None if isinstance(chk, str) else chk)
            reasons.append(chk if isinstance(chk, str) else "")
        return curves, reasons

    # ---- the pipeline -------------------------------------------------------------------------
    def _finish(self, prep: _Prep, curve: F | None, reason: str, shopper: Shopper | None) -> Decision:
        base = self._base(prep, curve, reason)
        personal: F | str | None = None
        prices: I64 | None = None
        if self._personal_on(shopper) and not base.fallback:
            prices = self._personal_prices(prep, base.base_price)
            personal = self._personal_one(prep, prices)
        return self._apply_personal(prep, base, personal, shopper, prices)

    def _base(self, prep: _Prep, curve: F | None, reason: str) -> Decision:
        """The public base price decision (no personal layer yet)."""
        now = self.clock.now()
        product = prep.product
        ps = self.settings.pricing
        if curve is None:
            return self._fallback(prep, reason)
        curve = self._public_curve(prep, curve)
        weights, smoothed, finals, trace = self._single_static(prep)
        draws, mean = self._draws(prep, curve)
        cap = stock_capacity(product.stock, product.season_end, now, prep.ctx.arrivals_per_hour,
                             self._horizon_hours())
        # the LP per draw costs more than an argmax: fewer draws estimate the LP's propensity
        choice: Choice = thompson_choice(draws if cap is None else draws[: self.lp_draws],
                                         weights, cap, self.rng)
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
        stages = [StageEffect(stage="smoothing", before=int(prep.cands[i]), after=int(smoothed[i]),
                              rule=_smoothing_rule(prep.ctx.current_price, ps.smoothing_alpha))]
        stages += [StageEffect(stage=t.name, before=int(t.before[i]), after=int(t.after[i]), rule=t.rule)
                   for t in trace]
        stages = with_costs(stages, prep.cands, mean, product.unit_cost)
        notes = ("inventory LP (TS-update)" if choice.lp_used else "unconstrained optimum") + self._fit_note()
        expl = Explanation(
            model_price=int(prep.cands[i]), greedy_price=int(prep.cands[greedy]), stages=stages,
            binding_rule=_binding(stages), reason=notes, lp_capacity=cap,
        )
        # the prior price is read before this price is recorded: it is not its own prior price
        decision = self._decision(prep, price, price, False, False, expl, propensity)
        self._record(product.product_id, price)
        return decision

    def _base_page(self, preps: list[_Prep], curves: list[F | None], reasons: list[str]) -> list[Decision]:
        """Base decisions for a page: grid products in one vectorised pass, the rest one by one.

        Same pipeline as :meth:`_base`, with every product's candidates padded to a common width
        by repeating its last candidate (a duplicate price changes neither the optimum, the LP
        value nor the served price's propensity, which sums over equal final prices).
        """
        out: list[Decision | None] = [None] * len(preps)
        grid = [i for i, (p, c) in enumerate(zip(preps, curves, strict=True))
                if c is not None and not p.g.ladder]
        in_grid = set(grid)
        for i, (prep, curve, reason) in enumerate(zip(preps, curves, reasons, strict=True)):
            if i not in in_grid:
                out[i] = self._base(prep, curve, reason)
        if grid:
            for i, d in zip(grid, self._base_batch([preps[i] for i in grid],
                                                   [curves[i] for i in grid]), strict=True):
                out[i] = d
        return [d for d in out if d is not None]

    def _base_batch(self, preps: list[_Prep], curves_in: list[F | None]) -> list[Decision]:
        now = self.clock.now()
        ps = self.settings.pricing
        n = len(preps)
        widths = [p.cands.shape[0] for p in preps]
        k = max(widths)
        if min(widths) == k and all(c is not None for c in curves_in):  # the usual case: one width
            cands = _rows([p.cands for p in preps])
            curve = _rows(curves_in)  # type: ignore[arg-type]
        else:
            cands = np.empty((n, k), dtype=np.int64)
            curve = np.empty((n, k))
            for r, (p, c) in enumerate(zip(preps, curves_in, strict=True)):
                m = p.cands.shape[0]
                cands[r, :m] = p.cands
                cands[r, m:] = p.cands[-1]
                curve[r, :m] = c
                curve[r, m:] = c[-1] if c is not None else 0.0
        weights, ratios, smoothed, finals, trace = self._page_static(preps, cands)
        uniform = min(widths) == k  # no padding: the rows are each product's own public curve
        cached = uniform and all(p.public is not None for p in preps)
        post = self.posterior
        # the posterior corrections start from the curves' logits (another class corrects itself)
        own_class = type(post) is DemandPosterior
        logits: F | None = None
        if cached:  # every public curve known (the usual repeat quote): no fit
            pubs: list[_Public] = [p.public for p in preps]  # type: ignore[misc]
            curve = _rows([c.curve for c in pubs])
            if own_class and all(c.logits is not None for c in pubs):
                logits = _rows([c.logits for c in pubs])  # type: ignore[misc]
            for p, pub in zip(preps, pubs, strict=True):
                p.pub_a, p.pub_b = pub.a, pub.b
        elif ps.curve_fit == "logit_linear":
            fit = self._shrunk(fit_logit_linear(curve, ratios), curve, preps)
            curve = np.where(fit.used[:, None], fit.at(ratios), curve)
            for r, p in enumerate(preps):
                if p.public is not None and uniform:  # cached on an earlier page: the same numbers
                    curve[r] = p.public.curve
                    p.pub_a, p.pub_b = p.public.a, p.public.b
                elif fit.used[r]:
                    p.pub_a, p.pub_b = float(fit.intercept[r]), float(fit.slope[r])
        for r, p in enumerate(preps):
            p.pub_curve = curve[r, :p.cands.shape[0]]
        if own_class and logits is None:
            logits = curve_logits(curve)
        if not cached and uniform:
            for r, p in enumerate(preps):
                if p.public is None:
                    self._keep_public(p, curve[r], None if logits is None else logits[r])
        if post is None:
            draws, mean = curve[:, None, :], curve
        else:
            mus, chols = self._posterior_factors(post, preps)

            def corrected(theta: F) -> F:
                if logits is not None:  # the engine's own posterior class
                    return DemandPosterior.corrected_logits(logits, ratios, theta)
                return post.corrected_batch(curve, ratios, theta)

            mean = corrected(mus[:, None, :])[:, 0, :]
            if ps.exploration:
                z = self.rng.standard_normal((n, self.draws, 2))
                # θ = μ + L z per draw, written out for 2 x 2 (einsum's generic loop cost ~0.5 ms)
                z0, z1 = z[:, :, 0], z[:, :, 1]
                thetas = np.empty_like(z)
                for i in (0, 1):
                    thetas[:, :, i] = mus[:, None, i] + (z0 * chols[:, None, i, 0] + z1 * chols[:, None, i, 1])
                draws = corrected(thetas)
            else:
                draws = mean[:, None, :]
        m = draws.shape[1]
        rewards = draws * weights[:, None, :]
        horizon = self._horizon_hours()
        caps = [stock_capacity(p.product.stock, p.product.season_end, now, p.ctx.arrivals_per_hour, horizon)
                for p in preps]
        lp_rows = np.array([c is not None for c in caps])
        best = np.argmax(rewards, axis=2)  # (n, M)
        # share of draws choosing each candidate (counts / M, as the mean of indicators)
        if n == 1:
            probs = np.bincount(best[0], minlength=k)[None, :] / m
        else:
            probs = np.bincount((best + k * np.arange(n)[:, None]).ravel(), minlength=n * k).reshape(n, k) / m
        chosen = best[:, 0].copy()
        greedy = np.argmax(mean * weights, axis=1)
        if lp_rows.any():
            rows = np.nonzero(lp_rows)[0]
            m = min(m, self.lp_draws)
            draws, rewards = draws[:, :m], rewards[:, :m]
            cap_v = np.array([caps[r] for r in rows], dtype=np.float64)
            x, _ = solve_single_resource(rewards[rows].reshape(-1, k), draws[rows].reshape(-1, k),
                                         np.repeat(cap_v, m))
            x = x.reshape(len(rows), m, k)
            x[:, :, -1] += np.clip(1.0 - x.sum(axis=2), 0.0, 1.0)  # shut-off: highest price
            probs[rows] = x.mean(axis=1)
            chosen[rows] = np.minimum(draw_from_mixture(x[:, 0, :], self.rng.random(len(rows))), k - 1)
            xg, _ = solve_single_resource(mean[rows] * weights[rows], mean[rows], cap_v)
            greedy[rows] = np.where(xg.sum(axis=1) > 0, np.argmax(xg, axis=1),
                                    [preps[r].cands.shape[0] - 1 for r in rows])
        idx = np.arange(n)
        served = finals[idx, chosen]
        propensity = np.minimum(np.where(finals == served[:, None], probs, 0.0).sum(axis=1), 1.0)
        # every per-product number as Python ints at once (one conversion per array, not per item)
        model_prices = cands[idx, chosen].tolist()
        greedy_prices = cands[idx, greedy].tolist()
        smoothed_at = smoothed[idx, chosen].tolist()
        if n == 1:
            c0 = int(chosen[0])
            stage_vals = [(name, [int(b[0, c0])], [int(a[0, c0])]) for name, b, a in trace]
        else:
            stage_vals = [(name, b[idx, chosen].tolist(), a[idx, chosen].tolist()) for name, b, a in trace]
        served_l = served.tolist()
        prop_l = propensity.tolist()
        lp_l = lp_rows.tolist()
        stamp = self._stamp(now)
        fit_note = self._fit_note()
        out = []
        for r, p in enumerate(preps):
            rules = self._stage_rules(p.spec)
            stages = [StageEffect(stage="smoothing", before=model_prices[r], after=smoothed_at[r],
                                  rule=_smoothing_rule(p.ctx.current_price, ps.smoothing_alpha))]
            stages += [StageEffect(stage=name, before=b[r], after=a[r], rule=rules[name])
                       for name, b, a in stage_vals]
            stages = with_costs(stages, cands[r], mean[r], p.product.unit_cost)
            expl = Explanation(
                model_price=model_prices[r], greedy_price=greedy_prices[r], stages=stages,
                binding_rule=_binding(stages),
                reason=("inventory LP (TS-update)" if lp_l[r] else "unconstrained optimum") + fit_note,
                lp_capacity=caps[r],
            )
            price = served_l[r]
            out.append(self._decision(p, price, price, False, False, expl, prop_l[r], stamp))
            self._record(p.product.product_id, price)  # after its own prior price was read
        return out

    def _posterior_factors(self, post: DemandPosterior, preps: list[_Prep]) -> tuple[F, F]:
        """(P, 2) posterior correction means and (P, 2, 2) Cholesky factors of their covariances.

        Kept per product with a token of the posterior state they came from (the product's own
        Gaussian, or its category's while it has no data of its own, with its update count), so
        a product is recomputed only after an outcome of it (or of its category) was learnt."""
        n = len(preps)
        if type(post) is not DemandPosterior:  # another class: its own corrections, every time
            mus, covs = _corrections(post, preps)
            return mus, np.asarray(np.linalg.cholesky(covs), dtype=np.float64)
        cache = self._correction_cache
        tokens: list[tuple[object, ...]] = []
        missing: list[int] = []
        mus = np.empty((n, 2))
        chols = np.empty((n, 2, 2))
        for r, p in enumerate(preps):
            pid, cat = p.product.product_id, p.product.category
            g = post.products_.get(pid)
            if g is not None:
                token: tuple[object, ...] = (id(g), g.n)
            else:
                c = post.categories_.get(cat)
                token = (cat,) if c is None else (cat, id(c), c.n)
            tokens.append(token)
            hit = cache.get(pid)
            if hit is not None and hit[0] == token:
                mus[r], chols[r] = hit[1], hit[2]
            else:
                missing.append(r)
        if missing:
            sub = [preps[r] for r in missing]
            m_mus, m_covs = _corrections(post, sub)
            m_chols = np.asarray(np.linalg.cholesky(m_covs), dtype=np.float64)
            if len(cache) + len(missing) > 100_000:
                cache.clear()
            for j, r in enumerate(missing):
                mus[r], chols[r] = m_mus[j], m_chols[j]
                cache[preps[r].product.product_id] = (tokens[r], m_mus[j].copy(), m_chols[j].copy())
        return mus, chols

    def _single_static(self, prep: _Prep) -> tuple[F, I64, I64, list[StageTrace]]:
        """(weights, smoothed candidates, final prices, guardrail trace) of one product: pure
        functions of (candidates, guardrail spec, current price) and the settings, cached."""
        key = (prep.cand_key, prep.spec, prep.ctx.current_price)
        hit = self._single_cache.get(key)
        if hit is None:
            ps = self.settings.pricing
            product = prep.product
            weights = margin_weights(prep.cands, product.unit_cost, ps.objective, ps.revenue_weight)
            weights = weights / 10.0 ** exponent(product.currency)
            smoothed = _smoothed(prep, ps.smoothing_alpha)
            finals, trace = apply_guardrails(smoothed, prep.spec)
            for arr in (weights, smoothed, finals, *(x for t in trace for x in (t.before, t.after))):
                if arr.flags.owndata:
                    arr.flags.writeable = False  # shared between decisions
            if len(self._single_cache) >= 100_000:
                self._single_cache.clear()
            hit = self._single_cache[key] = (weights, smoothed, finals, trace)
        return hit

    def _page_static(self, preps: list[_Prep], cands: I64) -> tuple[
            F, F, I64, I64, list[tuple[str, I64, I64]]]:
        """(weights, price / list ratios, smoothed candidates, final prices, guardrail trace) of a
        page, (P, K) each: pure functions of (candidates, guardrail spec, current price) and the
        settings. A one-product page (the usual quote) reads them from a per-product cache; for a
        larger page one vectorised computation costs no more than stacking cached rows.
        """
        if len(preps) > 1:
            return self._compute_static(preps, cands)
        p = preps[0]
        key = (p.cand_key, p.spec, p.ctx.current_price)
        row = self._static_cache.get(key)
        if row is None:
            w, ra, sm, fi, tr = self._compute_static(preps, cands)
            row = (w, ra, sm, fi, tr)
            for arr in (w, ra, sm, fi, *(x for _, b, a in tr for x in (b, a))):
                arr.flags.writeable = False  # shared between decisions
            if len(self._static_cache) >= 100_000:
                self._static_cache.clear()
            self._static_cache[key] = row
        return row

    def _compute_static(self, preps: list[_Prep], cands: I64) -> tuple[
            F, F, I64, I64, list[tuple[str, I64, I64]]]:
        ps = self.settings.pricing
        cost = np.array([p.product.unit_cost for p in preps], dtype=np.float64)[:, None]
        scale = np.array([10.0 ** exponent(p.product.currency) for p in preps])[:, None]
        pf = cands.astype(np.float64)
        if ps.objective == "revenue":
            weights = pf
        elif ps.objective == "profit":
            weights = pf - cost
        else:
            weights = ps.revenue_weight * pf + (1.0 - ps.revenue_weight) * (pf - cost)
        weights = weights / scale
        lists = np.array([p.product.list_price for p in preps], dtype=np.float64)[:, None]
        ratios = cands / lists
        cur = np.array([p.ctx.current_price if p.ctx.current_price is not None else -1 for p in preps],
                       dtype=np.float64)[:, None]
        arrays = GuardrailArrays.of([p.spec for p in preps])
        if ps.smoothing_alpha < 1.0:
            smoothed = np.where(cur > 0, np.rint(cur + ps.smoothing_alpha * (pf - cur)), pf).astype(np.int64)
            # on .99-style endings, round away from today's price: smoothing never locks it
            smoothed = steps_towards(cands, smoothed, cur.astype(np.int64), arrays.ending, arrays.modulus)
        else:
            smoothed = cands
        finals, trace = apply_guardrails_batch(smoothed, arrays)
        return weights, ratios, smoothed, finals, trace

    def _stage_rules(self, spec: GuardrailSpec) -> dict[str, str]:
        """:func:`stage_rules`, cached: a pure function of the (frozen) spec."""
        rules = self._rules_cache.get(spec)
        if rules is None:
            rules = stage_rules(spec)
            if len(self._rules_cache) >= 100_000:
                self._rules_cache.clear()
            self._rules_cache[spec] = rules
        return rules

    def _stamp(self, now: datetime) -> tuple[datetime, datetime, datetime, datetime, str | None]:
        """What every decision made at ``now`` shares: (now, expiry, prior-price window start and
        end, model version), computed once for a page."""
        days = self.settings.compliance.prior_price_days
        version = None
        if self.model is not None:
            try:
                version = str(self.model.version)
            except Exception:  # a broken model must not break the fallback path; version unknown
                version = None
        # strictly before now: the price being decided is not its own prior price
        return (now, now + timedelta(seconds=self.settings.security.quote_ttl_seconds),
                now - timedelta(days=days), now - timedelta(microseconds=1), version)

    def _draws(self, prep: _Prep, curve: F) -> tuple[F, F]:
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

    def _fallback(self, prep: _Prep, reason: str) -> Decision:
        lp = np.array([prep.product.list_price], dtype=np.int64)
        finals, trace = apply_guardrails(lp, prep.spec)
        stages = [StageEffect(stage=t.name, before=int(t.before[0]), after=int(t.after[0]), rule=t.rule)
                  for t in trace]
        changed = _binding(stages)
        expl = Explanation(model_price=None, greedy_price=None, stages=stages,
                           binding_rule=changed if changed != "model" else "fallback",
                           reason=f"fallback to the list price: {reason}")
        price = int(finals[0])
        return self._decision(prep, price, price, False, True, expl, 1.0)

    # ---- personal layer -------------------------------------------------------------------------
    def _personal_on(self, shopper: Shopper | None) -> bool:
        return (shopper is not None and shopper.personalisation_consent and self.model is not None
                and self.settings.pricing.personal_discount_max > 0)

    def _personal_prices(self, prep: _Prep, base: int) -> I64:
        key = (prep.spec, base)
        out = self._personal_cache.get(key)
        if out is None:
            ps = self.settings.pricing
            raw = personal_candidates(base, ps.personal_discount_max, ps.allow_surcharge)
            # personal prices go through every guardrail again (no smoothing: it is not public)
            finals, _ = apply_guardrails(raw, prep.spec)
            out = np.unique(np.concatenate([finals, [base]])).astype(np.int64)
            out.flags.writeable = False  # shared between decisions
            if len(self._personal_cache) >= 100_000:
                self._personal_cache.clear()
            self._personal_cache[key] = out
        return out

    def _personal_union(self, prep: _Prep) -> I64:
        """Every personal price of every base price the pipeline can serve for ``prep``
        (a superset is harmless: the shopper's curve is only looked up at the prices needed)."""
        ps = self.settings.pricing
        key = (prep.cand_key, prep.spec, prep.ctx.current_price)
        out = self._union_cache.get(key)
        if out is None:
            smoothed = _smoothed(prep, ps.smoothing_alpha)
            bases = np.unique(apply_guardrails(smoothed, prep.spec)[0])
            factors = personal_factors(ps.personal_discount_max, ps.allow_surcharge)
            raw = np.rint(bases.astype(np.float64)[:, None] * factors[None, :]).astype(np.int64).ravel()
            finals, _ = apply_guardrails(raw[raw > 0], prep.spec)
            out = np.unique(np.concatenate([finals, bases])).astype(np.int64)
            out.flags.writeable = False
            if len(self._union_cache) >= 100_000:
                self._union_cache.clear()
            self._union_cache[key] = out
        return out

    def _personal_one(self, prep: _Prep, prices: I64) -> F | str:
        model = self.model
        if model is None:
            return "no demand model loaded"
        try:
            curve = model.predict_curve(prep.features, prices, prep.product.list_price,
                                             prep.ctx.competitor_price)
        except Exception as e:  # model problems must not reach the caller
            return f"personal curve failed: {type(e).__name__}: {e}"
        chk = _checked(curve, prices.shape[0])
        return chk if isinstance(chk, str) else self._smooth_curve(chk, prices, prep.product)

    def _horizon_hours(self) -> float | None:
        days = self.settings.pricing.stock_horizon_days
        return days * 24.0 if days > 0 else None

    def _fit_note(self) -> str:
        return " on the logit-linear fit of the model's curve" if self.settings.pricing.curve_fit == "logit_linear" else ""

    def _public_curve(self, prep: _Prep, curve: F) -> F:
        """The public curve the optimiser sees over ``prep.cands`` (the model's, or its fit),
        kept on ``prep`` with the fit's parameters for :meth:`_public_at`."""
        curve, fit = self._fitted(curve, prep.cands, prep.product)
        if fit is not None:
            prep.pub_a, prep.pub_b = fit
        prep.pub_curve = curve
        return curve

    @staticmethod
    def _public_at(prep: _Prep, price: int) -> float | None:
        """The public P(buy) at ``price``: exact from the fit, or the curve at a candidate price."""
        if prep.pub_a == prep.pub_a:  # not NaN: fitted
            z = prep.pub_a + prep.pub_b * (price / prep.product.list_price - 1.0)
            return float(0.5 * (1.0 + math.tanh(0.5 * z)))
        if prep.pub_curve is None:
            return None
        i = int(np.searchsorted(prep.cands, price))
        if i < prep.cands.shape[0] and int(prep.cands[i]) == price:
            return float(prep.pub_curve[i])
        return None

    def _smooth_curve(self, curve: F, prices: I64, product: Product) -> F:
        """The curve the optimiser sees: the model's, or its logit-linear fit (settings)."""
        return self._fitted(curve, prices, product)[0]

    def _fitted(self, curve: F, prices: I64, product: Product) -> tuple[F, tuple[float, float] | None]:
        """(curve the optimiser sees, the fit's (intercept, slope) or None if not fitted); the
        slope trusted as far as the model's training prices varied (:mod:`.price_response`)."""
        if self.settings.pricing.curve_fit != "logit_linear":
            return curve, None
        ratios = prices / float(product.list_price)
        fit = fit_one(curve, ratios)
        info = information_for(self.model, product)
        if math.isfinite(info):
            a = fit[0] if fit is not None else float(curve_logits(curve[:1])[0])
            b = fit[1] if fit is not None else 0.0
            b0 = lerner_slope(product.list_price, product.unit_cost, 0.0)  # see price_response
            _, bs = shrink_slopes(np.array([a]), np.array([b]), np.array([b0]), np.array([info]),
                                  prior_sd=self.settings.pricing.prior_slope_sd)
            fit = (a, float(bs[0]))
        if fit is None:
            return curve, None
        return 0.5 * (1.0 + np.tanh(0.5 * (fit[0] + fit[1] * (ratios - 1.0)))), fit

    def _shrunk(self, fit: LogitLinearFit, curves: F, preps: list[_Prep]) -> LogitLinearFit:
        """:meth:`_fitted`'s slope trust for a page of fits."""
        info = np.array([information_for(self.model, p.product) for p in preps])
        finite = np.isfinite(info)
        if not finite.any():
            return fit
        a = np.where(fit.used, fit.intercept, curve_logits(curves[:, :1])[:, 0])
        b = np.where(fit.used, fit.slope, 0.0)
        b0 = np.array([lerner_slope(p.product.list_price, p.product.unit_cost, 0.0) for p in preps])
        _, bs = shrink_slopes(a, b, b0, info, prior_sd=self.settings.pricing.prior_slope_sd)
        return LogitLinearFit(np.where(finite, a, fit.intercept), np.where(finite, bs, fit.slope),
                              fit.used | finite)

    def _apply_personal(self, prep: _Prep, d: Decision, curve: F | str | None,
                        shopper: Shopper | None, prices: I64 | None = None) -> Decision:
        if curve is None:
            return d
        if isinstance(curve, str):
            expl = msgspec.structs.replace(d.explanation, reason=f"{d.explanation.reason}; {curve}")
            return msgspec.structs.replace(d, explanation=expl)
        ps = self.settings.pricing
        if prices is None:
            prices = self._personal_prices(prep, d.base_price)
        res = choose_personal(d.base_price, prices, curve, prep.product.unit_cost, ps.allow_surcharge)
        if not res.personalised:
            return d
        pct = 100.0 * (d.base_price - res.price) / d.base_price
        stage = StageEffect(
            stage="personal", before=d.base_price, after=res.price,
            rule=(f"personal {'discount' if pct >= 0 else 'surcharge'} {abs(pct):.1f}% raises expected "
                  f"profit per view from {res.base_value:.2f} to {res.value:.2f} (minor units)"),
        )
        expl = msgspec.structs.replace(d.explanation, stages=[*d.explanation.stages, stage],
                                       binding_rule="personal")
        # the prior price is the base decision's (read before the base price was recorded)
        return self._decision(prep, res.price, d.base_price, True, False, expl, d.propensity,
                              reference=d.reference_price)

    # ---- result -----------------------------------------------------------------------------
    def _decision(self, prep: _Prep, price: int, base_price: int, personalised: bool, fallback: bool,
                  expl: Explanation, propensity: float,
                  stamp: tuple[datetime, datetime, datetime, datetime, str | None] | None = None,
                  reference: int | None | _Lookup = _LOOKUP) -> Decision:
        now, expires, since, until, version = stamp or self._stamp(self.clock.now())
        product = prep.product
        if isinstance(reference, _Lookup):
            reference = (None if self.history is None
                         else self.history.lowest(product.product_id, since, until))
        current = prep.ctx.current_price if prep.ctx.current_price is not None else product.list_price
        return Decision(
            product_id=product.product_id, price=price, base_price=base_price,
            list_price=product.list_price, reference_price=reference,
            is_reduction=price < current, currency=product.currency,
            personalised=personalised, fallback=fallback, explanation=expl,
            model_version=version, propensity=propensity,
            candidates_evaluated=int(prep.cands.shape[0]), decided_at=now,
            expires_at=expires, public_probability=None if fallback else self._public_at(prep, price),
        )

    def _record(self, product_id: str, price: int) -> None:
        """Record the public base price in the history when it changes (the 30-day prior price)."""
        if self.history is None or self._last_recorded.get(product_id) == price:
            return
        self.history.record(product_id, self.clock.now(), price)
        self._last_recorded[product_id] = price


def _smoothed(prep: _Prep, alpha: float) -> I64:
    spec = prep.spec
    return smooth(prep.cands, prep.ctx.current_price, alpha, ending=spec.ending,
                  modulus=spec.modulus, ladder=spec.ladder)


def _corrections(post: DemandPosterior, preps: list[_Prep]) -> tuple[F, F]:
    """``post.correction`` of every product of a page, (P, 2) means and (P, 2, 2) covariances,
    with one stacked matrix inverse instead of one per product (the same LAPACK call per
    matrix, so the same numbers; tests/pricing/test_engine_speed.py compares them). A posterior
    of another class is asked product by product."""
    n = len(preps)
    mus = np.empty((n, 2))
    covs = np.empty((n, 2, 2))
    if type(post) is not DemandPosterior:
        for r, p in enumerate(preps):
            mus[r], covs[r] = post.correction(p.product.product_id, p.product.category)
        return mus, covs
    precs: list[F] = []
    targets: list[int] = []
    prior = np.eye(2) * post.prior_sd**2
    for r, p in enumerate(preps):
        g = post.products_.get(p.product.product_id)
        if g is not None:
            mus[r] = g.mean
            precs.append(g.prec)
            targets.append(r)
            continue
        cat = post.categories_.get(p.product.category)
        if cat is None:
            mus[r] = 0.0
            covs[r] = prior
        else:
            mus[r] = cat.mean
            precs.append(cat.prec)
            targets.append(~r)  # prior + inverse of the category's precision
    if precs:
        inv = np.linalg.inv(np.stack(precs))
        for j, r in enumerate(targets):
            if r >= 0:
                covs[r] = inv[j]
            else:
                covs[~r] = prior + inv[j]
    return mus, covs


def _checked(curve: object, k: int) -> F | str:
    """The curve as a float array, or the reason it cannot be used."""
    try:
        arr = np.asarray(curve, dtype=np.float64)
    except (TypeError, ValueError) as e:
        return f"demand model returned a non-numeric curve: {e}"
    if arr.shape != (k,):
        return f"demand model returned shape {arr.shape} for {k} candidate prices"
    if ((arr >= 0.0) & (arr <= 1.0)).all():  # one pass; NaN fails both comparisons
        return arr
    if not np.all(np.isfinite(arr)):
        return "demand model returned NaN or infinite probabilities"
    return "demand model returned probabilities outside [0, 1]"


def _lookup(ahead: tuple[I64, F] | None, prices: I64) -> F | None:
    """The curve at ``prices`` from a curve over a sorted price union, None if any is missing."""
    if ahead is None:
        return None
    union, curve = ahead
    pos = np.searchsorted(union, prices)
    if pos.size and (pos[-1] >= union.shape[0] or not np.array_equal(union[pos], prices)):
        return None
    return curve[pos]


def _binding(stages: list[StageEffect]) -> str:
    for s in reversed(stages):
        if s.before != s.after:
            return s.stage
    return "model"


def _smoothing_rule(current: int | None, alpha: float) -> str:
    if current is None:
        return "no current price: no smoothing"
    if alpha >= 1.0:
        return "smoothing off (alpha = 1)"
    return f"p_cur {current} + {alpha:g} (p_opt - p_cur)"


__all__ = ["Context", "PricingEngine", "MAX_PAGE", "SHOPPER_PREFIX"]

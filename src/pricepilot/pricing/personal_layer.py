"""The personal layer of the engine: for a consenting shopper, a personal price around the public
base price, kept only if it raises expected profit under the shopper's own curve (the model's
with the shopper's ``u_*`` features, fitted as the public curve is), every guardrail applied again.

The pure pieces (candidates, the choice) are :mod:`.personal`; this module asks the model and
keeps what is a pure function of its inputs: the personal candidates per (spec, base price), their
union over every base price the pipeline can serve for a product, and the shopper's curve over that
union per exact input. On a page the shopper's curves come with the base curves in one model call
(:meth:`PersonalLayer.curves_with`), since a curve asked at more prices changes none of its values.
"""

from __future__ import annotations

import msgspec
import numpy as np

from pricepilot.compliance.attributes import Shopper
from pricepilot.money import format_money
from pricepilot.pricing.decision import Decision, StageEffect
from pricepilot.pricing.guardrails import GuardrailSpec, apply_guardrails
from pricepilot.pricing.issuing import Issuer
from pricepilot.pricing.personal import choose_personal, personal_candidates, personal_factors
from pricepilot.pricing.prep import I64, EngineState, F, Prep, checked, key_values, smoothed
from pricepilot.pricing.public_curve import PublicCurves


class PersonalLayer:
    """The personal prices of an engine (``engine`` a weak proxy of it) and their caches."""

    def __init__(self, engine: EngineState, curves: PublicCurves, issuer: Issuer) -> None:
        self._engine = engine
        self._curves = curves
        self._issuer = issuer
        # personal candidates are a pure function of (guardrail spec, base price) and their union
        # over every servable base price one of (spec, candidates, current price)
        self._prices_cache: dict[tuple[GuardrailSpec, int], I64] = {}
        self._union_cache: dict[tuple[object, ...], I64] = {}
        # the shopper's smoothed curve over the personal price union, per exact input (product,
        # base and shopper features, guardrails): shoppers with the same features (new visitors,
        # shoppers without history) share it
        self.curve_cache: dict[tuple[object, ...], tuple[I64, F]] = {}

    def on(self, shopper: Shopper | None) -> bool:
        engine = self._engine
        return (shopper is not None and shopper.personalisation_consent and engine.model is not None
                and engine.settings.pricing.personal_discount_max > 0)

    def prices(self, prep: Prep, base: int) -> I64:
        """The personal prices a shopper may be offered around ``base`` (``base`` among them)."""
        key = (prep.spec, base)
        out = self._prices_cache.get(key)
        if out is None:
            ps = self._engine.settings.pricing
            raw = personal_candidates(base, ps.personal_discount_max, ps.allow_surcharge)
            # personal prices go through every guardrail again (no smoothing: it is not public)
            finals, _ = apply_guardrails(raw, prep.spec)
            out = np.unique(np.concatenate([finals, [base]])).astype(np.int64)
            out.flags.writeable = False  # shared between decisions
            if len(self._prices_cache) >= 100_000:
                self._prices_cache.clear()
            self._prices_cache[key] = out
        return out

    def union(self, prep: Prep) -> I64:
        """Every personal price of every base price the pipeline can serve for ``prep``
        (a superset is harmless: the shopper's curve is only looked up at the prices needed)."""
        ps = self._engine.settings.pricing
        key = (prep.cand_key, prep.spec, prep.ctx.current_price)
        out = self._union_cache.get(key)
        if out is None:
            bases = np.unique(apply_guardrails(smoothed(prep, ps.smoothing_alpha), prep.spec)[0])
            factors = personal_factors(ps.personal_discount_max, ps.allow_surcharge)
            raw = np.rint(bases.astype(np.float64)[:, None] * factors[None, :]).astype(np.int64).ravel()
            finals, _ = apply_guardrails(raw[raw > 0], prep.spec)
            out = np.unique(np.concatenate([finals, bases])).astype(np.int64)
            out.flags.writeable = False
            if len(self._union_cache) >= 100_000:
                self._union_cache.clear()
            self._union_cache[key] = out
        return out

    def one(self, prep: Prep, prices: I64) -> F | str:
        """The shopper's curve over ``prices`` (one model call), or the reason there is none."""
        model = self._engine.model
        if model is None:
            return "no demand model loaded"
        try:
            curve = model.predict_curve(prep.features, prices, prep.product.list_price,
                                        prep.ctx.competitor_price)
        except Exception as e:  # model problems must not reach the caller
            return f"personal curve failed: {type(e).__name__}: {e}"
        chk = checked(curve, prices.shape[0])
        return chk if isinstance(chk, str) else self._curves.smooth_curve(chk, prices, prep.product)

    def curves_with(
        self, preps: list[Prep]
    ) -> tuple[list[F | None], list[str], dict[int, tuple[I64, F]]]:
        """Base curves plus, per product, the shopper's curve over its personal price union.

        Curves are per price, so asking for more prices changes none of the answers. If the joint
        call fails, the separate calls run instead, so a failure is attributed exactly as without
        sharing (base curve failed, or only the personal curve).
        """
        public = self._curves
        model = self._engine.model
        if model is None:
            curves, reasons = public.page(preps)
            return curves, reasons, {}
        n = len(preps)
        unions = [self.union(p) for p in preps]
        cache = self.curve_cache
        keys = [self._key(p) for p in preps]
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
            curves, reasons = public.merge_cached(preps, ([], []))
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
            curves, reasons = public.page(preps)
            return curves, reasons, {}
        curves, reasons = public.merge_cached(preps, public.checked_page(todo, res[:m]))
        for j, i in enumerate(ask):
            u = unions[i]
            chk = checked(res[m + j], u.shape[0])
            if isinstance(chk, str):
                continue
            fitted = public.smooth_curve(chk, u, preps[i].product)
            fitted.flags.writeable = False  # shared between decisions
            ahead[i] = (u, fitted)
            key = keys[i]
            if key is not None:
                if len(cache) >= 20_000:
                    cache.clear()
                cache[key] = ahead[i]
        return curves, reasons, ahead

    @staticmethod
    def _key(p: Prep) -> tuple[object, ...] | None:
        """What the shopper's curve over the personal union depends on, or None (not cached)."""
        if p.pub_key is None:
            return None
        f = p.features
        return (p.pub_key, p.spec, p.ctx.current_price, p.shopper_keys,
                key_values(f[k] for k in p.shopper_keys))

    def page(self, preps: list[Prep], bases: list[Decision], ahead: dict[int, tuple[I64, F]],
             shopper: Shopper | None) -> list[Decision]:
        """A page's base decisions with the personal layer applied: the shopper's curves from
        ``ahead`` (:meth:`curves_with`) where they cover the prices needed, the rest in one call."""
        personal: dict[int, F | str] = {}
        prices_of: dict[int, I64] = {}  # the personal candidates, computed once per product
        want = [i for i, b in enumerate(bases) if not b.fallback]
        model = self._engine.model
        for i in want:
            prices_of[i] = self.prices(preps[i], bases[i].base_price)
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
                    chk = checked(res[j], pc[j].shape[0])
                    personal[i] = chk if isinstance(chk, str) else self._curves.smooth_curve(
                        chk, pc[j], preps[i].product)
            except Exception as e:  # model problems must not reach the caller
                for i in want:
                    personal[i] = f"personal curve failed: {type(e).__name__}: {e}"
        return [self.apply(prep, b, personal.get(i), shopper, prices_of.get(i))
                for i, (prep, b) in enumerate(zip(preps, bases, strict=True))]

    def apply(self, prep: Prep, d: Decision, curve: F | str | None,
              shopper: Shopper | None, prices: I64 | None = None) -> Decision:
        """``d`` with the personal price chosen on ``curve`` (None: as it is; a reason: noted)."""
        if curve is None:
            return d
        if isinstance(curve, str):
            expl = msgspec.structs.replace(d.explanation, reason=f"{d.explanation.reason}; {curve}")
            return msgspec.structs.replace(d, explanation=expl)
        ps = self._engine.settings.pricing
        if prices is None:
            prices = self.prices(prep, d.base_price)
        res = choose_personal(d.base_price, prices, curve, prep.product.unit_cost, ps.allow_surcharge)
        if not res.personalised:
            return d
        pct = 100.0 * (d.base_price - res.price) / d.base_price
        stage = StageEffect(
            stage="personal", before=d.base_price, after=res.price,
            rule=(f"personal {'discount' if pct >= 0 else 'surcharge'} {abs(pct):.1f}% raises expected "
                  f"profit per view from {format_money(res.base_value, d.currency)} to "
                  f"{format_money(res.value, d.currency)}"),
        )
        expl = msgspec.structs.replace(d.explanation, stages=[*d.explanation.stages, stage],
                                       binding_rule="personal")
        # the prior price is the base decision's (read before the base price was recorded)
        return self._issuer.decision(prep, res.price, d.base_price, True, False, expl, d.propensity,
                                     reference=d.reference_price)


def _lookup(ahead: tuple[I64, F] | None, prices: I64) -> F | None:
    """The curve at ``prices`` from a curve over a sorted price union, None if any is missing."""
    if ahead is None:
        return None
    union, curve = ahead
    pos = np.searchsorted(union, prices)
    if pos.size and (pos[-1] >= union.shape[0] or not np.array_equal(union[pos], prices)):
        return None
    return curve[pos]

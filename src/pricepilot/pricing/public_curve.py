"""The public demand curve a base price is decided on: the model's curve over the candidates
without the shopper's features (one call per product, one per page), checked, then fitted
(``pricing.curve_fit``, with the slope trusted as far as the model's training prices varied,
:mod:`.price_response`), and kept per exact input so a repeat quote skips the model call.

A curve the model cannot give (no model, an exception, NaN, values outside [0, 1], the wrong
length) comes back as ``None`` with the reason; the engine then falls back to the list price.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pricepilot.catalog.models import Product
from pricepilot.demand.prior import lerner_slope
from pricepilot.pricing.curve_fit import LogitLinearFit, fit_one
from pricepilot.pricing.posterior import curve_logits
from pricepilot.pricing.prep import I64, EngineState, F, Prep, PublicCurve, checked
from pricepilot.pricing.price_response import information_for, shrink_slopes


class PublicCurves:
    """The base curves of an engine (``engine`` a weak proxy of it) and their cache."""

    def __init__(self, engine: EngineState) -> None:
        self._engine = engine
        self.cache: dict[tuple[object, ...], PublicCurve] = {}

    # ---- the cache --------------------------------------------------------------------------
    def attach(self, preps: list[Prep]) -> None:
        """Set ``prep.public`` where the public curve for these exact inputs is cached."""
        cache = self.cache
        if not cache:
            return
        for p in preps:
            if p.pub_key is not None:
                try:
                    p.public = cache.get(p.pub_key)
                except TypeError:  # an unhashable feature value: never cached
                    p.pub_key = None

    def keep(self, p: Prep, curve: F, logits: F | None) -> None:
        if p.pub_key is None:
            return
        c = curve.copy()
        c.flags.writeable = False  # shared between decisions
        lg = None
        if logits is not None:
            lg = logits.copy()
            lg.flags.writeable = False
        if len(self.cache) >= 100_000:
            self.cache.clear()
        try:
            self.cache[p.pub_key] = PublicCurve(c, p.pub_a, p.pub_b, lg)
        except TypeError:  # an unhashable feature value
            p.pub_key = None

    # ---- model calls ------------------------------------------------------------------------
    def one(self, prep: Prep) -> tuple[F | None, str]:
        """The model's base curve for one product (not fitted), or None and the reason."""
        model = self._engine.model
        if model is None:
            return None, "no demand model loaded"
        try:
            curve = model.predict_curve(
                prep.base_features, prep.cands, prep.product.list_price, prep.ctx.competitor_price
            )
        except Exception as e:  # model problems must not reach the caller
            return None, f"demand model failed: {type(e).__name__}: {e}"
        chk = checked(curve, prep.cands.shape[0])
        return (None, chk) if isinstance(chk, str) else (chk, "")

    def page(self, preps: list[Prep]) -> tuple[list[F | None], list[str]]:
        """The base curves of a page: cached ones as kept, the others in one model call."""
        n = len(preps)
        model = self._engine.model
        if model is None:
            return [None] * n, ["no demand model loaded"] * n
        todo = [p for p in preps if p.public is None]  # base curves not cached
        if not todo:
            return self.merge_cached(preps, ([], []))
        try:
            res = model.predict_curves(
                [p.base_features for p in todo], [p.cands for p in todo],
                [p.product.list_price for p in todo], [p.ctx.competitor_price for p in todo],
            )
            if len(res) != len(todo):
                raise ValueError(f"returned {len(res)} curves for {len(todo)} products")
        except Exception as e:  # model problems must not reach the caller
            reason = f"demand model failed: {type(e).__name__}: {e}"
            return self.merge_cached(preps, ([None] * len(todo), [reason] * len(todo)))
        return self.merge_cached(preps, self.checked_page(todo, res))

    @staticmethod
    def merge_cached(preps: list[Prep], computed: tuple[list[F | None], list[str]]
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
    def checked_page(preps: list[Prep], res: Sequence[object]) -> tuple[list[F | None], list[str]]:
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
            chk = checked(c, p.cands.shape[0])
            curves.append(None if isinstance(chk, str) else chk)
            reasons.append(chk if isinstance(chk, str) else "")
        return curves, reasons

    # ---- the fit ----------------------------------------------------------------------------
    def fit_note(self) -> str:
        fitted = self._engine.settings.pricing.curve_fit == "logit_linear"
        return " on the logit-linear fit of the model's curve" if fitted else ""

    def public_curve(self, prep: Prep, curve: F) -> F:
        """The public curve the optimiser sees over ``prep.cands`` (the model's, or its fit),
        kept on ``prep`` with the fit's parameters for :meth:`public_at`."""
        curve, fit = self.fitted(curve, prep.cands, prep.product)
        if fit is not None:
            prep.pub_a, prep.pub_b = fit
        prep.pub_curve = curve
        return curve

    @staticmethod
    def public_at(prep: Prep, price: int) -> float | None:
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

    def smooth_curve(self, curve: F, prices: I64, product: Product) -> F:
        """The curve the optimiser sees: the model's, or its logit-linear fit (settings)."""
        return self.fitted(curve, prices, product)[0]

    def fitted(self, curve: F, prices: I64, product: Product) -> tuple[F, tuple[float, float] | None]:
        """(curve the optimiser sees, the fit's (intercept, slope) or None if not fitted); the
        slope trusted as far as the model's training prices varied (:mod:`.price_response`)."""
        ps = self._engine.settings.pricing
        if ps.curve_fit != "logit_linear":
            return curve, None
        ratios = prices / float(product.list_price)
        fit = fit_one(curve, ratios)
        info = information_for(self._engine.model, product)
        if math.isfinite(info):
            a = fit[0] if fit is not None else float(curve_logits(curve[:1])[0])
            b = fit[1] if fit is not None else 0.0
            b0 = lerner_slope(product.list_price, product.unit_cost, 0.0)  # see price_response
            _, bs = shrink_slopes(np.array([a]), np.array([b]), np.array([b0]), np.array([info]),
                                  prior_sd=ps.prior_slope_sd)
            fit = (a, float(bs[0]))
        if fit is None:
            return curve, None
        return 0.5 * (1.0 + np.tanh(0.5 * (fit[0] + fit[1] * (ratios - 1.0)))), fit

    def shrunk(self, fit: LogitLinearFit, curves: F, preps: list[Prep]) -> LogitLinearFit:
        """:meth:`fitted`'s slope trust for a page of fits."""
        model = self._engine.model
        info = np.array([information_for(model, p.product) for p in preps])
        finite = np.isfinite(info)
        if not finite.any():
            return fit
        a = np.where(fit.used, fit.intercept, curve_logits(curves[:, :1])[:, 0])
        b = np.where(fit.used, fit.slope, 0.0)
        b0 = np.array([lerner_slope(p.product.list_price, p.product.unit_cost, 0.0) for p in preps])
        _, bs = shrink_slopes(a, b, b0, info, prior_sd=self._engine.settings.pricing.prior_slope_sd)
        return LogitLinearFit(np.where(finite, a, fit.intercept), np.where(finite, bs, fit.slope),
                              fit.used | finite)

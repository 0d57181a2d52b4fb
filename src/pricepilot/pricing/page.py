"""The page path: base decisions for a page of grid products in one vectorised pass.

The same pipeline as the engine's single decision (curve fit → posterior draws → objective, with
the inventory LP for stock-limited products → Thompson choice → smoothing → guardrails), with
every product's candidates padded to a common width by repeating its last candidate (a duplicate
price changes neither the optimum, the LP value nor the served price's propensity, which sums over
equal final prices). What depends only on the candidates, the guardrail spec and today's price
(weights, smoothed and final prices, the guardrail trace) is cached for one-product pages, and the
posterior corrections per product until an outcome of it (or of its category) is learnt.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pricepilot.money import exponent
from pricepilot.pricing.curve_fit import fit_logit_linear
from pricepilot.pricing.decision import Decision, Explanation, StageEffect
from pricepilot.pricing.explore import safe_set
from pricepilot.pricing.guardrails import GuardrailArrays, apply_guardrails_batch
from pricepilot.pricing.issuing import Issuer, binding, smoothing_rule
from pricepilot.pricing.lp import draw_from_mixture, solve_single_resource
from pricepilot.pricing.objective import stock_capacity
from pricepilot.pricing.posterior import DemandPosterior, curve_logits
from pricepilot.pricing.prep import I64, EngineState, F, Prep, PublicCurve, horizon_hours, rows
from pricepilot.pricing.public_curve import PublicCurves
from pricepilot.pricing.smoothing import steps_towards
from pricepilot.pricing.stage_cost import page_costs

Static = tuple[F, F, I64, I64, list[tuple[str, I64, I64]]]


class PagePricer:
    """The vectorised base decisions of an engine (``engine`` a weak proxy of it)."""

    def __init__(self, engine: EngineState, curves: PublicCurves, issuer: Issuer) -> None:
        self._engine = engine
        self._curves = curves
        self._issuer = issuer
        self._static_cache: dict[tuple[object, ...], Static] = {}
        # per product: (posterior state token, correction mean, Cholesky factor of its covariance)
        self.correction_cache: dict[str, tuple[tuple[object, ...], F, F]] = {}

    def decide(self, preps: list[Prep], curves_in: list[F | None]) -> list[Decision]:
        """Base decisions (no personal layer) of grid products with a usable curve each."""
        engine = self._engine
        issuer = self._issuer
        now = engine.clock.now()
        ps = engine.settings.pricing
        n = len(preps)
        widths = [p.cands.shape[0] for p in preps]
        k = max(widths)
        if min(widths) == k and all(c is not None for c in curves_in):  # the usual case: one width
            cands = rows([p.cands for p in preps])
            curve = rows(curves_in)  # type: ignore[arg-type]
        else:
            cands = np.empty((n, k), dtype=np.int64)
            curve = np.empty((n, k))
            for r, (p, c) in enumerate(zip(preps, curves_in, strict=True)):
                m = p.cands.shape[0]
                cands[r, :m] = p.cands
                cands[r, m:] = p.cands[-1]
                curve[r, :m] = c
                curve[r, m:] = c[-1] if c is not None else 0.0
        horizon = horizon_hours(ps)
        caps = [stock_capacity(p.product.stock, p.product.season_end, now, p.ctx.arrivals_per_hour,
                               horizon, p.ctx.units_per_purchase)
                for p in preps]
        lp_rows = np.array([c is not None for c in caps])
        # the inventory LP's mixture is served as drawn: smoothing it would change its sell-through
        weights, ratios, smoothed, finals, trace = self._page_static(preps, cands, lp_rows)
        uniform = min(widths) == k  # no padding: the rows are each product's own public curve
        cached = uniform and all(p.public is not None for p in preps)
        post = engine.posterior
        # the posterior corrections start from the curves' logits (another class corrects itself)
        own_class = type(post) is DemandPosterior
        logits: F | None = None
        if cached:  # every public curve known (the usual repeat quote): no fit
            pubs: list[PublicCurve] = [p.public for p in preps]  # type: ignore[misc]
            curve = rows([c.curve for c in pubs])
            if own_class and all(c.logits is not None for c in pubs):
                logits = rows([c.logits for c in pubs])  # type: ignore[misc]
            for p, pub in zip(preps, pubs, strict=True):
                p.pub_a, p.pub_b = pub.a, pub.b
        elif ps.curve_fit == "logit_linear":
            fit = self._curves.shrunk(fit_logit_linear(curve, ratios), curve, preps)
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
                    self._curves.keep(p, curve[r], None if logits is None else logits[r])
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
                z = engine.rng.standard_normal((n, engine.draws, 2))
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
        # exploration only among candidates within exploration_max_loss of the mean optimum
        safe = safe_set(mean * weights, ps.exploration_max_loss)
        best = np.argmax(np.where(safe[:, None, :], rewards, -np.inf), axis=2)  # (n, M)
        # share of draws choosing each candidate (counts / M, as the mean of indicators)
        if n == 1:
            probs = np.bincount(best[0], minlength=k)[None, :] / m
        else:
            probs = np.bincount((best + k * np.arange(n)[:, None]).ravel(), minlength=n * k).reshape(n, k) / m
        chosen = best[:, 0].copy()
        greedy = np.argmax(mean * weights, axis=1)
        if lp_rows.any():
            lps = np.nonzero(lp_rows)[0]
            m = min(m, engine.lp_draws)
            draws, rewards = draws[:, :m], rewards[:, :m]
            cap_v = np.array([caps[r] for r in lps], dtype=np.float64)
            x, _ = solve_single_resource(rewards[lps].reshape(-1, k), draws[lps].reshape(-1, k),
                                         np.repeat(cap_v, m))
            x = x.reshape(len(lps), m, k)
            x[:, :, -1] += np.clip(1.0 - x.sum(axis=2), 0.0, 1.0)  # shut-off: highest price
            probs[lps] = x.mean(axis=1)
            chosen[lps] = np.minimum(draw_from_mixture(x[:, 0, :], engine.rng.random(len(lps))), k - 1)
            xg, _ = solve_single_resource(mean[lps] * weights[lps], mean[lps], cap_v)
            greedy[lps] = np.where(xg.sum(axis=1) > 0, np.argmax(xg, axis=1),
                                   [preps[r].cands.shape[0] - 1 for r in lps])
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
        stamp = issuer.stamp(now)
        fit_note = self._curves.fit_note()
        # every stage's expected-profit cost for the whole page in one pass (smoothing first)
        costs = page_costs(
            np.array([model_prices, *(b for _, b, _ in stage_vals)]).T,
            np.array([smoothed_at, *(a for _, _, a in stage_vals)]).T, cands, mean,
            np.array([p.product.unit_cost for p in preps]))
        out = []
        for r, p in enumerate(preps):
            rules = issuer.stage_rules(p.spec)
            cost = costs[r]
            stages = [StageEffect(stage="smoothing", before=model_prices[r], after=smoothed_at[r],
                                  rule=smoothing_rule(p.ctx.current_price, ps.smoothing_alpha,
                                                     p.product.currency, lp=lp_l[r]),
                                  profit_cost=cost[0])]
            stages += [StageEffect(stage=name, before=b[r], after=a[r], rule=rules[name],
                                   profit_cost=cost[j])
                       for j, (name, b, a) in enumerate(stage_vals, start=1)]
            expl = Explanation(
                model_price=model_prices[r], greedy_price=greedy_prices[r], stages=stages,
                binding_rule=binding(stages),
                reason=("inventory LP (TS-update)" if lp_l[r] else "unconstrained optimum") + fit_note,
                lp_capacity=caps[r],
            )
            price = served_l[r]
            out.append(issuer.decision(p, price, price, False, False, expl, prop_l[r], stamp))
            issuer.record(p.product.product_id, price)  # after its own prior price was read
        return out

    def _posterior_factors(self, post: DemandPosterior, preps: list[Prep]) -> tuple[F, F]:
        """(P, 2) posterior correction means and (P, 2, 2) Cholesky factors of their covariances.

        Kept per product with a token of the posterior state they came from (the product's own
        Gaussian, or its category's while it has no data of its own, with its update count), so
        a product is recomputed only after an outcome of it (or of its category) was learnt."""
        n = len(preps)
        if type(post) is not DemandPosterior:  # another class: its own corrections, every time
            mus, covs = corrections(post, preps)
            return mus, np.asarray(np.linalg.cholesky(covs), dtype=np.float64)
        cache = self.correction_cache
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
            m_mus, m_covs = corrections(post, sub)
            m_chols = np.asarray(np.linalg.cholesky(m_covs), dtype=np.float64)
            if len(cache) + len(missing) > 100_000:
                cache.clear()
            for j, r in enumerate(missing):
                mus[r], chols[r] = m_mus[j], m_chols[j]
                cache[preps[r].product.product_id] = (tokens[r], m_mus[j].copy(), m_chols[j].copy())
        return mus, chols

    def _page_static(self, preps: list[Prep], cands: I64, lp_rows: npt.NDArray[np.bool_]) -> Static:
        """(weights, price / list ratios, smoothed candidates, final prices, guardrail trace) of a
        page, (P, K) each: pure functions of (candidates, guardrail spec, current price) and the
        settings. A one-product page (the usual quote) reads them from a per-product cache; for a
        larger page one vectorised computation costs no more than stacking cached rows.
        """
        if len(preps) > 1:
            return self._compute_static(preps, cands, lp_rows)
        p = preps[0]
        key = (p.cand_key, p.spec, p.ctx.current_price, bool(lp_rows[0]))
        row = self._static_cache.get(key)
        if row is None:
            w, ra, sm, fi, tr = self._compute_static(preps, cands, lp_rows)
            row = (w, ra, sm, fi, tr)
            for arr in (w, ra, sm, fi, *(x for _, b, a in tr for x in (b, a))):
                arr.flags.writeable = False  # shared between decisions
            if len(self._static_cache) >= 100_000:
                self._static_cache.clear()
            self._static_cache[key] = row
        return row

    def _compute_static(self, preps: list[Prep], cands: I64, lp_rows: npt.NDArray[np.bool_]) -> Static:
        ps = self._engine.settings.pricing
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
            smooth_rows = (cur > 0) & ~lp_rows[:, None]  # LP rows: the mixture as drawn
            smoothed = np.where(smooth_rows, np.rint(cur + ps.smoothing_alpha * (pf - cur)), pf).astype(np.int64)
            # on .99-style endings, round away from today's price: smoothing never locks it
            smoothed = steps_towards(cands, smoothed, cur.astype(np.int64), arrays.ending, arrays.modulus)
        else:
            smoothed = cands
        finals, trace = apply_guardrails_batch(smoothed, arrays)
        return weights, ratios, smoothed, finals, trace


def corrections(post: DemandPosterior, preps: list[Prep]) -> tuple[F, F]:
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

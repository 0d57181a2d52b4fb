"""pricepilot as a shop runs it, wrapped in the simulator's pricing-policy protocol.

:class:`PricepilotPolicy` uses only public pricepilot parts and what a shop knows: it
pseudonymises customer ids (:class:`~pricepilot.compliance.identity.Pseudonymiser`), keeps the
online feature state up to date with every observed event (``learn_many``), asks
:meth:`PricingEngine.decide_page <pricepilot.pricing.engine.PricingEngine.decide_page>` for the
prices of up to 100 views at a time, and feeds each view's outcome (bought or not, with the
model's probability at the served price) back into the engine's demand posterior, so Thompson
sampling explores around the trained model. It never sees the simulator's truth (latent
sensitivities, demand parameters): only :class:`~pricepilot.sim.policy.ViewRequest` /
:class:`~pricepilot.sim.policy.ViewBatch` and the emitted events.

Views of consenting shoppers are priced in pages mixing several shoppers: every item carries its
own shopper's features, and the page's ``shopper`` argument only gates the personal layer
(consent), so the result is the same as one page per shopper, with fewer model calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.catalog.models import Product
from pricepilot.clock import FixedClock, from_micros, to_micros
from pricepilot.compliance.attributes import Shopper
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.events.schemas import Event, Inventory, Purchase, View
from pricepilot.features.online import OnlineFeatures
from pricepilot.pricing.engine import MAX_PAGE, Context, PricingEngine
from pricepilot.pricing.posterior import Outcome
from pricepilot.sim.policy import ViewBatch, ViewRequest

I64 = npt.NDArray[np.int64]
DAY_US = 86_400_000_000


class _Pending(msgspec.Struct):
    product_id: str
    category: str
    price: int
    list_price: int
    model_prob: float


class PricepilotPolicy:
    """The simulator's ``PricingPolicy`` (with ``price_batch``) backed by the real engine.

    ``engine``: a :class:`PricingEngine` with the trained model and a
    :class:`~pricepilot.pricing.posterior.DemandPosterior`; its clock must be ``clock`` (the
    policy moves it to each view's time). ``features``: the online state, already warmed with the
    history (pseudonymous ids). ``shoppers``: declared attributes by pseudonymous id.
    """

    def __init__(self, engine: PricingEngine, features: OnlineFeatures, products: Iterable[Product],
                 shoppers: Mapping[str, Shopper], pseudonymiser: Pseudonymiser,
                 clock: FixedClock) -> None:
        self.engine = engine
        self.features = features
        self.products: dict[str, Product] = {p.product_id: p for p in products}
        self.shoppers = dict(shoppers)
        self.pseudo = pseudonymiser
        self.clock = clock
        self._pending: dict[tuple[str, str, int], _Pending] = {}
        self._current: dict[str, int] = {}  # today's public price (smoothing, daily change)
        self._last_base: dict[str, int] = {}
        self._day: int | None = None
        self.decisions = 0
        self.personalised = 0
        self.fallbacks = 0

    # ---- pricing ------------------------------------------------------------------------------
    def price(self, view: ViewRequest) -> int:
        return int(self._price_views([(view.customer_id, view.product_id, to_micros(view.ts),
                                       view.session_id, view.channel, view.device)])[0])

    def price_batch(self, batch: ViewBatch) -> I64:
        n = batch.product_index.shape[0]
        rows = []
        for k in range(n):
            rows.append((
                batch.customer_ids[int(batch.customer_index[k])],
                batch.product_ids[int(batch.product_index[k])], int(batch.ts[k]),
                batch.session_ids[k] if batch.session_ids is not None else None,
                batch.channels[k] if batch.channels is not None else None,
                batch.devices[k] if batch.devices is not None else None,
            ))
        return self._price_views(rows)

    def _roll_day(self, ts: int) -> None:
        day = ts // DAY_US
        if day != self._day:
            # the public price of the new day is where the previous day's base price ended
            self._current.update(self._last_base)
            self._day = day

    def _price_views(self, rows: Sequence[tuple[str, str, int, str | None, str | None, str | None]]) -> I64:
        out = np.zeros(len(rows), dtype=np.int64)
        if not rows:
            return out
        self._roll_day(rows[0][2])
        # views earlier in the same chunk are not learnt yet (their events come after pricing):
        # count them in, as the training set counts every view strictly before
        seen_user: dict[str, int] = {}
        seen_session: dict[tuple[str, str], int] = {}
        items: list[tuple[int, str, Product, dict[str, object], Context, Shopper | None]] = []
        for k, (cid, pid, ts, session, channel, device) in enumerate(rows):
            uid = self.pseudo(cid)
            product = self.products[pid]
            shopper = self.shoppers.get(uid)
            f = self.features.features_many(uid, [product], ts, session, shopper=shopper,
                                            device=device, channel=channel)[0]
            extra_u = seen_user.get(uid, 0)
            if extra_u:
                f["u_views_7d"] = float(f["u_views_7d"]) + extra_u  # type: ignore[arg-type]
            if session is not None:
                extra_s = seen_session.get((uid, session), 0)
                if extra_s:
                    f["u_session_views"] = float(f["u_session_views"]) + extra_s  # type: ignore[arg-type]
                seen_session[(uid, session)] = extra_s + 1
            seen_user[uid] = extra_u + 1
            comp = f.pop("competitor_price", None)
            views_7d = f.get("p_views_7d")
            rate = float(views_7d) / (7 * 24) if isinstance(views_7d, float) and views_7d > 0 else None
            ctx = Context(competitor_price=int(comp) if isinstance(comp, (int, float)) else None,
                          current_price=self._current.get(pid), arrivals_per_hour=rate)
            items.append((k, uid, product, f, ctx, shopper))
        consenting = [it for it in items if it[5] is not None and it[5].personalisation_consent]
        others = [it for it in items if not (it[5] is not None and it[5].personalisation_consent)]
        for group in (consenting, others):
            for s in range(0, len(group), MAX_PAGE):
                page = group[s:s + MAX_PAGE]
                self._decide(page, rows, out)
        return out

    def _decide(self, page: list[tuple[int, str, Product, dict[str, object], Context, Shopper | None]],
                rows: Sequence[tuple[str, str, int, str | None, str | None, str | None]], out: I64) -> None:
        self.clock.set(from_micros(rows[page[0][0]][2]))
        shopper = page[0][5]
        decisions = self.engine.decide_page([(p, f, c) for _, _, p, f, c, _ in page], shopper)
        probs: list[float | None] = [d.public_probability for d in decisions]
        missing = [j for j, q in enumerate(probs) if q is None]
        if missing:
            scored = self._model_probs([page[j] for j in missing], [decisions[j].price for j in missing])
            for j, p_model in zip(missing, scored, strict=True):
                probs[j] = p_model
        for (k, uid, product, _f, _c, _s), d, q in zip(page, decisions, probs, strict=True):
            out[k] = d.price
            self._last_base[product.product_id] = d.base_price
            self.decisions += 1
            self.personalised += int(d.personalised)
            self.fallbacks += int(d.fallback)
            self._pending[(uid, product.product_id, rows[k][2])] = _Pending(
                product.product_id, product.category, d.price, product.list_price,
                float("nan") if q is None else q)

    def _model_probs(self, page: list[tuple[int, str, Product, dict[str, object], Context, Shopper | None]],
                     prices: list[int]) -> list[float]:
        """The public curve's P(buy) at each served price, as the engine's optimiser sees it: the
        posterior corrects that curve, so outcomes are learnt against it."""
        return self.engine.public_probabilities([(p, f, c) for _, _, p, f, c, _ in page], prices)

    # ---- learning -----------------------------------------------------------------------------
    def observe(self, events: Sequence[Event]) -> None:
        pseudo: list[Event] = []
        bought: set[tuple[str, str, str | None]] = set()
        views: list[View] = []
        for e in events:
            uid = getattr(e, "user_id", None)
            if uid is not None:
                e = msgspec.structs.replace(e, user_id=self.pseudo(uid))
            pseudo.append(e)
            if isinstance(e, Purchase):
                bought.add((str(e.user_id), e.product_id, e.session_id))
            elif isinstance(e, View):
                views.append(e)
            elif isinstance(e, Inventory):
                p = self.products.get(e.product_id)
                if p is not None and p.stock is not None:
                    self.products[e.product_id] = msgspec.structs.replace(p, stock=e.stock)
        self.features.learn_many(pseudo)
        outcomes = []
        for v in views:
            pend = self._pending.pop((str(v.user_id), v.product_id, to_micros(v.ts)), None)
            if pend is None:
                continue
            outcomes.append(Outcome(
                product_id=pend.product_id, category=pend.category, price=pend.price,
                list_price=pend.list_price, model_prob=pend.model_prob,
                purchased=(str(v.user_id), v.product_id, v.session_id) in bought))
        if self.engine.posterior is not None and outcomes:
            self.engine.posterior.learn_many(outcomes)


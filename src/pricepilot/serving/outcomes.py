"""Live outcome attribution: which quoted prices were bought, fed to the demand posterior.

The pricing engine explores around its demand model with Thompson sampling over a
:class:`~pricepilot.pricing.posterior.DemandPosterior`; the posterior learns from outcomes (a
shown price, bought or not). In the service a price is shown as a signed quote, and whether it
was bought is known only later, from a purchase event or a confirmed order. :class:`OutcomeTracker`
joins the two:

* :meth:`~OutcomeTracker.remember` (on the quote path, one ``deque.append``): each model-priced
  quote for an identified shopper, with the features its price was decided from;
* :meth:`~OutcomeTracker.shown` (a stored view event naming its quote): the quote's window now
  runs on the shop's clock, from that view;
* :meth:`~OutcomeTracker.purchased` (after a purchase event is stored or an order confirmed): the
  shopper bought the product. It is matched to the quote it names (``quote_id``), or else to the
  shopper's latest open quote of that product whose window (from its decision or view, minus
  ``tolerance`` for clock skew, for the quote's time to live) holds the purchase time. That
  quote was *bought at the quoted price*; the shopper's earlier open quotes of the product were
  views *not bought*. Both are closed to further purchases.

Every quote becomes an outcome when its window closes: ``expires_at + grace`` on the service's
clock, or the view's window ``+ grace`` on the shop's clock (the latest event time the shop
reported), whichever comes first; bought if a purchase was attributed to it, else not bought.
Waiting for the window to close before learning *either* outcome keeps the posterior unbiased:
learning purchases at once but non-purchases only at expiry would overstate demand by the
non-purchases still waiting (in a replay that runs simulated hours in seconds, all of them).

A background thread (every ``interval`` seconds, or :meth:`~OutcomeTracker.flush`) does the work
off the request path: each quote carries the public curve's P(buy) at its price, as the optimiser
saw it (``Decision.public_probability``: the probability the posterior corrects); the few the engine could not give exactly (no curve
fit, a price off the candidate grid) are scored in one batched call of the engine's
``public_probabilities``; purchases
and closed windows are resolved, and the outcomes go to ``posterior.learn_many`` under
``learn_lock`` (the lock the quote path holds while deciding, so a decision never sees half an
update).

Bounds and rules: at most ``max_pending`` quotes are remembered (beyond it the oldest are
dropped, counted in ``dropped``, and not learnt: a guess would bias the posterior). Outcomes are
learnt against the model version that priced the quote; quotes of an older model are dropped
when the model changes (the engine starts a new posterior with each model). :meth:`forget`
drops a shopper's pending quotes (erasure, consent withdrawn); what was already learnt is an
aggregate per product and category, with nothing about the shopper in it.

>>> from datetime import datetime, timedelta, timezone
>>> from pricepilot.clock import FixedClock
>>> from pricepilot.catalog.models import Product
>>> from pricepilot.config import load_settings
>>> from pricepilot.pricing.engine import PricingEngine
>>> from pricepilot.pricing.posterior import DemandPosterior
>>> from pricepilot.pricing.testing import LogitDemand
>>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> clock, post = FixedClock(t), DemandPosterior()
>>> engine = PricingEngine(load_settings(None, env={}), LogitDemand(a=1.0, b=4.0), post, clock=clock)
>>> mug = Product(product_id="MUG", title="Mug", category="kitchen", currency="EUR",
...               unit_cost=400, list_price=999)
>>> tracker = OutcomeTracker(clock, lambda: ("v1", engine, post), interval=0)
>>> tracker.remember([PendingQuote(quote_id="q1", user_id="u", product=mug, price=899,
...     decided_at=t, expires_at=t + timedelta(minutes=15), model_version="v1", features={})])
>>> tracker.purchased("u", "MUG", t + timedelta(minutes=1))
>>> tracker.flush()  # bought, learnt when the quote's window closes
0
>>> clock.set(t + timedelta(minutes=17)); tracker.flush(), tracker.bought, tracker.not_bought
(1, 1, 0)
>>> post.counts_[("MUG", 899)]
[1.0, 1.0]
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import msgspec

from pricepilot.catalog.models import Product
from pricepilot.clock import Clock
from pricepilot.pricing.engine import Context
from pricepilot.pricing.posterior import DemandPosterior, Outcome
from pricepilot.serving.ticker import Ticker

log = logging.getLogger("pricepilot.serving.outcomes")

SCAN_AHEAD = 2_000  # quotes past the oldest open one checked per flush (mixed clocks)
LEARN_CHUNK = 256  # outcomes learnt per hold of the lock the quote path decides under



class Scorer(Protocol):
    """What scores a quoted price: :meth:`PricingEngine.public_probabilities
    <pricepilot.pricing.engine.PricingEngine.public_probabilities>`."""

    def public_probabilities(
        self, items: Sequence[tuple[Product, Mapping[str, object], Context | None]],
        prices: Sequence[int]) -> list[float]: ...


# What the tracker learns into: (model version, pricing engine, posterior) of the current engine.
Source = Callable[[], tuple[str | None, Scorer | None, DemandPosterior | None]]


class PendingQuote(msgspec.Struct, kw_only=True, eq=False, gc=False):
    """A quoted price waiting for its outcome (ids pseudonymous; prices in minor units).

    Up to ``service.max_pending_outcomes`` of these live for the quote's lifetime; ``gc=False``
    keeps them out of the cyclic garbage collector (they hold no cycles), whose full passes
    over 100,000 of them would pause quotes for tens of milliseconds."""

    quote_id: str
    user_id: str
    product: Product
    price: int
    decided_at: datetime
    expires_at: datetime
    model_version: str
    # what the price was decided from; dropped once the public curve's P(buy) at ``price`` is
    # computed (the engine leaves the shopper features out: the posterior corrects that curve)
    features: Mapping[str, object] | None = None
    context: Context | None = None
    model_prob: float = math.nan
    resolved: bool = False  # learnt, or dropped: out of the index
    shown_at: datetime | None = None  # the shop's time of the view that showed it, if reported
    bought: bool = False  # a purchase was attributed to it
    closed: bool = False  # no purchase can be attributed to it any more (bought, superseded)

    @property
    def product_id(self) -> str:
        return self.product.product_id

    def window(self) -> tuple[datetime, datetime]:
        """When a purchase counts for this quote, on the shop's clock when the view said so."""
        start = self.shown_at or self.decided_at
        return start, start + (self.expires_at - self.decided_at)


@dataclass(frozen=True)
class _Purchase:
    user_id: str
    product_id: str
    ts: datetime
    quote_id: str | None
    view: bool = False  # a view naming its quote: sets the quote's shown_at, buys nothing


class OutcomeTracker:
    """Remembers quotes, attributes purchases and expiries, feeds the posterior; see the module."""

    def __init__(self, clock: Clock, source: Source, *, grace_seconds: float = 60.0,
                 tolerance_seconds: float = 5.0, max_pending: int = 100_000,
                 interval: float = 0.5, learn_lock: threading.Lock | None = None,
                 after_learning: Callable[[str, DemandPosterior, int], object] | None = None,
                 ) -> None:
        self.clock = clock
        # called by the learner after every pass with (model version, posterior, outcomes
        # learnt): the service keeps the posterior across restarts with it
        self.after_learning = after_learning
        self.source = source
        self.grace = timedelta(seconds=grace_seconds)
        self.tolerance = timedelta(seconds=tolerance_seconds)
        self.max_pending = max_pending
        self.interval = interval
        self.learn_lock = learn_lock or threading.Lock()
        # counters (read by tests, /readyz-style reports and the docs)
        self.bought = 0
        self.not_bought = 0
        self.dropped = 0  # not learnt: over the memory bound, or priced by a replaced model
        # lock-free hand-over from the request paths (deque.append/popleft are thread-safe)
        self._new: deque[PendingQuote] = deque()
        self._purchases: deque[_Purchase] = deque()
        # the index, touched only under _lock
        self._lock = threading.Lock()
        self._order: deque[PendingQuote] = deque()  # by decision time (expiry sweep, eviction)
        self._by_id: dict[str, PendingQuote] = {}
        self._by_key: dict[tuple[str, str], list[PendingQuote]] = {}
        self._watermark: datetime | None = None  # the shop's clock: latest event time reported
        self._ticker: Ticker | None = None
        if interval > 0:
            self._ticker = Ticker("pricepilot-outcomes", interval, self.flush,
                                  lambda: log.exception("outcome attribution failed"))

    # ---- request paths (cheap) ----------------------------------------------------------------
    def remember(self, quotes: Sequence[PendingQuote]) -> None:
        """Quotes just served (model-priced, identified shoppers only)."""
        if len(self._new) + len(quotes) > self.max_pending:
            self.dropped += len(quotes)  # the learner is far behind: do not grow without bound
            return
        self._new.extend(quotes)

    def purchased(self, user_id: str, product_id: str, ts: datetime,
                  quote_id: str | None = None) -> None:
        """The shopper bought the product at ``ts`` (from a stored purchase event or an order)."""
        if len(self._purchases) < self.max_pending:
            self._purchases.append(_Purchase(user_id, product_id, ts, quote_id))

    def shown(self, user_id: str, product_id: str, ts: datetime, quote_id: str) -> None:
        """A view event naming the quote it showed: the purchase window runs on the shop's clock.

        Shops (and replays of simulated time) stamp events with their own clock; a purchase
        without a quote id is matched against the view's time when the view reported it.
        """
        if len(self._purchases) < self.max_pending:
            self._purchases.append(_Purchase(user_id, product_id, ts, quote_id, view=True))

    def forget(self, user_id: str) -> int:
        """Drop every pending quote of ``user_id`` (erasure, consent withdrawn); returns how many."""
        with self._lock:
            self._take_new()
            n = 0
            for key in [k for k in self._by_key if k[0] == user_id]:
                for q in self._by_key.pop(key):
                    q.resolved = True
                    self._by_id.pop(q.quote_id, None)
                    n += 1
            self._purchases = deque(p for p in self._purchases if p.user_id != user_id)
        return n

    @property
    def pending(self) -> int:
        return len(self._by_id) + len(self._new)

    # ---- the learner ----------------------------------------------------------------------------
    def flush(self) -> int:
        """Attribute everything known now and learn it; returns the number of outcomes learnt."""
        with self._lock:
            version, scorer, posterior = self.source()
            self._take_new(scorer, version)
            resolved: list[tuple[PendingQuote, bool]] = []
            while self._purchases:
                self._attribute(self._purchases.popleft())
            self._expire(self.clock.now(), resolved)
        # learnt against the model that priced the quote, or not at all
        learn = [(q, b) for q, b in resolved if q.model_version == version]
        self.dropped += len(resolved) - len(learn)
        if posterior is None:
            self.dropped += len(learn)
            return 0
        outcomes = [Outcome(product_id=q.product_id, category=q.product.category, price=q.price,
                            list_price=q.product.list_price, model_prob=q.model_prob, purchased=b)
                    for q, b in learn]
        for i in range(0, len(outcomes), LEARN_CHUNK):
            with self.learn_lock:  # in chunks: a quote waits for at most one chunk
                posterior.learn_many(outcomes[i:i + LEARN_CHUNK])
        n_bought = sum(1 for _, b in learn if b)
        self.bought += n_bought
        self.not_bought += len(learn) - n_bought
        if version is not None and self.after_learning is not None:
            self.after_learning(version, posterior, len(learn))  # 0 included: saves what is due
        return len(learn)

    def _take_new(self, scorer: Scorer | None = None, version: str | None = None) -> None:
        """Move new quotes into the index, scoring them in batched calls of the engine."""
        batch: list[PendingQuote] = []
        while self._new:
            batch.append(self._new.popleft())
        if not batch:
            return
        if scorer is None and version is None:
            version, scorer, _ = self.source()
        keep = [q for q in batch if q.model_version == version]
        self.dropped += len(batch) - len(keep)
        # quotes that came with the engine's public probability need no scoring
        unscored = [q for q in keep if q.features is not None]
        if scorer is not None:
            for i in range(0, len(unscored), LEARN_CHUNK):
                chunk = unscored[i:i + LEARN_CHUNK]
                try:
                    # under the decision lock: the engine's caches serve one thread at a time
                    with self.learn_lock:
                        probs = scorer.public_probabilities(
                            [(q.product, q.features or {}, q.context) for q in chunk],
                            [q.price for q in chunk])
                except Exception:  # costs only the Gaussian step (the Beta counts stay)
                    log.exception("outcome attribution: scoring failed; learning counts only")
                    continue
                for q, p in zip(chunk, probs, strict=True):
                    q.model_prob = p if 0.0 <= p <= 1.0 else math.nan
        for q in keep:
            q.features = None
            q.context = None
            self._order.append(q)
            self._by_id[q.quote_id] = q
            self._by_key.setdefault((q.user_id, q.product_id), []).append(q)
        while len(self._by_id) > self.max_pending and self._order:
            old = self._order.popleft()
            if not old.resolved:
                self._unindex(old)
                self.dropped += 1

    def _attribute(self, p: _Purchase) -> None:
        if self._watermark is None or p.ts > self._watermark:
            self._watermark = p.ts
        quotes = self._by_key.get((p.user_id, p.product_id))
        if not quotes:
            return
        if p.view:
            q = self._by_id.get(p.quote_id or "")
            if q is not None and q.user_id == p.user_id and q.product_id == p.product_id:
                q.shown_at = p.ts
            return
        quotes = [q for q in quotes if not q.closed]
        target = None
        if p.quote_id is not None:
            q = self._by_id.get(p.quote_id)
            if q is None or q.user_id != p.user_id or q.product_id != p.product_id:
                # bought at a quote not remembered here (a fallback price, another process):
                # the shopper's open quotes shown before it were not bought at their prices
                for q in quotes:
                    if q.window()[0] - self.tolerance <= p.ts:
                        q.closed = True
                return
            if q.closed:
                return  # already bought (a resent purchase) or superseded
            target = q
        if target is None:
            within = [q for q in quotes
                      if (w := q.window())[0] - self.tolerance <= p.ts <= w[1]]
            if not within:
                return
            target = max(within, key=lambda q: q.window()[0])
        # the bought quote, and the shopper's earlier quotes of the product (views not bought):
        # closed to further purchases; learnt when their windows close
        target.bought = True
        for q in quotes:
            if q.window()[0] <= target.window()[0]:
                q.closed = True

    def _due(self, q: PendingQuote, now: datetime) -> bool:
        """Has the quote's attribution window closed, on the service's or the shop's clock?"""
        if q.expires_at + self.grace < now:
            return True
        wm = self._watermark
        return q.shown_at is not None and wm is not None and q.window()[1] + self.grace < wm

    def _expire(self, now: datetime, out: list[tuple[PendingQuote, bool]]) -> None:
        """Quotes whose window closed become outcomes: bought or not, learnt alike."""
        order = self._order
        while order and (order[0].resolved or self._due(order[0], now)):
            q = order.popleft()
            if not q.resolved:
                self._unindex(q)
                out.append((q, q.bought))
        # windows close roughly in decision order; look a little past a quote still open
        for i, q in enumerate(order):
            if i >= SCAN_AHEAD:
                break
            if not q.resolved and self._due(q, now):
                self._unindex(q)
                out.append((q, q.bought))

    def _unindex(self, q: PendingQuote) -> None:
        q.resolved = True
        self._by_id.pop(q.quote_id, None)
        key = (q.user_id, q.product_id)
        rest = [x for x in self._by_key.get(key, ()) if x is not q]
        if rest:
            self._by_key[key] = rest
        else:
            self._by_key.pop(key, None)

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.close()
            try:  # the last outcomes known, learnt before the learner is saved
                self.flush()
            except Exception:
                log.exception("outcome attribution failed at shutdown")


__all__ = ["OutcomeTracker", "PendingQuote"]

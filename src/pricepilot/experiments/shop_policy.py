"""pricepilot as a shop runs it, wrapped in the simulator's pricing-policy protocol.

:class:`ShopApiPolicy` drives a :class:`~pricepilot.serving.api.Shop` (the public Python API,
:func:`pricepilot.open`) as a storefront drives pricepilot: every product-page view is one
``shop.quote`` for that shopper and product, decided at the view's moment (the shop's clock is
moved there), and every event the simulator emits goes to ``shop.record`` with the shop's own
customer ids (the shop pseudonymises them), each view naming the quote it showed, so live
outcome learning pairs quotes with purchases. Everything else (online features, today's public
price, arrival rates, stock, the demand posterior, the decision log) is the application's own,
so a price served here is the price the HTTP service serves for the same inputs.

It never sees the simulator's truth (latent sensitivities, demand parameters): only
:class:`~pricepilot.sim.policy.ViewRequest` / :class:`~pricepilot.sim.policy.ViewBatch` and the
emitted events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from pricepilot.clock import FixedClock, from_micros, to_micros
from pricepilot.events.schemas import Event, Purchase, View
from pricepilot.serving.api import Shop
from pricepilot.serving.schemas import Quote
from pricepilot.sim.policy import ViewBatch, ViewRequest

I64 = npt.NDArray[np.int64]


class StorefrontEvents:
    """The simulator's events as a storefront reports them to pricepilot.

    Simulated ids restart every run (``e000000001``, ``s00000000``, ...), so event, session and
    order ids get ``prefix``: a run never collides with the ingested history (events are
    idempotent by id: a colliding one would be dropped as a duplicate). A view names the quote
    it showed (:meth:`shown`), as a storefront's page view does; views of one product by one
    shopper in the same instant are matched in order.

    >>> from datetime import datetime, timezone
    >>> ids = StorefrontEvents("run-")
    >>> t = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> ids.shown("c1", "MUG", to_micros(t), "q1")
    >>> ev = ids.rewrite(View(event_id="e1", ts=t, user_id="c1", product_id="MUG", price=999,
    ...                       currency="EUR", session_id="s1"))
    >>> ev.event_id, ev.session_id, ev.quote_id
    ('run-e1', 'run-s1', 'q1')
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        # (customer, product, view time) -> the quotes shown then, in order
        self._quotes: dict[tuple[str, str, int], deque[str]] = {}

    def session(self, session_id: str) -> str:
        """The session id as the storefront reports it (prefixed)."""
        return self.prefix + session_id

    def shown(self, customer_id: str, product_id: str, ts_us: int, quote_id: str) -> None:
        """The view of ``product_id`` by ``customer_id`` at ``ts_us`` showed quote ``quote_id``."""
        self._quotes.setdefault((customer_id, product_id, ts_us), deque()).append(quote_id)

    def rewrite(self, ev: Event) -> Event:
        """``ev`` with prefixed ids and, for a view, the quote it showed."""
        changes: dict[str, object] = {"event_id": self.prefix + ev.event_id}
        sid = getattr(ev, "session_id", None)
        if sid is not None:
            changes["session_id"] = self.prefix + sid
        if isinstance(ev, Purchase):
            changes["order_id"] = self.prefix + ev.order_id
        if isinstance(ev, View):
            changes["quote_id"] = self._shown_at((ev.user_id, ev.product_id, to_micros(ev.ts)))
        return msgspec.structs.replace(ev, **changes)

    def _shown_at(self, key: tuple[str, str, int]) -> str | None:
        quotes = self._quotes.get(key)
        if not quotes:
            return None
        quote_id = quotes.popleft()
        if not quotes:
            del self._quotes[key]
        return quote_id


class ShopApiPolicy:
    """The simulator's ``PricingPolicy`` (with ``price_batch``) backed by a pricepilot shop.

    ``shop``: opened with ``clock`` (``pricepilot.open(settings, clock=clock)``), with its
    products, shoppers, history and model in place; the policy moves ``clock`` to each view's
    time. ``run_id`` prefixes the run's event, session and order ids (:class:`StorefrontEvents`).
    Counts quotes served (``decisions``), personalised ones and guarded list-price fallbacks.
    """

    def __init__(self, shop: Shop, clock: FixedClock, *, run_id: str = "run") -> None:
        self.shop = shop
        self.clock = clock
        self.ids = StorefrontEvents(f"{run_id}-")
        self.decisions = 0
        self.personalised = 0
        self.fallbacks = 0

    # ---- pricing ------------------------------------------------------------------------------
    def quote_view(self, view: ViewRequest) -> Quote:
        """The quote the shop serves for ``view`` (what :meth:`price` shows)."""
        return self._quote(view.customer_id, view.product_id, to_micros(view.ts), view.session_id,
                           view.channel, view.device)

    def price(self, view: ViewRequest) -> int:
        """The quoted price of ``view`` (minor units)."""
        return self.quote_view(view).price

    def price_batch(self, batch: ViewBatch) -> I64:
        """The quoted price of every view of ``batch``, one quote per view in time order (the
        same quotes as :meth:`price`)."""
        out = np.zeros(batch.product_index.shape[0], dtype=np.int64)
        for k in range(out.shape[0]):
            out[k] = self._quote(
                batch.customer_ids[int(batch.customer_index[k])],
                batch.product_ids[int(batch.product_index[k])], int(batch.ts[k]),
                batch.session_ids[k] if batch.session_ids is not None else None,
                batch.channels[k] if batch.channels is not None else None,
                batch.devices[k] if batch.devices is not None else None).price
        return out

    def _quote(self, customer_id: str, product_id: str, ts_us: int, session_id: str | None,
               channel: str | None, device: str | None) -> Quote:
        # a product page shows one product: one quote request per page view, at its moment
        self.clock.set(from_micros(ts_us))
        response = self.shop.quote(
            customer_id, [product_id], channel=channel, device=device,
            session_id=self.ids.session(session_id) if session_id is not None else None)
        quote = response.quotes[0]
        self.ids.shown(customer_id, product_id, ts_us, quote.quote_id)
        self.decisions += 1
        self.personalised += int(quote.personalised)
        self.fallbacks += int(response.fallback or quote.fallback)
        return quote

    # ---- learning -----------------------------------------------------------------------------
    def observe(self, events: Sequence[Event]) -> None:
        """Report the events to the shop, as received when the latest of them happened."""
        if not events:
            return
        self.shop.record([self.ids.rewrite(e) for e in events], at=max(e.ts for e in events))

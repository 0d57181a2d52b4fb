"""The public Python API: :func:`pricepilot.open` returns a :class:`Shop`.

A shop's own Python (a batch job, a notebook, an evaluation harness) prices through the same
application layer as the HTTP service and the CLI, so a decision made here is the decision the
service would serve for the same inputs::

    import pricepilot
    from pricepilot.catalog.models import Product

    with pricepilot.open(paths__data_dir="shop-data") as shop:
        shop.upsert_products([Product(product_id="MUG", title="Mug", category="kitchen",
                                      currency="EUR", unit_cost=400, list_price=1000)])
        shop.record([{"type": "view", "event_id": "e1", "ts": "2026-03-02T10:00:00Z",
                      "customer_id": "c1", "product_id": "MUG", "price": 1000, "currency": "EUR"}])
        manifest = shop.train(promote=True)
        quote = shop.quote("c1", ["MUG"]).quotes[0]
        print(quote.price, quote.binding_rule, [s.stage for s in quote.explanation])

Inputs are validated exactly as the HTTP API validates them (the same msgspec types: dicts are
converted, errors name the field); customer ids are the shop's own and are pseudonymised at the
door. Time comes from the injected ``clock`` (default: the system clock); ``at=`` decides one
call at a given moment, so a simulation can drive a shop in simulated time.

>>> import tempfile, pricepilot
>>> from pricepilot.catalog.models import Product
>>> with pricepilot.open(paths__data_dir=tempfile.mkdtemp()) as shop:
...     _ = shop.upsert_products([Product(product_id="MUG", title="Mug", category="kitchen",
...                                       currency="EUR", unit_cost=400, list_price=1000)])
...     r = shop.quote("c1", ["MUG"])  # no model yet: the guarded list price
>>> r.fallback, r.quotes[0].price
(True, 1000)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import msgspec
import pandas as pd

from pricepilot.catalog.models import Product
from pricepilot.clock import Clock, SystemClock
from pricepilot.config import Settings, load_settings
from pricepilot.demand.evaluation import Progress
from pricepilot.demand.registry import ModelManifest
from pricepilot.errors import NotFound, Unavailable, ValidationError
from pricepilot.events.ingest import IngestReport
from pricepilot.events.schemas import Event
from pricepilot.serving import schemas as s
from pricepilot.serving.application import Application
from pricepilot.serving.retraining import RetrainResult

T = TypeVar("T")


class CallClock:
    """``base``'s time, or the moment one call was asked to run at (per thread)."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self._at = threading.local()

    def now(self) -> datetime:
        at: datetime | None = getattr(self._at, "value", None)
        return at if at is not None else self.base.now()

    @contextmanager
    def at(self, when: datetime | None) -> Iterator[None]:
        if when is None:
            yield
            return
        if when.tzinfo is None:
            raise ValidationError("call", "at", "must carry a time zone")
        prior = getattr(self._at, "value", None)
        self._at.value = when
        try:
            yield
        finally:
            self._at.value = prior


def _convert(value: Any, type_: type[T], what: str) -> T:
    """``value`` (dicts, or the typed values themselves) validated exactly as a JSON request
    body of ``type_`` is: the same constraints, the same error paths."""
    try:
        return msgspec.json.decode(msgspec.json.encode(value), type=type_)
    except (msgspec.ValidationError, msgspec.EncodeError, TypeError) as e:
        raise ValidationError(what, None, str(e)) from e


class Shop:
    """One shop's pricing and promotions in process; see the module doc. Close it (or use it as
    a context manager) to flush the decision log and release the store."""

    def __init__(self, app: Application, clock: CallClock) -> None:
        self.app = app
        self.clock = clock

    @property
    def settings(self) -> Settings:
        return self.app.settings

    # ------------------------------------------------------------------ catalogue and events
    def upsert_products(self, products: Iterable[Product]) -> list[Product]:
        """Insert or replace products (validated); every process serves them within
        ``service.sync_seconds``."""
        return self.app.catalogue_admin.upsert_products(list(products))

    def record(self, events: Iterable[Event | Mapping[str, Any]], *,
               at: datetime | None = None) -> s.IngestResult:
        """Ingest events as ``POST /v1/events`` does (``customer_id`` is the shop's customer id):
        stored durably and idempotently, then learnt by the online state and live learning."""
        typed: list[Event] = _convert(list(events), list[Event], "events")
        with self.clock.at(at):
            return self.app.intake.ingest(typed)

    def ingest_files(self, *, products: str | Path | None = None,
                     shoppers: str | Path | None = None, events: Sequence[str | Path] = (),
                     on_error: str | None = None, rejects: str | Path | None = None,
                     progress: Any = None) -> IngestReport | None:
        """Load a shop's files as ``pricepilot ingest`` does (validated, idempotent; customer
        ids pseudonymised; protected attributes refused or kept audit-only), then use them at
        once: the catalogue is refreshed and the online state learns the new events. Returns
        the event files' report (None without event files)."""
        from pricepilot.events.ingest import (
            ingest_event_files,
            ingest_products,
            ingest_shoppers,
        )
        from pricepilot.serving.warmup import warm_online_features

        store = self.app.store
        if products is not None:
            ingest_products(store, products)
            self.app.catalogue.wrote()
        if shoppers is not None:
            ingest_shoppers(store, shoppers, self.settings)
        report = None
        if events:
            report = ingest_event_files(store, list(events), self.settings, clock=self.clock,
                                        on_error=on_error,  # type: ignore[arg-type]
                                        rejects_path=rejects, progress=progress)
            with self.app.features_lock:  # idempotent by event_id: only the new ones change it
                warm_online_features(store, self.app.features, self.settings.online.type)
        return report

    # ------------------------------------------------------------------ pricing
    def quote(self, customer_id: str | None, product_ids: Sequence[str], *,
              at: datetime | None = None, session_id: str | None = None,
              device: str | None = None, channel: str | None = None,
              region: str | None = None, currency: str | None = None) -> s.QuoteResponse:
        """Signed, guarded, explained quotes, one per product, exactly as ``POST /v1/quotes``
        answers: a missing or failing model or online state gives guarded list prices
        (``fallback=True``)."""
        request = _convert({"product_ids": list(product_ids), "customer_id": customer_id,
                            "session_id": session_id, "device": device, "channel": channel,
                            "region": region, "currency": currency}, s.QuoteRequest, "quote")
        with self.clock.at(at):
            try:
                return self.app.quoting.quote(request)
            except Unavailable:
                return self.app.quoting.fallback(request)

    def price_cart(self, cart: s.CartRequest | Mapping[str, Any], *,
                   at: datetime | None = None) -> s.PricedCart:
        """The cart with the active promotions, honouring valid signed quotes; no side effects."""
        request = _convert(cart, s.CartRequest, "cart")
        with self.clock.at(at):
            return self.app.checkout.price_cart(request)

    def confirm_order(self, order: s.OrderRequest | Mapping[str, Any], *,
                      at: datetime | None = None) -> s.OrderConfirmation:
        """Price and redeem atomically, idempotent by ``order_id``."""
        request = _convert(order, s.OrderRequest, "order")
        with self.clock.at(at):
            return self.app.checkout.confirm_order(request)

    def cancel_order(self, order_id: str, *, at: datetime | None = None) -> s.OrderConfirmation:
        with self.clock.at(at):
            return self.app.checkout.cancel_order(order_id)

    # ------------------------------------------------------------------ learning
    def train(self, *, promote: bool = True, family: str = "lgbm", n_splits: int = 3,
              params: Mapping[str, Any] | None = None, search: bool = False,
              frame: pd.DataFrame | None = None, since: datetime | None = None,
              until: datetime | None = None, warm_posterior: bool = False,
              progress: Progress | None = None) -> ModelManifest:
        """Train a demand model (time CV, calibration, registry) on ``frame`` or, by default, the
        store's point-in-time training set (``since``/``until``); promote it if ``promote`` and
        the promotion rule allow; quotes use it from the next call. With ``warm_posterior``, the
        new version's demand posterior then learns the same rows (:meth:`warm_posterior`)."""
        from pricepilot.demand.training import train_model

        if frame is None:
            frame = self._training_set(since, until)
        manifest = train_model(frame, self.settings, family=family, params=params,
                               search=search, n_splits=n_splits, promote=promote,
                               progress=progress, registry=self.app.registry)
        self.app.learning.reload()
        if warm_posterior:
            self.warm_posterior(frame, version=manifest.version)
        return manifest

    def warm_posterior(self, frame: pd.DataFrame | None = None, *,
                       version: str | None = None) -> int:
        """Teach a model version's demand posterior (default: the promoted one) the in-stock
        views of ``frame`` (default: the store's training set) before it prices live, so every
        product starts from its own correction of the model instead of its category's
        (:func:`~pricepilot.pricing.warm_start.history_outcomes`). Saved with the posterior
        files, so the service starts from it too. Returns the outcomes learnt (0 with live
        learning off: decisions then use the model's curve as it is)."""
        from pricepilot.pricing.warm_start import history_outcomes

        version = version or self.app.registry.current_version()
        if version is None:
            raise NotFound("current demand model", str(self.app.registry.root))
        if not self.app.learning.enabled:
            return 0
        model = self.app.registry.get(version)
        if frame is None:
            frame = self._training_set(None, None)
        return self.app.learning.warm(version, history_outcomes(frame, model))

    def retrain_if_due(self, *, at: datetime | None = None) -> RetrainResult | None:
        """The scheduled retrain (``training.retrain_every_hours``) if due on the shop's clock
        (or at ``at``): trained on the store, promoted only if it beats the current model on
        views neither saw. None when not due. ``pricepilot serve`` runs it in the background; an
        embedding job or a simulation calls it as its clock moves."""
        with self.clock.at(at):
            return self.app.retraining.run_if_due()

    # ------------------------------------------------------------------ reports
    def guardrail_costs(self, *, since: datetime | None = None,
                        until: datetime | None = None) -> pd.DataFrame:
        """What each pipeline stage (smoothing and every guardrail) cost in expected profit over
        the logged decisions of ``[since, until)``: decisions moved, and the profit given up in
        total and per decision, minor units (:func:`pricepilot.pricing.stage_cost.guardrail_costs`)."""
        from pricepilot.pricing.stage_cost import guardrail_costs

        self.app.decisions.flush()
        frame = self.app.store.decisions_frame(since=since, until=until)
        return guardrail_costs(frame["explanation"] if len(frame) else [])

    def _training_set(self, since: datetime | None, until: datetime | None) -> pd.DataFrame:
        from pricepilot.features.training import training_set_from_store

        self.app.decisions.flush()
        return training_set_from_store(self.app.store, self.settings, since=since, until=until)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        self.app.close()

    def __enter__(self) -> Shop:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_shop(settings_or_path: Settings | str | Path | None = None, *,
              clock: Clock | None = None, seed: int | None = None, warm: bool = True,
              overrides: Mapping[str, Any] | None = None, **more: Any) -> Shop:
    """Open a shop: ``settings_or_path`` is a :class:`Settings`, a TOML file, or None (the
    defaults, ``pricepilot.toml`` if present and ``PRICEPILOT_*`` variables). Overrides are
    dotted names (``overrides={"store.url": ...}``) or keywords with ``__`` for the dot
    (``store__url=...``). With ``warm``, the in-process online state is rebuilt from the event
    log, as ``pricepilot serve`` does."""
    from pricepilot.serving.warmup import warm_online_features

    dotted = {**dict(overrides or {}), **{k.replace("__", "."): v for k, v in more.items()}}
    if isinstance(settings_or_path, Settings):
        settings = settings_or_path
        if dotted:
            raise ValidationError("pricepilot.open", "overrides",
                                  "give overrides with a path or None, not with a Settings object")
    elif settings_or_path is None:
        settings = load_settings(overrides=dotted)
    else:
        settings = load_settings(settings_or_path, overrides=dotted)
    call_clock = CallClock(clock or SystemClock())
    app = Application(settings, clock=call_clock, seed=seed)  # retrains when asked (retrain_if_due)
    if warm:
        warm_online_features(app.store, app.features, settings.online.type)
    return Shop(app, call_clock)

"""The real :class:`~pricepilot.service.backend.ServiceBackend`: the engines behind the HTTP API.

One object holds the parts (store, online features, model registry, pricing engine, promotion
repository and ledger, quote signer, pseudonymiser) and turns each API call into engine calls;
:mod:`pricepilot.service.adapters` maps wire schemas to engine types. Everything is injectable,
so tests and fault-injection can hand in their own store, features, registry, ledger or clock::

    EngineBackend(settings, store=..., features=..., registry=..., ledger=..., clock=...)

Shop customer ids are pseudonymised (``Pseudonymiser(settings.security.pseudonym_key)``) at the
door: nothing keyed by the shop's own id is stored or signed.

>>> from pricepilot.config import load_settings
>>> from pricepilot.store import open_store
>>> store = open_store("sqlite://"); store.migrate()
>>> import tempfile
>>> backend = EngineBackend(load_settings(None, env={}, overrides={"paths.data_dir": tempfile.mkdtemp()}),
...                        store=store)
>>> import asyncio; asyncio.run(backend.ready()).dependencies["store"].ok
True
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa

from pricepilot.catalog.models import CategoryPolicy, Guardrails, Product, validate_guardrails
from pricepilot.clock import Clock, SystemClock, from_micros, to_micros
from pricepilot.compliance.attributes import Shopper
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings
from pricepilot.demand.registry import ModelRegistry
from pricepilot.errors import (
    Conflict,
    DeadlineExceeded,
    NotFound,
    PricepilotError,
    Unavailable,
    ValidationError,
)
from pricepilot.events.schemas import (
    Calendar,
    CompetitorPrice,
    Event,
    Inventory,
    Purchase,
    View,
)
from pricepilot.features.online import OnlineFeatures, open_online_features
from pricepilot.ids import uuid7_hex
from pricepilot.money import format_amount
from pricepilot.pricing.decision import Decision
from pricepilot.pricing.engine import Context, PricingEngine
from pricepilot.pricing.posterior import DemandPosterior
from pricepilot.pricing.quotes import QuoteError, QuoteSigner
from pricepilot.promotions import model as pm
from pricepilot.promotions.cart import Cart, CartLine, Customer, MarketState, ShippingLine
from pricepilot.promotions.engine import PromotionEngine
from pricepilot.promotions.ledger import Redemption, RedemptionLedger
from pricepilot.promotions.ledger_sql import SqlLedger
from pricepilot.promotions.market import market_state
from pricepilot.promotions.policy import policy_from_settings
from pricepilot.promotions.repository import PromotionRepository
from pricepilot.promotions.results import PricedCart as EnginePricedCart
from pricepilot.promotions.tables import (
    promotion_counters,
    promotion_definitions,
    promotion_redemptions,
)
from pricepilot.promotions.validation import compile_all
from pricepilot.service import schemas as s
from pricepilot.service.adapters import (
    ANONYMOUS,
    decode_token,
    encode_token,
    promotion_from_spec,
    wire_cart,
    wire_quote,
)
from pricepilot.service.decision_log import DecisionLog
from pricepilot.service.live_events import LiveIngestor
from pricepilot.service.models import Loaded, ModelHolder
from pricepilot.service.orders import refuse_exhausted_coupons
from pricepilot.service.outcomes import OutcomeTracker, PendingQuote
from pricepilot.service.posterior_files import PosteriorFiles
from pricepilot.service.price_history import StorePriceHistory
from pricepilot.service.quote_thread import QuoteThread
from pricepilot.service.tables import service_orders as orders_t
from pricepilot.service.tables import service_promotions as promos_t
from pricepilot.store.records import DecisionRecord
from pricepilot.store.sql import SqlStore, open_store

log = logging.getLogger("pricepilot.service.engine")

MARKET_TYPES = ("calendar", "competitor_price", "inventory")
MARKET_WINDOW = timedelta(days=7)  # calendar and stock events older than this are not read
MARKET_TTL_SECONDS = 1.0
ANON_FEATURE_USER = "anonymous"  # online-feature key of shoppers without a customer id


T = TypeVar("T")


def _micros_now(clock: Clock) -> int:
    return to_micros(clock.now())


class _PricingState(msgspec.Struct, frozen=True):
    """The model and the engine built on it: swapped together, read once per request."""

    loaded: Loaded
    engine: PricingEngine


class _PromoState(msgspec.Struct, frozen=True):
    version: tuple[int, int]
    definitions: list[pm.Promotion]
    engine: PromotionEngine


class StoreLedger(SqlLedger):
    """The SQL ledger on the store's own engine.

    The store's SQLite engine already opens every transaction with ``BEGIN IMMEDIATE`` (its
    ``begin`` hook), so the ledger's own ``BEGIN IMMEDIATE`` on an autocommit connection would
    nest; on that engine a plain ``engine.begin()`` gives the same write lock.
    """

    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn


class EngineBackend:
    """The engines behind :class:`~pricepilot.service.backend.ServiceBackend`; see the module doc."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: SqlStore | None = None,
        features: OnlineFeatures | None = None,
        registry: ModelRegistry | None = None,
        ledger: RedemptionLedger | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        decision_flush_seconds: float = 0.05,
        shopper_ttl_seconds: float | None = None,
        outcome_flush_seconds: float = 0.5,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        if store is None:
            store = open_store(settings, clock=self.clock)
            store.migrate()
        self.store: SqlStore = store
        self.pseudonymise = Pseudonymiser(settings.security.pseudonym_key)
        self.live_events = LiveIngestor(store, settings, self.clock)
        self.signer = QuoteSigner.from_settings(settings, self.clock)
        # the catalogue is cached in process: quotes (and the fallback) need no database read
        self.catalogue: dict[str, Product] = {p.product_id: p for p in store.list_products()}
        self.categories: dict[str, Guardrails] = {
            c.category: c.guardrails for c in store.list_category_policies()
        }
        self.features = features or open_online_features(settings, self.catalogue.values())
        self.features.set_products(self.catalogue.values())
        self.history = StorePriceHistory(store, buffered=decision_flush_seconds > 0, clock=self.clock,
                                         window_days=settings.compliance.prior_price_days,
                                         resolution_seconds=60)
        self.decisions = DecisionLog(store, interval=decision_flush_seconds,
                                     also_flush=[self.history.flush])
        self.registry = registry or ModelRegistry.from_settings(settings, self.clock)
        self._seed = seed
        # live learning: one demand posterior per model version, fed by the outcome tracker
        learn = settings.service.learn_outcomes
        self.learn_outcomes = learn == "on" or (learn == "auto" and settings.online.type == "memory")
        self._posteriors: dict[str, DemandPosterior] = {}
        self._learn_lock = threading.Lock()  # a decision never reads a half-learnt posterior
        # ... and kept across restarts, one file per model version
        save_s = settings.service.posterior_save_seconds
        self.posterior_files = (PosteriorFiles(settings.data_dir / "posteriors", save_s)
                                if self.learn_outcomes and save_s > 0 else None)
        self.models = ModelHolder(self.registry, on_swap=self._on_model_swap)
        self._pricing = self._build_pricing(self.models.current())
        self._fallback_engine = PricingEngine(settings, None, None, None, self.clock,
                                              categories=self.categories)
        self.policy = policy_from_settings(settings)
        self.repository = PromotionRepository(store.engine, timezone=settings.shop.timezone)
        if ledger is None:
            if settings.online.type == "redis":
                from pricepilot.promotions.ledger_redis import RedisLedger

                ledger = RedisLedger.from_url(settings.online.url,
                                              prefix=f"{settings.online.key_prefix}promo:")
            else:
                ledger = StoreLedger(store.engine)
        self.ledger = ledger
        # shopper records (consent) cached in process: this process's own consent and erasure
        # writes drop the entry at once; a write by another process applies within the TTL.
        # Default: 1 s on the embedded SQLite store; none on a server database, whose outage must
        # show at once (quotes fall back) and whose read is a network round trip either way
        if shopper_ttl_seconds is None:
            shopper_ttl_seconds = 1.0 if store.dialect == "sqlite" else 0.0
        self.shopper_ttl = shopper_ttl_seconds
        self._shoppers: dict[str, tuple[float, Shopper | None]] = {}
        self._reader = threading.local()  # per thread: the SQLite connection shoppers are read on
        self._reader_conns: list[Any] = []
        self._promos: _PromoState | None = None
        self._market: tuple[float, MarketState] | None = None
        # one thread: the pricing engine (its random state, caches) is used by one thread only
        deadline_ms = settings.service.quote_deadline_ms
        self._quote_deadline = deadline_ms / 1000
        self._quote_thread = QuoteThread() if deadline_ms and quote_thread_on(settings) else None
        # store and ledger I/O of every other call: a pool of threads, a deadline per request
        write_ms = settings.service.write_deadline_ms
        self._write_deadline = write_ms / 1000
        self._write_executor = (ThreadPoolExecutor(settings.service.write_threads,
                                                   thread_name_prefix="pricepilot-write")
                                if write_ms else None)
        self._features_lock = threading.Lock()  # online features: one writer at a time
        self.outcomes: OutcomeTracker | None = None
        if self.learn_outcomes:
            self.outcomes = OutcomeTracker(
                self.clock, self._outcome_source,
                grace_seconds=settings.service.outcome_grace_seconds,
                max_pending=settings.service.max_pending_outcomes,
                interval=outcome_flush_seconds, learn_lock=self._learn_lock,
                after_learning=None if self.posterior_files is None else self._posterior_learnt)

    # ================================================================== model, hot reload
    def _build_pricing(self, loaded: Loaded) -> _PricingState:
        posterior = None
        if self.learn_outcomes and loaded.model is not None and loaded.version is not None:
            # what was learnt is a correction of this model's curve: kept per version, so a
            # rollback finds its own posterior again
            posterior = self._posteriors.get(loaded.version)
            if posterior is None:
                posterior = (DemandPosterior() if self.posterior_files is None
                             else self.posterior_files.load(loaded.version))
                self._posteriors[loaded.version] = posterior
        engine = PricingEngine(self.settings, loaded.model, posterior, self.history, self.clock,
                               categories=self.categories, seed=self._seed)
        return _PricingState(loaded, engine)

    def _posterior_learnt(self, version: str, posterior: DemandPosterior, n: int) -> None:
        assert self.posterior_files is not None
        try:
            self.posterior_files.learnt(version, posterior, n)
        except OSError:  # a full or read-only disk must not stop learning; the next pass retries
            log.exception("posterior of model %s could not be saved", version)

    def _outcome_source(self) -> tuple[str | None, PricingEngine, DemandPosterior | None]:
        state = self._pricing_state()
        return state.loaded.version, state.engine, state.engine.posterior

    def _on_model_swap(self, loaded: Loaded) -> None:
        if hasattr(self, "_pricing"):
            self._pricing = self._build_pricing(loaded)

    def _pricing_state(self) -> _PricingState:
        loaded = self.models.current()
        state = self._pricing
        if state.loaded is not loaded:  # swapped by another caller between the two reads
            state = self._pricing
        return state

    # ================================================================== catalogue
    def _product(self, product_id: str) -> Product:
        p = self.catalogue.get(product_id)
        if p is None:
            # another process may have added it since this one started
            p = self.store.get_product(product_id)
            self._cache_product(p)
        return p

    def _cache_product(self, p: Product) -> None:
        self.catalogue[p.product_id] = p
        with self._features_lock:
            self.features.set_products([p])
        self.live_events.add_products([p.product_id])

    def _shopper(self, user_id: str | None) -> Shopper | None:
        """The shopper's record (consent, declared attributes).

        Cached for ``shopper_ttl_seconds``: an opt-out or erasure through this process applies to
        its next quote (the entry is dropped), one through another process (another worker, the
        CLI) within the TTL. ``shopper_ttl_seconds=0`` (the default on PostgreSQL) reads the
        store on every request.
        """
        if user_id is None:
            return None
        now = time.monotonic()
        hit = self._shoppers.get(user_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        shopper = self._read_shopper(user_id)
        if self.shopper_ttl > 0:
            if len(self._shoppers) >= 100_000:
                self._shoppers.clear()
            self._shoppers[user_id] = (now + self.shopper_ttl, shopper)
        return shopper

    def _read_shopper(self, user_id: str) -> Shopper | None:
        if self.store.dialect == "sqlite":
            return self._sqlite_shopper(user_id)
        try:
            return self.store.get_shopper(user_id)
        except NotFound:
            return None

    def _sqlite_shopper(self, user_id: str) -> Shopper | None:
        # The store opens every SQLite transaction with BEGIN IMMEDIATE (the write lock), so its
        # reads queue behind the write-behind flushes; a plain autocommit SELECT reads the last
        # committed WAL snapshot without taking a lock. The connection is kept per thread (the
        # quote thread): a pool checkout and its reset on return cost more than the read.
        raw = getattr(self._reader, "conn", None)
        if raw is None:
            raw = self._reader.conn = self.store.engine.raw_connection()
            self._reader_conns.append(raw)
        try:
            cur = raw.cursor()
            cur.execute("SELECT tier, device, region, channel, attributes, personalisation_consent"
                        " FROM shoppers WHERE shopper_id = ?", (user_id,))
            row = cur.fetchone()
            cur.close()
        except sqlite3.Error as e:
            self._reader.conn = None  # a fresh connection next time
            with contextlib.suppress(Exception):
                raw.invalidate()
            raise Unavailable("store", f"shopper read failed: {e}") from e
        if row is None:
            return None
        attrs = row[4]
        return Shopper(shopper_id=user_id, tier=row[0], device=row[1], region=row[2],
                       channel=row[3],
                       attributes=json.loads(attrs) if isinstance(attrs, str) else dict(attrs or {}),
                       personalisation_consent=bool(row[5]))

    # ================================================================== events
    def _do_ingest_events(self, events: Sequence[Event]) -> s.IngestResult:
        evs: list[Event] = []
        for ev in events:
            uid = getattr(ev, "user_id", None)
            evs.append(msgspec.structs.replace(ev, user_id=self.pseudonymise(uid))
                       if uid is not None else ev)
        # durable first: the answer is sent only after the store has the events
        accepted, duplicates = self.live_events.ingest(evs)
        try:
            with self._features_lock:
                self.features.learn_many(evs)
        except Exception as e:
            # the events are stored; a resend (safe: idempotent) brings the features up to date
            raise Unavailable("online features", f"events stored but not learned: {e}") from e
        if any(isinstance(e, (Calendar, CompetitorPrice, Inventory)) for e in evs):
            self._market = None
        if self.outcomes is not None:
            for ev in evs:
                if isinstance(ev, Purchase):
                    self.outcomes.purchased(ev.user_id, ev.product_id, ev.ts, ev.quote_id)
                elif isinstance(ev, View) and ev.quote_id is not None:
                    self.outcomes.shown(ev.user_id, ev.product_id, ev.ts, ev.quote_id)
        return s.IngestResult(accepted=accepted, duplicates=duplicates)

    # ================================================================== quotes
    async def quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        """Decide on the quote thread, waiting at most ``service.quote_deadline_ms``.

        The engines read the database synchronously; a dependency that accepts a connection and
        never answers would otherwise hold the event loop and freeze the worker (health checks
        included). Past the deadline the caller gets :class:`Unavailable` and serves the guarded
        fallback; the stuck decision ends on its own thread.
        """
        if self._quote_thread is None:
            return self._quote(request)
        try:
            return await self._quote_thread.call(self._quote, request, self._quote_deadline)
        except TimeoutError:
            raise Unavailable("quote engine",
                              f"no decision within {self._quote_deadline * 1000:.0f} ms") from None

    def _quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        state = self._pricing_state()
        if state.loaded.model is None:
            raise Unavailable("demand model", state.loaded.reason)
        products = self._quote_products(request)
        now = self.clock.now()
        user_id = self.pseudonymise(request.customer_id) if request.customer_id else None
        shopper = self._shopper(user_id)
        try:
            feats = self.features.features_many(
                user_id or ANON_FEATURE_USER, products, now, request.session_id,
                shopper=shopper, device=request.device, channel=request.channel)
        except Exception as e:
            raise Unavailable("online features", str(e)) from e
        items = [(p, f, Context(competitor_price=_opt_int(f.get("competitor_price"))))
                 for p, f in zip(products, feats)]
        personal = shopper if shopper is not None and shopper.personalisation_consent else None
        with self._learn_lock:
            decisions = state.engine.decide_page(items, personal)
        response = self._respond(decisions, user_id, request, fallback=False)
        if self.outcomes is not None and user_id is not None and (
                shopper is None or shopper.personalisation_consent):
            self._remember(state, items, decisions, response, user_id)
        return response

    def _remember(self, state: _PricingState, items: list[tuple[Product, dict[str, object], Context]],
                  decisions: list[Decision], response: s.QuoteResponse, user_id: str) -> None:
        """Model-priced quotes wait for their outcome (bought / expired) in the tracker."""
        assert self.outcomes is not None
        version = state.loaded.version or ""
        self.outcomes.remember([
            # the engine's public P(buy) at the price when it knows it exactly; else the tracker
            # scores the quote from its features later (off the request path)
            PendingQuote(quote_id=q.quote_id, user_id=user_id, product=p, price=d.price,
                         decided_at=d.decided_at, expires_at=d.expires_at, model_version=version,
                         features=None if d.public_probability is not None else f,
                         context=None if d.public_probability is not None else c,
                         model_prob=math.nan if d.public_probability is None else d.public_probability)
            for (p, f, c), d, q in zip(items, decisions, response.quotes, strict=True)
            if not d.fallback])

    async def fallback_quote(self, request: s.QuoteRequest) -> s.QuoteResponse:
        products = []
        for pid in request.product_ids:
            p = self.catalogue.get(pid)
            if p is None:
                raise NotFound("product", pid)
            products.append(p)
        self._check_currency(request, products)
        user_id = self.pseudonymise(request.customer_id) if request.customer_id else None
        decisions = self._fallback_engine.decide_page([(p, {}, None) for p in products], None)
        return self._respond(decisions, user_id, request, fallback=True)

    def _quote_products(self, request: s.QuoteRequest) -> list[Product]:
        products = [self._product(pid) for pid in request.product_ids]
        self._check_currency(request, products)
        return products

    @staticmethod
    def _check_currency(request: s.QuoteRequest, products: list[Product]) -> None:
        if request.currency is None:
            return
        for i, p in enumerate(products):
            if p.currency != request.currency:
                raise ValidationError("quote", f"$.product_ids[{i}]",
                                      f"product is priced in {p.currency}, not {request.currency}")

    def _respond(self, decisions: list[Decision], user_id: str | None,
                 request: s.QuoteRequest, *, fallback: bool) -> s.QuoteResponse:
        quotes: list[s.Quote] = []
        records: list[DecisionRecord] = []
        context = {k: v for k, v in (("session_id", request.session_id),
                                     ("channel", request.channel), ("device", request.device),
                                     ("region", request.region)) if v is not None}
        for d in decisions:
            qid = uuid7_hex()  # time-ordered: the decision log appends at its index edge
            signed = self.signer.sign(qid, user_id or ANONYMOUS, d.product_id, d.price,
                                      d.currency, d.expires_at)
            quotes.append(wire_quote(d, signed, encode_token(signed),
                                     _disclosure(d, self.settings.compliance.prior_price_days)))
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
                raise  # the route serves the fallback, which tries once more
            # the fallback must answer even with the store down; the loss is logged loudly
            log.exception("decision log unavailable: %d fallback quotes not logged", len(records))
        return s.QuoteResponse(quotes=quotes, fallback=fallback or any(q.fallback for q in quotes))

    # ================================================================== carts
    def _promo_state(self) -> _PromoState:
        with self.store.engine.connect() as conn:
            n, latest = conn.execute(sa.select(sa.func.count(), sa.func.max(
                promotion_definitions.c.updated_at))).one()
        version = (int(n), int(latest or 0))
        st = self._promos
        if st is None or st.version != version:
            defs = self.repository.list()
            st = _PromoState(version, defs, PromotionEngine(defs, self.policy, clock=self.clock))
            self.ledger.configure(defs)
            self._promos = st
        return st

    def _market_state(self, now: datetime) -> MarketState:
        cached = self._market
        mono = time.monotonic()
        if cached is not None and mono - cached[0] < MARKET_TTL_SECONDS:
            return cached[1]
        frame = self.store.events_frame(types=list(MARKET_TYPES), since=now - MARKET_WINDOW,
                                        until=now + timedelta(microseconds=1))
        events: list[object] = []
        for r in frame.to_dict("records"):
            ts = from_micros(int(r["ts"]))
            if r["type"] == "calendar":
                events.append(Calendar(event_id=r["event_id"], ts=ts,
                                       day=date.fromisoformat(str(r["day"])), name=str(r["name"]),
                                       region=_opt_str(r.get("region"))))
            elif r["type"] == "competitor_price":
                events.append(CompetitorPrice(
                    event_id=r["event_id"], ts=ts, product_id=str(r["product_id"]),
                    competitor=str(r["competitor"]), price=int(r["price"]),
                    currency=str(r["currency"]), on_promotion=bool(r["on_promotion"])))
            else:
                events.append(Inventory(event_id=r["event_id"], ts=ts,
                                        product_id=str(r["product_id"]), stock=int(r["stock"])))
        cats = {pid: p.category for pid, p in self.catalogue.items()}
        market = market_state(events, now, timezone=self.settings.shop.timezone, categories=cats)
        self._market = (mono, market)
        return market

    def _verified_price(self, i: int, line: s.CartLine, product: Product, currency: str,
                        user_id: str | None) -> int:
        where = f"$.lines[{i}].quote_signature"
        if line.quote_id is None or line.quote_signature is None:
            raise ValidationError("quote", where if line.quote_id else f"$.lines[{i}].quote_id",
                                  "a quote needs both quote_id and quote_signature")
        try:
            claimed = decode_token(line.quote_id, product.product_id, line.quote_signature)
            q = self.signer.verify(claimed)
        except ValueError as e:
            raise ValidationError("quote", where, f"invalid_quote: {e}") from e
        except QuoteError as e:
            raise ValidationError("quote", where, f"{e.code}: {e.reason}") from e
        if q.shopper_id != ANONYMOUS and q.shopper_id != user_id:
            raise ValidationError("quote", where, "quote_not_for_shopper: the quote was issued "
                                  "to another shopper")
        if q.currency != currency:
            raise ValidationError("quote", where, f"quote is in {q.currency}, cart in {currency}")
        return q.price

    def _price(self, currency: str, lines: Sequence[s.CartLine], coupons: Sequence[str],
               shipping: int, customer_id: str | None,
               extra: Sequence[pm.Promotion] | None = None,
               with_active: bool = True) -> tuple[EnginePricedCart, list[pm.Promotion], str | None]:
        now = self.clock.now()
        user_id = self.pseudonymise(customer_id) if customer_id else None
        cart_lines = []
        for i, line in enumerate(lines):
            try:
                p = self._product(line.product_id)
            except NotFound as e:
                raise ValidationError("cart", f"$.lines[{i}].product_id", "unknown product") from e
            if p.currency != currency:
                raise ValidationError("cart", f"$.lines[{i}].product_id",
                                      f"product is priced in {p.currency}, cart in {currency}")
            unit = p.list_price
            if line.quote_id is not None or line.quote_signature is not None:
                unit = self._verified_price(i, line, p, currency, user_id)
            cart_lines.append(CartLine(sku=p.product_id, qty=line.quantity, unit_price=unit,
                                       category=p.category, brand=p.brand,
                                       quote_id=line.quote_id))
        cart = Cart(currency=currency, lines=cart_lines,
                    shipping=[ShippingLine(method="standard", price=shipping)] if shipping else [])
        state = self._promo_state()
        defs = state.definitions if with_active else []
        if extra is not None:
            defs = [*defs, *extra]
            engine = PromotionEngine(defs, self.policy, clock=self.clock)
        else:
            engine = state.engine
        shopper = self._shopper(user_id)
        customer = Customer(id=user_id, tier=shopper.tier if shopper else None,
                            segment=shopper.tier if shopper else None,
                            channel=shopper.channel if shopper else None)
        try:
            usage = self.ledger.usage(user_id)
        except Exception as e:
            raise Unavailable("redemption ledger", str(e)) from e
        priced = engine.price_cart(cart, customer, now, list(coupons),
                                   market=self._market_state(now), usage=usage)
        return priced, defs, user_id

    def _do_price_cart(self, request: s.CartRequest) -> s.PricedCart:
        priced, _, _ = self._price(request.currency, request.lines, request.coupons,
                                   request.shipping, request.customer_id)
        return wire_cart(priced)

    # ================================================================== orders
    def _stored_order(self, order_id: str) -> tuple[str, s.OrderConfirmation] | None:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(orders_t.c.fingerprint, orders_t.c.body)
                               .where(orders_t.c.order_id == order_id)).first()
        if row is None:
            return None
        return row.fingerprint, msgspec.json.decode(row.body, type=s.OrderConfirmation)

    def _do_confirm_order(self, request: s.OrderRequest) -> s.OrderConfirmation:
        user_id = self.pseudonymise(request.customer_id) if request.customer_id else None
        # the shop's customer id never reaches storage, not even inside the fingerprint
        fingerprint = hashlib.sha256(msgspec.json.encode(
            msgspec.structs.replace(request, customer_id=user_id))).hexdigest()
        stored = self._stored_order(request.order_id)
        if stored is not None:
            return self._replay(request.order_id, stored, fingerprint)
        priced, _, _ = self._price(request.currency, request.lines, request.coupons,
                                   request.shipping, request.customer_id)
        refuse_exhausted_coupons(priced)  # never confirm at a total the shopper did not see
        coupons = {a.id: a.coupon_code for a in priced.applied}
        redemptions = [Redemption(promotion_id=a.id, amount=a.amount, customer_id=user_id,
                                  coupon_code=coupons.get(a.id)) for a in priced.applied]
        # the ledger's own claim on order_id makes a concurrent or post-crash resend redeem
        # nothing twice; Conflict names a used-up limit
        self.ledger.redeem(request.order_id, redemptions)
        conf = s.OrderConfirmation(
            order_id=request.order_id, status="confirmed", cart=wire_cart(priced),
            redemptions=[s.Redemption(promotion_id=r.promotion_id, amount=r.amount)
                         for r in redemptions])
        try:
            with self.store.engine.begin() as conn:
                conn.execute(orders_t.insert().values(
                    order_id=request.order_id, fingerprint=fingerprint, shopper_id=user_id,
                    status="confirmed", body=msgspec.json.encode(conf).decode(),
                    created_at=_micros_now(self.clock)))
        except sa.exc.IntegrityError:
            stored = self._stored_order(request.order_id)  # a concurrent resend won the race
            if stored is None:
                raise
            return self._replay(request.order_id, stored, fingerprint)
        except sa.exc.OperationalError as e:
            raise Unavailable("store", f"order {request.order_id!r} not recorded: {e}") from e
        if self.outcomes is not None and user_id is not None:
            now = self.clock.now()
            for line in request.lines:
                self.outcomes.purchased(user_id, line.product_id, now, line.quote_id)
        return conf

    @staticmethod
    def _replay(order_id: str, stored: tuple[str, s.OrderConfirmation],
                fingerprint: str) -> s.OrderConfirmation:
        if stored[0] != fingerprint:
            raise Conflict("order", order_id, "already confirmed with other lines, coupons, "
                           "currency or customer")
        return msgspec.structs.replace(stored[1], replayed=True)

    def _do_cancel_order(self, order_id: str) -> s.OrderConfirmation:
        stored = self._stored_order(order_id)
        if stored is None:
            raise NotFound("order", order_id)
        conf = stored[1]
        if conf.status == "cancelled":
            return conf
        self.ledger.release(order_id)
        conf = msgspec.structs.replace(conf, status="cancelled")
        with self.store.engine.begin() as conn:
            conn.execute(orders_t.update().where(orders_t.c.order_id == order_id).values(
                status="cancelled", body=msgspec.json.encode(conf).decode()))
        return conf

    # ================================================================== admin: promotions
    def _promo_row(self, promotion_id: str) -> Any:
        with self.store.engine.connect() as conn:
            row = conn.execute(sa.select(promos_t).where(
                promos_t.c.promotion_id == promotion_id)).first()
        if row is None:
            raise NotFound("promotion", promotion_id)
        return row

    def _wire_promotion(self, row: Any, usage: Any = None) -> s.Promotion:
        if usage is None:
            usage = self.ledger.usage()
        return s.Promotion(
            promotion_id=row.promotion_id, status="paused" if row.paused else "active",
            spec=msgspec.json.decode(row.spec, type=s.PromotionSpec),
            created_at=from_micros(row.created_at), updated_at=from_micros(row.updated_at),
            redeemed_amount=usage.spent.get(row.promotion_id, 0),
            redemptions=usage.redemptions.get(row.promotion_id, 0),
        )

    def _definition(self, promotion_id: str, spec: s.PromotionSpec) -> pm.Promotion:
        return promotion_from_spec(promotion_id, spec, default_currency=self.settings.shop.currency)

    def _do_create_promotion(self, spec: s.PromotionSpec) -> s.Promotion:
        pid = f"promo-{uuid.uuid4().hex[:12]}"
        self.repository.upsert(self._definition(pid, spec))  # validated with the stored set
        now = _micros_now(self.clock)
        try:
            with self.store.engine.begin() as conn:
                conn.execute(promos_t.insert().values(
                    promotion_id=pid, spec=msgspec.json.encode(spec).decode(), paused=False,
                    created_at=now, updated_at=now))
        except Exception:
            self.repository.delete(pid)
            raise
        return self._wire_promotion(self._promo_row(pid))

    def _do_update_promotion(self, promotion_id: str, spec: s.PromotionSpec) -> s.Promotion:
        row = self._promo_row(promotion_id)
        definition = self._definition(promotion_id, spec)
        if row.paused:
            compile_all([definition], None, timezone=self.settings.shop.timezone)
        else:
            self.repository.upsert(definition)
        with self.store.engine.begin() as conn:
            conn.execute(promos_t.update().where(promos_t.c.promotion_id == promotion_id).values(
                spec=msgspec.json.encode(spec).decode(), updated_at=_micros_now(self.clock)))
        return self._wire_promotion(self._promo_row(promotion_id))

    def _do_set_promotion_paused(self, promotion_id: str, paused: bool) -> s.Promotion:
        row = self._promo_row(promotion_id)
        if bool(row.paused) != paused:
            if paused:
                self.repository.delete(promotion_id)
            else:
                spec = msgspec.json.decode(row.spec, type=s.PromotionSpec)
                self.repository.upsert(self._definition(promotion_id, spec))
            with self.store.engine.begin() as conn:
                conn.execute(promos_t.update().where(promos_t.c.promotion_id == promotion_id)
                             .values(paused=paused, updated_at=_micros_now(self.clock)))
        return self._wire_promotion(self._promo_row(promotion_id))

    def _do_delete_promotion(self, promotion_id: str) -> None:
        row = self._promo_row(promotion_id)
        if not row.paused:
            self.repository.delete(promotion_id)
        with self.store.engine.begin() as conn:
            conn.execute(promos_t.delete().where(promos_t.c.promotion_id == promotion_id))

    def _do_get_promotion(self, promotion_id: str) -> s.Promotion:
        return self._wire_promotion(self._promo_row(promotion_id))

    def _do_list_promotions(self) -> s.PromotionList:
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(promos_t).order_by(promos_t.c.created_at,
                                                             promos_t.c.promotion_id)).all()
        usage = self.ledger.usage()
        return s.PromotionList(promotions=[self._wire_promotion(r, usage) for r in rows])

    def _do_preview_promotion(self, request: s.PromotionPreviewRequest) -> s.PricedCart:
        draft = self._definition("preview", request.promotion)
        c = request.cart
        priced, _, _ = self._price(c.currency, c.lines, c.coupons, c.shipping, c.customer_id,
                                   extra=[draft], with_active=request.with_active)
        return wire_cart(priced)

    # ================================================================== admin: catalogue
    def _do_upsert_product(self, product: Product) -> Product:
        self.store.upsert_products([product])
        stored = self.store.get_product(product.product_id)
        self._cache_product(stored)
        return stored

    def _do_get_product(self, product_id: str) -> Product:
        return self.store.get_product(product_id)

    def _do_list_products(self, limit: int, after: str | None) -> s.ProductPage:
        products = [p for p in self.store.list_products() if after is None or p.product_id > after]
        page = products[:limit]
        more = len(products) > limit
        return s.ProductPage(products=page, next_after=page[-1].product_id if more else None)

    def _do_set_guardrails(self, category: str, guardrails: Guardrails) -> CategoryPolicy:
        g = validate_guardrails(guardrails, f"guardrails of category {category!r}")
        policy = CategoryPolicy(category=category, guardrails=g)
        self.store.upsert_category_policy(policy)
        self.categories[category] = g  # the dict every pricing engine reads
        return policy

    def _do_get_guardrails(self, category: str) -> CategoryPolicy:
        for p in self.store.list_category_policies():
            if p.category == category:
                return p
        raise NotFound("category guardrails", category)

    def _do_list_guardrails(self) -> list[CategoryPolicy]:
        return self.store.list_category_policies()

    # ================================================================== admin: models
    def _model_info(self, version: str, active: str | None) -> s.ModelInfo:
        m = self.registry.manifest(version)
        return s.ModelInfo(
            version=m.version, kind=m.family,
            status="active" if m.version == active else "candidate",
            created_at=datetime.fromisoformat(m.created_at).astimezone(UTC),
            metrics={k: float(v) for k, v in m.metrics.items()},
        )

    def _do_list_models(self) -> s.ModelList:
        active = self.registry.current_version()
        return s.ModelList(models=[self._model_info(m.version, active)
                                   for m in self.registry.list()], active=active)

    def _do_promote_model(self, version: str) -> s.ModelInfo:
        self.registry.promote(version)
        self.models.reload(force=True)
        return self._model_info(version, self.registry.current_version())

    def _do_rollback_model(self) -> s.ModelInfo:
        version = self.registry.rollback()
        self.models.reload(force=True)
        return self._model_info(version, version)

    # ================================================================== shoppers
    def _do_erase_shopper(self, customer_id: str) -> s.ErasureResult:
        user_id = self.pseudonymise(customer_id)
        self._shoppers.pop(user_id, None)
        self.decisions.flush()  # queued decisions of this shopper must not land after erasure
        erased = dict(self.store.erase_shopper(user_id))
        with self.store.engine.begin() as conn:
            erased["orders"] = conn.execute(orders_t.update().where(
                orders_t.c.shopper_id == user_id).values(shopper_id=None)).rowcount
            if isinstance(self.ledger, SqlLedger):
                erased["redemptions"] = conn.execute(promotion_redemptions.update().where(
                    promotion_redemptions.c.customer_id == user_id).values(customer_id=None)
                ).rowcount
                # per-customer counters are keyed "pc:<promotion>:<shopper>", "cc:<code>:<shopper>"
                erased["usage_counters"] = conn.execute(promotion_counters.delete().where(
                    promotion_counters.c.key.like(f"%:{user_id}"))).rowcount
        if self.outcomes is not None:
            self.outcomes.forget(user_id)  # its pending quotes are never learnt
        try:
            with self._features_lock:
                self.features.forget_user(user_id)
        except Exception as e:
            raise Unavailable("online features", f"store erased, online state not: {e}") from e
        return s.ErasureResult(customer_id=customer_id, erased=erased)

    def _do_set_consent(self, customer_id: str, personalisation: bool) -> s.Consent:
        user_id = self.pseudonymise(customer_id)
        self._shoppers.pop(user_id, None)
        try:
            self.store.set_consent(user_id, personalisation)
        except NotFound:
            self.store.upsert_shopper(Shopper(shopper_id=user_id,
                                              personalisation_consent=personalisation))
        finally:
            self._shoppers.pop(user_id, None)  # a quote may have re-read it meanwhile
        if not personalisation and self.outcomes is not None:
            self.outcomes.forget(user_id)  # an opted-out shopper's behaviour is not learnt live
        return s.Consent(customer_id=customer_id, personalisation=personalisation,
                         updated_at=self.clock.now())

    # ================================================================== off the event loop
    async def _io(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` (store, ledger or registry I/O) on the write pool, within the deadline.

        A database or Redis that accepts a connection and never answers would otherwise hold the
        event loop and freeze the worker: quotes, health checks and every other request. Past
        ``service.write_deadline_ms`` the caller gets :class:`DeadlineExceeded` (503 +
        Retry-After). A call still queued then is cancelled; one already running finishes on its
        thread, so its write may still land: every write here is idempotent (events by
        ``event_id``, orders by ``order_id``), so the client's retry is safe.
        """
        if self._write_executor is None:
            return _infra_errors(what, fn, *args)
        future = asyncio.get_running_loop().run_in_executor(
            self._write_executor, _infra_errors, what, fn, *args)
        try:
            return await asyncio.wait_for(future, self._write_deadline)
        except TimeoutError:
            raise DeadlineExceeded(what, round(self._write_deadline * 1000)) from None

    async def ingest_events(self, events: Sequence[Event]) -> s.IngestResult:
        return await self._io("event write", self._do_ingest_events, events)

    async def price_cart(self, request: s.CartRequest) -> s.PricedCart:
        return await self._io("cart pricing", self._do_price_cart, request)

    async def confirm_order(self, request: s.OrderRequest) -> s.OrderConfirmation:
        return await self._io("order confirmation", self._do_confirm_order, request)

    async def cancel_order(self, order_id: str) -> s.OrderConfirmation:
        return await self._io("order cancellation", self._do_cancel_order, order_id)

    async def create_promotion(self, spec: s.PromotionSpec) -> s.Promotion:
        return await self._io("promotion admin", self._do_create_promotion, spec)

    async def update_promotion(self, promotion_id: str, spec: s.PromotionSpec) -> s.Promotion:
        return await self._io("promotion admin", self._do_update_promotion, promotion_id, spec)

    async def set_promotion_paused(self, promotion_id: str, paused: bool) -> s.Promotion:
        return await self._io("promotion admin", self._do_set_promotion_paused, promotion_id, paused)

    async def delete_promotion(self, promotion_id: str) -> None:
        return await self._io("promotion admin", self._do_delete_promotion, promotion_id)

    async def get_promotion(self, promotion_id: str) -> s.Promotion:
        return await self._io("promotion admin", self._do_get_promotion, promotion_id)

    async def list_promotions(self) -> s.PromotionList:
        return await self._io("promotion admin", self._do_list_promotions)

    async def preview_promotion(self, request: s.PromotionPreviewRequest) -> s.PricedCart:
        return await self._io("promotion preview", self._do_preview_promotion, request)

    async def upsert_product(self, product: Product) -> Product:
        return await self._io("catalogue admin", self._do_upsert_product, product)

    async def get_product(self, product_id: str) -> Product:
        return await self._io("catalogue admin", self._do_get_product, product_id)

    async def list_products(self, limit: int, after: str | None) -> s.ProductPage:
        return await self._io("catalogue admin", self._do_list_products, limit, after)

    async def set_guardrails(self, category: str, guardrails: Guardrails) -> CategoryPolicy:
        return await self._io("guardrails admin", self._do_set_guardrails, category, guardrails)

    async def get_guardrails(self, category: str) -> CategoryPolicy:
        return await self._io("guardrails admin", self._do_get_guardrails, category)

    async def list_guardrails(self) -> list[CategoryPolicy]:
        return await self._io("guardrails admin", self._do_list_guardrails)

    async def list_models(self) -> s.ModelList:
        return await self._io("model registry", self._do_list_models)

    async def promote_model(self, version: str) -> s.ModelInfo:
        return await self._io("model registry", self._do_promote_model, version)

    async def rollback_model(self) -> s.ModelInfo:
        return await self._io("model registry", self._do_rollback_model)

    async def erase_shopper(self, customer_id: str) -> s.ErasureResult:
        return await self._io("shopper erasure", self._do_erase_shopper, customer_id)

    async def set_consent(self, customer_id: str, personalisation: bool) -> s.Consent:
        return await self._io("consent write", self._do_set_consent, customer_id, personalisation)

    # ================================================================== health
    def _probe_store(self) -> str:
        with self.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return self.store.dialect

    def _probe_features(self) -> str:
        self.features.features_many(ANON_FEATURE_USER, [], self.clock.now())
        return self.settings.online.type

    async def _probe(self, name: str, fn: Callable[[], str]) -> s.DependencyStatus:
        try:  # off the loop too: a hanging database makes the service unready, not frozen
            return s.DependencyStatus(ok=True, detail=await self._io(f"{name} probe", fn))
        except Exception as e:  # readiness reports, never raises
            return s.DependencyStatus(ok=False, detail=f"{type(e).__name__}: {e}")

    async def ready(self) -> s.Readiness:
        deps: dict[str, s.DependencyStatus] = {}
        deps["store"] = await self._probe("store", self._probe_store)
        deps["online_features"] = await self._probe("online features", self._probe_features)
        loaded = self.models.current()
        # no model is not "not ready": quotes are then guarded list prices (fallback)
        deps["demand_model"] = s.DependencyStatus(
            ok=loaded.model is not None,
            detail=(loaded.version or "") if loaded.model is not None
            else f"fallback: {loaded.reason}")
        if self.outcomes is not None:  # informational: learning never makes the service unready
            o = self.outcomes
            deps["outcome_learning"] = s.DependencyStatus(
                ok=True, detail=f"{o.bought} bought, {o.not_bought} not bought, {o.pending} "
                                f"pending, {o.dropped} dropped")
        if self.posterior_files is not None:  # informational too: a full disk is no outage
            ok, detail = self.posterior_files.status()
            deps["posterior_files"] = s.DependencyStatus(ok=ok, detail=detail)
        ready = deps["store"].ok and deps["online_features"].ok
        return s.Readiness(ready=ready, dependencies=deps)

    def close(self) -> None:
        if self._quote_thread is not None:
            self._quote_thread.close()
        if self._write_executor is not None:
            self._write_executor.shutdown(wait=False, cancel_futures=True)
        if self.outcomes is not None:
            self.outcomes.close()  # its last pass runs first
        if self.posterior_files is not None:
            try:
                self.posterior_files.save_pending()
            except OSError:
                log.exception("posteriors could not be saved at shutdown")
        self.decisions.close()
        self.features.close()
        for conn in self._reader_conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._reader_conns.clear()
        self.store.close()


def quote_thread_on(settings: Settings) -> bool:
    """Whether quotes are decided on the quote thread (``service.quote_thread``, see config)."""
    mode = settings.service.quote_thread
    if mode != "auto":
        return mode == "on"
    return not settings.database_url.startswith("sqlite") or settings.online.type == "redis"


def _infra_errors(what: str, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, with a dependency's own connection errors turned into :class:`Unavailable`.

    The stores already raise ``Unavailable`` for a lost PostgreSQL connection; this catches what
    reaches the backend raw (a Redis client error, SQLite's "database is locked", a socket error),
    so an outage is a 503 with Retry-After and never a 500. Anything else is a bug and stays one.
    """
    try:
        return fn(*args)
    except PricepilotError:
        raise
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as e:
        raise Unavailable("database", f"{what}: {str(e.orig).strip().splitlines()[0]}") from e
    except (OSError, TimeoutError) as e:  # ConnectionError, socket timeouts
        raise Unavailable(what, f"{type(e).__name__}: {e}") from e
    except Exception as e:
        if type(e).__module__.split(".")[0] == "redis":  # redis.RedisError and its subclasses
            raise Unavailable("redis", f"{what}: {type(e).__name__}: {e}") from e
        raise


def _disclosure(d: Decision, days: int) -> str | None:
    """The shopper-facing text: personalisation, and the prior price beside a reduction."""
    parts = []
    if d.personalised:
        parts.append("This price is personalised, based on your activity in this shop.")
    if d.is_reduction and d.reference_price is not None:
        parts.append(f"Lowest price in the previous {days} days: "
                     f"{format_amount(d.reference_price, d.currency)} {d.currency}.")
    return " ".join(parts) or None


def _opt_int(v: object) -> int | None:
    if v is None:
        return None
    try:
        return int(v)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return None


def _opt_str(v: object) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    return str(v)


def build_engine_backend(settings: Settings, *, warm: bool = True) -> EngineBackend:
    """The engines' backend for ``settings`` (store migrated; with ``warm``, the in-process online
    state rebuilt from the event log)."""
    from pricepilot.service.warmup import warm_online_features

    backend = EngineBackend(settings)
    if warm:
        warm_online_features(backend.store, backend.features, settings.online.type)
    return backend


__all__ = ["EngineBackend", "build_engine_backend"]

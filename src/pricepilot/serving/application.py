"""The application: every use case assembled from ``Settings``, in one place.

:class:`Application` builds the parts (store, online features, model registry, redemption
ledger, quote signer, pseudonymiser, decision log, price history) and the use cases on them:
``quoting``, ``checkout``, ``promotions``, ``catalogue_admin``, ``models``, ``privacy``,
``intake``, with ``learning`` and ``runtime`` beside them. The HTTP service, the CLI and the
Python API (:func:`pricepilot.open`) all call these same objects, so there is one decision path.
Everything is injectable, so tests and fault injection can hand in their own parts::

    Application(settings, store=..., features=..., registry=..., ledger=..., clock=...)

The use cases depend on the :class:`~pricepilot.store.base.Store` interface and on the small
repositories it hands out (:meth:`~pricepilot.store.base.Store.repositories`: orders, promotion
views and definitions, base prices, the redemption ledger), never on a database engine.

>>> import tempfile
>>> from pricepilot.config import load_settings
>>> app = Application(load_settings(None, env={}, overrides={"paths.data_dir": tempfile.mkdtemp()}))
>>> app.readiness().dependencies["store"].ok
True
>>> app.close()
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence

from pricepilot.catalog.models import Product
from pricepilot.clock import Clock, SystemClock, to_micros
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings
from pricepilot.demand.registry import ModelRegistry
from pricepilot.features.online import OnlineFeatures, open_online_features
from pricepilot.pricing.quotes import QuoteSigner
from pricepilot.promotions.ledger import RedemptionLedger
from pricepilot.promotions.policy import policy_from_settings
from pricepilot.serving import schemas as s
from pricepilot.serving.admin import CatalogueAdmin, ModelAdmin
from pricepilot.serving.api_keys import ApiKeys
from pricepilot.serving.base_prices import BasePrices
from pricepilot.serving.catalogue import Catalogue
from pricepilot.serving.checkout import Checkout
from pricepilot.serving.decision_log import DecisionLog
from pricepilot.serving.intake import EventIntake
from pricepilot.serving.learning import Learning
from pricepilot.serving.live_events import LiveIngestor
from pricepilot.serving.market import MarketView
from pricepilot.serving.price_history import StorePriceHistory
from pricepilot.serving.privacy import Privacy
from pricepilot.serving.promotion_admin import PromotionAdmin
from pricepilot.serving.promotion_set import PromotionSet
from pricepilot.serving.quoting import ANON_FEATURE_USER, Quoting
from pricepilot.serving.retraining import Retraining
from pricepilot.serving.runtime import Runtime, infra_errors
from pricepilot.serving.shoppers import ShopperDirectory
from pricepilot.serving.ticker import Ticker
from pricepilot.store import open_store
from pricepilot.store.base import Store
from pricepilot.store.repositories import Repositories

log = logging.getLogger("pricepilot.serving")


def default_ledger(settings: Settings, repositories: Repositories) -> RedemptionLedger:
    """Redis when the online state is on Redis (several workers share it), else the store's."""
    if settings.online.type == "redis":
        from pricepilot.promotions.ledger_redis import RedisLedger

        return RedisLedger.from_url(settings.online.url,
                                    prefix=f"{settings.online.key_prefix}promo:")
    return repositories.ledger


class Application:
    """Every use case over one set of parts; see the module doc."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        features: OnlineFeatures | None = None,
        registry: ModelRegistry | None = None,
        ledger: RedemptionLedger | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        decision_flush_seconds: float = 0.05,
        shopper_ttl_seconds: float | None = None,
        outcome_flush_seconds: float = 0.5,
        retrain_in_background: bool = False,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        if store is None:
            store = open_store(settings, clock=self.clock)
            store.migrate()
        self.store = store
        repos = store.repositories(timezone=settings.shop.timezone)
        sync_s = settings.service.sync_seconds
        self.pseudonymise = Pseudonymiser(settings.security.pseudonym_key)
        self.signer = QuoteSigner.from_settings(settings, self.clock)
        self.catalogue = Catalogue(store, sync_seconds=sync_s)
        self.features = features or open_online_features(settings, self.catalogue.products.values())
        self.features_lock = threading.Lock()  # online features: one writer at a time
        self.ingestor = LiveIngestor(store, settings, self.clock)
        self.catalogue.listen(self._products_changed)
        self.history = StorePriceHistory(store, buffered=decision_flush_seconds > 0, clock=self.clock,
                                         window_days=settings.compliance.prior_price_days,
                                         resolution_seconds=60)
        self.decisions = DecisionLog(store, interval=decision_flush_seconds,
                                     also_flush=[self.history.flush])
        self.registry = registry or ModelRegistry.from_settings(settings, self.clock)
        self.learning = Learning(settings, self.registry, self.history, self.clock,
                                 self.catalogue.categories, seed=seed,
                                 outcome_flush_seconds=outcome_flush_seconds,
                                 products=self.catalogue.products)
        self.ledger = ledger or default_ledger(settings, repos)
        self.shoppers = ShopperDirectory(store, shopper_ttl_seconds)
        self.base_prices = BasePrices(repos.base_prices, settings.shop.timezone,
                                      flush_seconds=sync_s, sync_seconds=sync_s)
        self.market = MarketView(store, self._product_categories, timezone=settings.shop.timezone)
        self.promotion_set = PromotionSet(repos.promotions, policy_from_settings(settings),
                                          self.ledger, self.clock)
        outcomes = self.learning.outcomes
        # ------------------------------------------------------------------ the use cases
        self.quoting = Quoting(settings, self.clock, self.pseudonymise, self.catalogue,
                               self.shoppers, self.features, self.learning, self.base_prices,
                               self.signer, self.decisions)
        self.checkout = Checkout(repos.orders, self.clock, self.pseudonymise, self.catalogue,
                                 self.shoppers, self.signer, self.promotion_set, self.ledger,
                                 self.market.state,
                                 purchased=None if outcomes is None else outcomes.purchased,
                                 max_quoted_quantity=settings.checkout.max_quoted_quantity)
        self.promotions = PromotionAdmin(repos.promotion_views, repos.promotions, self.ledger,
                                         self.checkout, self.clock,
                                         currency=settings.shop.currency,
                                         timezone=settings.shop.timezone)
        self.catalogue_admin = CatalogueAdmin(store, self.catalogue)
        self.models = ModelAdmin(self.registry, self.learning)
        self.privacy = Privacy(store, repos.orders, self.clock, self.pseudonymise, self.shoppers,
                               self.decisions, self.ledger, self.features, self.features_lock,
                               outcomes)
        self.intake = EventIntake(self.ingestor, self.pseudonymise, self.features,
                                  self.features_lock, outcomes, self.market.invalidate)
        self.runtime = Runtime(settings)
        self.api_keys = ApiKeys(repos.api_keys, settings.service.api_keys, self.clock)
        # shared state other processes write: read (and ours written) in the background, so
        # the request path only ever reads memory
        self._sync = Ticker("pricepilot-sync", max(sync_s, 0.05), self._tick, self._tick_failed)
        # scheduled retraining (training.retrain_every_hours): with ``retrain_in_background``
        # (the served application) on its own thread, not the sync tick (a retrain takes seconds
        # to minutes); otherwise the caller retrains when its clock says so
        # (Shop.retrain_if_due), so a simulation in simulated time stays repeatable
        self.retraining = Retraining(settings, store, self.registry, self.clock,
                                     reload=self.learning.reload, before_read=self.decisions.flush)
        self._retrain = (Ticker("pricepilot-retrain", 60.0, self.retraining.run_if_due,
                                lambda: log.exception("scheduled retrain failed; retried later"))
                         if retrain_in_background and self.retraining.every is not None else None)

    # ------------------------------------------------------------------ keeping in step
    def _products_changed(self, products: Sequence[Product]) -> None:
        with self.features_lock:
            self.features.set_products(products)
        self.ingestor.add_products(products)

    def _product_categories(self) -> dict[str, str | None]:
        return {pid: p.category for pid, p in self.catalogue.products.items()}

    def _tick(self) -> None:
        self.catalogue.sync()
        self.base_prices.tick(self.clock.now(), time.monotonic())
        self.api_keys.refresh()  # a key revoked by any process is refused here from now on

    @staticmethod
    def _tick_failed() -> None:
        log.exception("keeping in step with the store failed; the next tick tries again")

    # ------------------------------------------------------------------ health
    def probe_store(self) -> str:
        self.store.ping()
        return self.store.dialect

    def probe_features(self) -> str:
        self.features.features_many(ANON_FEATURE_USER, [], self.clock.now())
        return self.settings.online.type

    def probe(self, name: str, fn: Callable[[], str]) -> s.DependencyStatus:
        try:
            return s.DependencyStatus(ok=True, detail=infra_errors(f"{name} probe", fn))
        except Exception as e:  # readiness reports, never raises
            return s.DependencyStatus(ok=False, detail=f"{type(e).__name__}: {e}")

    def readiness(self, deps: dict[str, s.DependencyStatus] | None = None) -> s.Readiness:
        """Per-dependency status; ``deps`` may carry the store and features probes already
        run (the service runs them off its event loop)."""
        deps = dict(deps or {})
        if "store" not in deps:
            deps["store"] = self.probe("store", self.probe_store)
        if "online_features" not in deps:
            deps["online_features"] = self.probe("online features", self.probe_features)
        loaded = self.learning.models.current()
        # no model is not "not ready": quotes are then guarded list prices (fallback)
        deps["demand_model"] = s.DependencyStatus(
            ok=loaded.model is not None,
            detail=(loaded.version or "") if loaded.model is not None
            else f"fallback: {loaded.reason}")
        for name, (ok, detail) in self.learning.status().items():
            deps[name] = s.DependencyStatus(ok=ok, detail=detail)
        ready = deps["store"].ok and deps["online_features"].ok
        return s.Readiness(ready=ready, dependencies=deps)

    def close(self) -> None:
        self._sync.close()
        if self._retrain is not None:
            self._retrain.close()
        self.runtime.close()
        self.learning.close()
        with contextlib.suppress(Exception):  # the store may be the dependency that failed
            self.base_prices.flush(to_micros(self.clock.now()))
        self.decisions.close()
        self.features.close()
        self.shoppers.close()
        self.store.close()


def build_application(settings: Settings, *, warm: bool = True,
                      retrain_in_background: bool = True) -> Application:
    """The application for ``settings`` (store migrated; with ``warm``, the in-process online
    state rebuilt from the event log)."""
    from pricepilot.serving.warmup import warm_online_features

    app = Application(settings, retrain_in_background=retrain_in_background)
    if warm:
        warm_online_features(app.store, app.features, settings.online.type)
    return app

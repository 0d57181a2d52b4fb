"""The shopper's rights: erasure on every backend and personalisation consent.

Erasure removes what is held under the shopper's pseudonym from the store (shopper, events,
decisions, price history rows it owns), unlinks its orders, removes it from the redemption
ledger (SQL rows and counters, or the Redis ledger's keys), drops its pending quotes and its
online features. Consent changes apply to this process's next quote at once.
"""

from __future__ import annotations

import threading

from pricepilot.clock import Clock
from pricepilot.compliance.attributes import Shopper
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.errors import NotFound, Unavailable
from pricepilot.features.online import OnlineFeatures
from pricepilot.promotions.ledger import RedemptionLedger
from pricepilot.serving import schemas as s
from pricepilot.serving.decision_log import DecisionLog
from pricepilot.serving.outcomes import OutcomeTracker
from pricepilot.serving.shoppers import ShopperDirectory
from pricepilot.store.base import Store
from pricepilot.store.repositories import OrderStore


class Privacy:
    def __init__(self, store: Store, orders: OrderStore, clock: Clock,
                 pseudonymise: Pseudonymiser, shoppers: ShopperDirectory,
                 decisions: DecisionLog, ledger: RedemptionLedger, features: OnlineFeatures,
                 features_lock: threading.Lock, outcomes: OutcomeTracker | None) -> None:
        self.store = store
        self.orders = orders
        self.clock = clock
        self.pseudonymise = pseudonymise
        self.shoppers = shoppers
        self.decisions = decisions
        self.ledger = ledger
        self.features = features
        self.features_lock = features_lock
        self.outcomes = outcomes

    def erase(self, customer_id: str) -> s.ErasureResult:
        """Erase the shopper everywhere; ``erased`` counts what went, per part: ``shoppers``,
        ``events``, ``decisions`` (store), ``orders`` (unlinked), ``ledger_orders`` and
        ``ledger_counters`` (the active ledger, Redis or SQL, plus the store's own SQL ledger
        when another one is active: rows of an earlier deployment), ``pending_quotes`` (live
        learning) and ``online_features`` (keys of the online state)."""
        user_id = self.pseudonymise(customer_id)
        self.shoppers.drop(user_id)
        self.decisions.flush()  # queued decisions of this shopper must not land after erasure
        erased = dict(self.store.erase_shopper(user_id))
        erased["orders"] = self.orders.unlink_shopper(user_id)
        for ledger in self._ledgers():
            for part, n in ledger.erase_customer(user_id).items():
                erased[part] = erased.get(part, 0) + n
        erased["pending_quotes"] = (self.outcomes.forget(user_id)  # never learnt
                                    if self.outcomes is not None else 0)
        try:
            with self.features_lock:
                erased["online_features"] = self.features.forget_user(user_id)
        except Exception as e:
            raise Unavailable("online features", f"store erased, online state not: {e}") from e
        return s.ErasureResult(customer_id=customer_id, erased=erased)

    def _ledgers(self) -> list[RedemptionLedger]:
        """The active ledger, and the store's SQL ledger when the active one is elsewhere."""
        own = self.store.repositories().ledger
        return [self.ledger] if isinstance(self.ledger, type(own)) else [self.ledger, own]

    def set_consent(self, customer_id: str, personalisation: bool) -> s.Consent:
        user_id = self.pseudonymise(customer_id)
        self.shoppers.drop(user_id)
        try:
            self.store.set_consent(user_id, personalisation)
        except NotFound:
            self.store.upsert_shopper(Shopper(shopper_id=user_id,
                                              personalisation_consent=personalisation))
        finally:
            self.shoppers.drop(user_id)  # a quote may have re-read it meanwhile
        if not personalisation and self.outcomes is not None:
            self.outcomes.forget(user_id)  # an opted-out shopper's behaviour is not learnt live
        return s.Consent(customer_id=customer_id, personalisation=personalisation,
                         updated_at=self.clock.now())

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
        user_id = self.pseudonymise(customer_id)
        self.shoppers.drop(user_id)
        self.decisions.flush()  # queued decisions of this shopper must not land after erasure
        erased = dict(self.store.erase_shopper(user_id))
        erased["orders"] = self.orders.unlink_shopper(user_id)
        erased.update(self.ledger.erase_customer(user_id))
        if self.outcomes is not None:
            self.outcomes.forget(user_id)  # its pending quotes are never learnt
        try:
            with self.features_lock:
                self.features.forget_user(user_id)
        except Exception as e:
            raise Unavailable("online features", f"store erased, online state not: {e}") from e
        return s.ErasureResult(customer_id=customer_id, erased=erased)

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

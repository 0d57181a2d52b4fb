"""The active promotions as the cart engine runs them, rebuilt when any process changes them.

One small read per cart (the count and the newest ``updated_at`` of the definitions) tells
whether the compiled engine is stale; the ledger is told the new limits when it is rebuilt.
"""

from __future__ import annotations

import msgspec

from pricepilot.clock import Clock
from pricepilot.promotions import model as pm
from pricepilot.promotions.engine import PromotionEngine
from pricepilot.promotions.ledger import RedemptionLedger
from pricepilot.promotions.policy import StackingPolicy
from pricepilot.promotions.repository import PromotionDefinitions


class PromoState(msgspec.Struct, frozen=True):
    version: tuple[int, int]
    definitions: list[pm.Promotion]
    engine: PromotionEngine


class PromotionSet:
    def __init__(self, repository: PromotionDefinitions, policy: StackingPolicy,
                 ledger: RedemptionLedger, clock: Clock) -> None:
        self.repository = repository
        self.policy = policy
        self.ledger = ledger
        self.clock = clock
        self._state: PromoState | None = None

    def state(self) -> PromoState:
        version = self.repository.version()
        st = self._state
        if st is None or st.version != version:
            defs = self.repository.list()
            st = PromoState(version, defs, PromotionEngine(defs, self.policy, clock=self.clock))
            self.ledger.configure(defs)
            self._state = st
        return st

"""Records the store keeps that are not catalogue or event entities: the decision log.

>>> from datetime import datetime, timezone
>>> r = DecisionRecord(decision_id="d1", ts=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                    user_id="u1", product_id="SKU-1", price=899, list_price=999,
...                    currency="EUR", model_version="m1")
>>> r.personalised
False
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class DecisionRecord(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One served price: enough to replay it, explain it and evaluate other policies offline."""

    decision_id: str
    ts: datetime
    user_id: str | None  # pseudonymous; None for anonymous quotes
    product_id: str
    price: int  # minor units
    list_price: int  # minor units
    currency: str
    model_version: str
    propensity: float | None = None  # probability the served price had under the policy
    personalised: bool = False
    fallback: bool = False  # served by the fallback path (no model / timeout)
    binding_rule: str | None = None  # the guardrail that bound the price, if any
    explanation: dict[str, Any] = msgspec.field(default_factory=dict)
    context: dict[str, Any] = msgspec.field(default_factory=dict)

"""The decision log on the SQL store: every served decision with its inputs, propensity and
explanation, written in batches (idempotent by ``decision_id``) and read back for evaluation.
One part of :class:`~pricepilot.store.sql.SqlStore`, which delegates to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec
import pandas as pd
import sqlalchemy as sa

from pricepilot.clock import from_micros
from pricepilot.errors import ValidationError
from pricepilot.store import tables as t
from pricepilot.store.engines import JSON_ENCODER
from pricepilot.store.records import DecisionRecord
from pricepilot.store.sql_util import micros, window_filter

if TYPE_CHECKING:
    from pricepilot.store.sql import SqlStore

_DECISION_COLUMNS = ("decision_id", "ts", "user_id", "product_id", "price", "list_price", "currency",
                     "model_version", "propensity", "personalised", "fallback", "binding_rule",
                     "explanation", "context")
assert set(_DECISION_COLUMNS) == {c.name for c in t.decisions.columns}
_SQLITE_DECISION_INSERT = (
    f"INSERT INTO decisions ({', '.join(_DECISION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_DECISION_COLUMNS))}) ON CONFLICT (decision_id) DO NOTHING")


class SqlDecisionLog:
    """The ``decisions`` table of one :class:`SqlStore` (its connections and transactions)."""

    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def log(self, records: Sequence[DecisionRecord]) -> int:
        for r in records:
            if not r.decision_id:
                raise ValidationError("decision", "decision_id", "must not be empty")
            if r.propensity is not None and not 0.0 <= r.propensity <= 1.0:
                raise ValidationError(f"decision {r.decision_id!r}", "propensity",
                                      f"must be in [0, 1], got {r.propensity}")
        if self._store.dialect == "sqlite":
            return self._log_sqlite(records)
        rows: dict[str, dict[str, Any]] = {}
        for r in records:
            row = msgspec.to_builtins(r)
            row["ts"] = micros(r.ts, "ts", f"decision {r.decision_id!r}")
            rows.setdefault(r.decision_id, row)
        if not rows:
            return 0
        # one batched INSERT ... ON CONFLICT DO NOTHING RETURNING: the ids that were new come
        # back (a retried batch counts only what it added), with no read of the index first
        with self._store.connect() as conn:
            added = conn.execute(
                self._store.insert_into(t.decisions).on_conflict_do_nothing(index_elements=["decision_id"])
                .returning(t.decisions.c.decision_id),
                list(rows.values()),
            ).scalars().all()
        return len(added)

    def _log_sqlite(self, records: Sequence[DecisionRecord]) -> int:
        """The decision log's SQLite path: rows as tuples in the driver's own executemany, with
        ``ON CONFLICT DO NOTHING`` (the driver's row count is the number added). The service
        writes a batch every 50 ms from a background thread; SQLAlchemy's per-value processing
        held the interpreter lock ~25 µs a row, stalling the quotes on the event loop."""
        enc = JSON_ENCODER.encode
        rows: dict[str, tuple[object, ...]] = {}
        for r in records:
            if r.decision_id in rows:
                continue
            rows[r.decision_id] = (
                r.decision_id, micros(r.ts, "ts", f"decision {r.decision_id!r}"), r.user_id,
                r.product_id, r.price, r.list_price, r.currency, r.model_version, r.propensity,
                int(r.personalised), int(r.fallback), r.binding_rule,
                enc(r.explanation).decode(), enc(r.context).decode())
        if not rows:
            return 0
        with self._store.connect() as conn:
            result = conn.exec_driver_sql(_SQLITE_DECISION_INSERT, list(rows.values()))
            return int(result.rowcount)

    def frame(self, since: datetime | None, until: datetime | None, product_id: str | None,
              user_id: str | None) -> pd.DataFrame:
        """The decisions in ``since <= ts < until`` (one product / shopper when given)."""
        c = t.decisions.c
        q = window_filter(sa.select(t.decisions).order_by(c.ts, c.decision_id), c,
                           since, until, product_id, user_id)
        with self._store.connect() as conn:
            rows = [tuple(r) for r in conn.execute(q)]
        df = pd.DataFrame.from_records(rows, columns=list(_DECISION_COLUMNS))
        for col in ("ts", "price", "list_price"):
            df[col] = df[col].astype("int64")
        for col in ("personalised", "fallback"):
            df[col] = df[col].astype("bool")
        df["propensity"] = df["propensity"].astype("float64")
        return df

    def get(self, decision_id: str) -> DecisionRecord:
        r = self._store.row(t.decisions, decision_id, "decision")
        d = {str(k): v for k, v in r._asdict().items()}  # keys are quoted_name, not str
        d["ts"] = from_micros(d["ts"])
        d["personalised"] = bool(d["personalised"])
        d["fallback"] = bool(d["fallback"])
        return msgspec.convert(d, DecisionRecord)

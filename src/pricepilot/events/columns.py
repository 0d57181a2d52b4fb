"""The storage form of events as Arrow/pandas columns, shared by the store and ingestion.

Storage form: one row per event, the columns of :data:`EVENT_COLUMNS`; ``ts`` int64 UTC
microseconds, ``price`` int64 minor units, ``quantity``/``stock`` int64, ``on_promotion`` bool,
``day`` ISO date text, everything else text; absent values are null.

>>> from datetime import datetime, timezone
>>> from pricepilot.events.schemas import View
>>> t = events_to_table([View(event_id="e1", ts=datetime(2026, 1, 1, tzinfo=timezone.utc),
...                           user_id="u1", product_id="SKU-1", price=999, currency="EUR")])
>>> t.column("price").to_pylist(), t.column("type").to_pylist()
([999], ['view'])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd
import pyarrow as pa

from pricepilot.clock import to_micros
from pricepilot.errors import ValidationError
from pricepilot.events.limits import check_event_bounds
from pricepilot.events.schemas import EVENT_COLUMNS, EVENT_TYPES, Event, event_type

INT_COLUMNS = ("ts", "quantity", "price", "stock")
BOOL_COLUMNS = ("on_promotion",)

EVENT_ARROW_SCHEMA = pa.schema(
    [
        pa.field(
            c,
            pa.int64() if c in INT_COLUMNS else pa.bool_() if c in BOOL_COLUMNS else pa.string(),
            nullable=c not in ("event_id", "type", "ts"),
        )
        for c in EVENT_COLUMNS
    ]
)

# The storage columns each event type can fill (the rest are always null for that type).
TYPE_COLUMNS: dict[str, tuple[str, ...]] = {
    t: tuple(c for c in EVENT_COLUMNS
             if c in ("event_id", "type", "ts") or c in cls.__struct_fields__)
    for t, cls in EVENT_TYPES.items()
}

_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def event_row(ev: Event) -> tuple[Any, ...]:
    """One event as a storage-form tuple in :data:`EVENT_COLUMNS` order."""
    try:
        ts = to_micros(ev.ts)
    except ValueError as e:
        raise ValidationError("event", "ts", str(e), location=f"event {ev.event_id!r}") from e
    d: dict[str, Any] = {"event_id": ev.event_id, "type": event_type(ev), "ts": ts}
    for f in ev.__struct_fields__:
        if f in ("event_id", "ts"):
            continue
        v = getattr(ev, f)
        if f == "kind":
            continue
        if isinstance(v, date):
            v = v.isoformat()
        d[f] = v
    return tuple(d.get(c) for c in EVENT_COLUMNS)


def events_to_table(events: Iterable[Event]) -> pa.Table:
    """Event structs to a storage-form Arrow table."""
    rows = [event_row(ev) for ev in events]
    return rows_to_table(rows)


def rows_to_table(rows: Sequence[tuple[Any, ...]]) -> pa.Table:
    cols = list(zip(*rows)) if rows else [() for _ in EVENT_COLUMNS]
    try:
        arrays = [
            pa.array(list(col), type=field.type) for col, field in zip(cols, EVENT_ARROW_SCHEMA)
        ]
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
        raise ValidationError("event", None, f"value of the wrong type: {e}") from e
    return pa.Table.from_arrays(arrays, schema=EVENT_ARROW_SCHEMA)


def conform(batch: pa.Table) -> pa.Table:
    """``batch`` with exactly the storage columns, in order and type (missing ones all null);
    a value outside the declared bounds refuses the batch (:mod:`pricepilot.events.limits`)."""
    extra = set(batch.column_names) - set(EVENT_COLUMNS)
    if extra:
        raise ValidationError("event batch", sorted(extra)[0], "is not an event column")
    arrays = []
    for field in EVENT_ARROW_SCHEMA:
        if field.name in batch.column_names:
            col = batch.column(field.name)
            if col.type != field.type:
                try:
                    col = col.cast(field.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                    raise ValidationError("event batch", field.name, str(e)) from e
            arrays.append(col)
        else:
            arrays.append(pa.nulls(batch.num_rows, field.type))
    t = pa.Table.from_arrays(arrays, schema=EVENT_ARROW_SCHEMA)
    for name in ("event_id", "type", "ts"):
        if t.column(name).null_count:
            raise ValidationError("event batch", name, "must not be null")
    check_event_bounds(t)  # the declared lengths, characters and ranges (pricepilot.bounds)
    return t


def table_to_frame(t: pa.Table) -> pd.DataFrame:
    """Storage-form table to pandas with nullable integer/boolean dtypes; ``ts`` as int64."""
    df = t.to_pandas(types_mapper=_PANDAS_TYPES.get)
    df["ts"] = df["ts"].astype("int64")
    return df

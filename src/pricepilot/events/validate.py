"""Vectorised validation of event batches: raw file columns in, storage-form columns out.

Every rule is a column-wide Arrow/numpy expression giving a mask of bad rows; Python runs per row
only for the rows that fail, to build their messages. Two stages:

* :func:`parse_batch` turns the text columns of the shared file format (``price`` as ``"19.99"``,
  ``ts`` as ISO 8601 with offset, ``customer_id``...) into storage form and rejects rows with a
  missing required field, an unknown type, a value of the wrong type or too many decimals;
* :func:`check_batch` applies the semantic rules to storage form (also used for events given as
  structs): negative price, non-positive quantity, negative stock, unknown product, unknown
  currency, then the plausibility rules of :mod:`pricepilot.events.plausibility` (price bounds
  and factors of the list price, a timestamp too old or too far in the future, quantity).

>>> import pyarrow as pa
>>> from pricepilot.compliance.identity import Pseudonymiser
>>> ctx = Context(product_ids={"SKU-1"}, now_us=1_800_000_000_000_000, tolerance_us=0,
...               pseudonymise=Pseudonymiser("k" * 16), source="demo.csv", unit="line")
>>> raw = pa.table({"event_id": ["e1", "e2"], "type": ["view", "view"],
...                 "ts": ["2026-03-01T10:00:00+00:00"] * 2, "customer_id": ["c1", "c1"],
...                 "product_id": ["SKU-1", "SKU-9"], "price": ["19.99", "1.5"],
...                 "currency": ["EUR", "EUR"]})
>>> out = parse_batch(raw, [2, 3], ctx)
>>> out.table.column("price").to_pylist(), [(r.line, r.field) for r in out.rejects]
([1999], [(3, 'product_id')])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pricepilot.clock import to_micros
from pricepilot.config import PlausibilitySettings
from pricepilot.events.columns import EVENT_ARROW_SCHEMA
from pricepilot.events.limits import bound_violations
from pricepilot.events.plausibility import ListPrices, Rules, violations
from pricepilot.events.schemas import EVENT_COLUMNS, EVENT_TYPES
from pricepilot.money import CURRENCY_EXPONENTS

# Columns of the shared event file format (``customer_id`` becomes ``user_id``).
FILE_COLUMNS: tuple[str, ...] = tuple(
    "customer_id" if c == "user_id" else c for c in EVENT_COLUMNS
) + ("kind",)

# Fields each type carries / requires, read off the event structs (one source of truth).
TYPE_FIELDS: dict[str, frozenset[str]] = {
    t: frozenset(f.name for f in msgspec.structs.fields(cls)) for t, cls in EVENT_TYPES.items()
}
TYPE_REQUIRED: dict[str, frozenset[str]] = {
    t: frozenset(f.name for f in msgspec.structs.fields(cls) if f.required) - {"event_id", "ts"}
    for t, cls in EVENT_TYPES.items()
}

# The `missing` policy applies to these optional analysis fields (see docs/ingestion.md):
# fill -> the value below; drop -> the row is dropped and counted. Identifiers (session_id,
# quote_id) and calendar `region` (absent = every region) are never filled or dropped.
FILL_VALUES: dict[str, Any] = {
    "quantity": 1, "on_promotion": False, "channel": "unknown", "device": "unknown",
}

_INT = r"^[+-]?\d{1,18}$"
_DECIMAL = r"^-?\d{1,15}(\.\d{1,15})?$"
_DAY = r"^\d{4}-\d{2}-\d{2}$"
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")


class Reject(msgspec.Struct, kw_only=True):
    """Why one input row was refused (one entry per failed rule)."""

    source: str  # file name, or "events" for the Python API
    unit: str  # "line" (CSV, JSON lines), "row" (Parquet, 1-based) or "event" (API, 0-based)
    line: int
    event_id: str | None
    field: str | None
    reason: str
    value: str | None = None

    @property
    def location(self) -> str:
        return f"{self.source}, {self.unit} {self.line}"

    def message(self) -> str:
        f = f" field {self.field!r}:" if self.field else ""
        return f"{self.location}:{f} {self.reason}"


@dataclass
class Context:
    """What validation checks against; built once per ingestion call."""

    product_ids: set[str]
    now_us: int
    tolerance_us: int
    pseudonymise: Callable[[str], str]
    source: str = "events"
    unit: str = "line"
    missing: str = "fill"  # settings.ingest.missing
    plausibility: PlausibilitySettings = field(default_factory=PlausibilitySettings)
    # each known product's (list price, currency): prices are judged against it
    list_prices: ListPrices = field(default_factory=lambda: ListPrices({}))
    _products: pa.Array | None = None
    _known_ids: list[pa.Array] = field(default_factory=list)
    _known_pseudo: list[pa.Array] = field(default_factory=list)

    def pseudonyms(self, customer: pa.ChunkedArray | pa.Array) -> pa.Array:
        """``user_id`` for every ``customer_id``; each distinct id is hashed once per call."""
        uniq = pc.drop_null(pc.unique(customer))
        keys = pa.concat_arrays(self._known_ids) if self._known_ids else pa.array([], pa.string())
        vals = (pa.concat_arrays(self._known_pseudo) if self._known_pseudo
                else pa.array([], pa.string()))
        new = pc.filter(uniq, pc.invert(pc.is_in(uniq, value_set=keys)))
        if len(new):
            new_vals = pa.array([self.pseudonymise(c) for c in new.to_pylist()], pa.string())
            self._known_ids.append(new.cast(pa.string()))
            self._known_pseudo.append(new_vals)
            keys = pa.concat_arrays([keys, new.cast(pa.string())])
            vals = pa.concat_arrays([vals, new_vals])
            self._known_ids[:] = [keys]
            self._known_pseudo[:] = [vals]
        return pc.take(vals, pc.index_in(customer, value_set=keys))

    @property
    def products(self) -> pa.Array:
        if self._products is None:
            self._products = pa.array(sorted(self.product_ids), pa.string())
        return self._products


@dataclass
class Checked:
    table: pa.Table  # storage form, good rows only
    lines: np.ndarray  # line/row numbers of the rows in `table`
    rejects: list[Reject] = field(default_factory=list)
    rejected_rows: int = 0
    dropped_missing: int = 0


TYPE_LIST: tuple[str, ...] = tuple(EVENT_TYPES)
_TYPE_VALUES = pa.array(TYPE_LIST)


def type_codes(types: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Event types as small ints (index in :data:`TYPE_LIST`, -1 unknown/null) for fast masks."""
    idx = pc.fill_null(pc.index_in(types, value_set=_TYPE_VALUES), -1)
    return np.asarray(idx.to_numpy(zero_copy_only=False), dtype=np.int8)


def types_with(name: str) -> list[int]:
    """Codes of the event types that carry field ``name``."""
    return [i for i, t in enumerate(TYPE_LIST) if name in TYPE_FIELDS[t]]


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


class _Errors:
    """Masks of bad rows, each with the field and a reason; messages built only on failure."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.items: list[tuple[np.ndarray, str | None, Callable[[int], str], pa.Array | None]] = []
        self.bad = np.zeros(n, dtype=bool)

    def add(self, mask: np.ndarray, fld: str | None, reason: str | Callable[[int], str],
            values: pa.Array | pa.ChunkedArray | None = None) -> None:
        mask = mask & ~self.bad  # first failed rule per row is enough to explain it
        if not mask.any():
            return
        fn = reason if callable(reason) else (lambda _i, r=reason: r)
        self.items.append((mask, fld, fn, values))
        self.bad |= mask

    def rejects(self, ctx: Context, lines: Sequence[int], ids: pa.ChunkedArray | pa.Array) -> list[Reject]:
        out: list[Reject] = []
        for mask, fld, fn, values in self.items:
            for i in np.flatnonzero(mask).tolist():
                v = None if values is None else values[i].as_py()
                out.append(Reject(
                    source=ctx.source, unit=ctx.unit, line=int(lines[i]),
                    event_id=ids[i].as_py(), field=fld, reason=fn(i),
                    value=None if v is None else str(v),
                ))
        out.sort(key=lambda r: r.line)
        return out


def _text(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """A column as trimmed text with empty cells as null."""
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        if pa.types.is_floating(col.type):
            return col  # handled by the caller: floats are refused for exact fields
        col = pc.cast(col, pa.string())
    col = pc.cast(col, pa.string())
    empty = pc.equal(pc.utf8_length(col), 0)
    return pc.if_else(empty, pa.scalar(None, pa.string()), col)


def _column(raw: pa.Table, name: str) -> pa.ChunkedArray | pa.Array:
    if name in raw.column_names:
        return raw.column(name)
    return pa.nulls(raw.num_rows, pa.string())


def _parse_ts(col: pa.ChunkedArray | pa.Array, err: _Errors) -> np.ndarray:
    n = len(col)
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            err.add(_np(pc.is_valid(col)), "ts", "timestamp has no time zone")
            return np.zeros(n, dtype=np.int64)
        us = pc.cast(pc.cast(col, pa.timestamp("us", tz="UTC")), pa.int64())
        return np.asarray(pc.fill_null(us, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    text = _text(col)
    try:
        us = pc.cast(pc.cast(text, pa.timestamp("us", tz="UTC")), pa.int64())
        return np.asarray(pc.fill_null(us, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Error path: find the offending rows one by one.
    out = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    naive = np.zeros(n, dtype=bool)
    for i, s in enumerate(text.to_pylist()):
        if s is None:
            continue
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            bad[i] = True
            continue
        if dt.tzinfo is None:
            naive[i] = True
            continue
        out[i] = to_micros(dt)
    err.add(bad, "ts", "is not an ISO 8601 timestamp", text)
    err.add(naive, "ts", "has no UTC offset (write e.g. 2026-03-01T10:00:00+00:00)", text)
    return out


def _parse_int(name: str, col: pa.ChunkedArray | pa.Array, err: _Errors) -> pa.Array:
    if pa.types.is_integer(col.type):
        return pc.cast(col, pa.int64())
    if pa.types.is_floating(col.type):
        whole = pc.equal(col, pc.floor(col))
        err.add(_np(pc.invert(whole)), name, "is not a whole number", col)
        return pc.cast(pc.if_else(whole, col, pa.scalar(None, col.type)), pa.int64(),
                       safe=False)
    text = _text(col)
    ok = pc.match_substring_regex(pc.utf8_trim_whitespace(text), _INT)
    err.add(_np(pc.and_(pc.is_valid(text), pc.invert(ok))), name, "is not an integer", text)
    clean = pc.if_else(ok, pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string()))
    return pc.cast(clean, pa.int64())


def _parse_bool(name: str, col: pa.ChunkedArray | pa.Array, err: _Errors) -> pa.Array:
    if pa.types.is_boolean(col.type):
        return col
    text = pc.utf8_lower(pc.utf8_trim_whitespace(_text(col)))
    t = pc.is_in(text, pa.array(_TRUE))
    f = pc.is_in(text, pa.array(_FALSE))
    err.add(_np(pc.and_(pc.is_valid(text), pc.invert(pc.or_(t, f)))), name,
            "is not a boolean (true/false)", text)
    return pc.if_else(t, True, pc.if_else(f, False, pa.scalar(None, pa.bool_())))


def _parse_price(col: pa.ChunkedArray | pa.Array, currency: pa.Array,
                 err: _Errors) -> pa.Array:
    n = len(col)
    if pa.types.is_floating(col.type):
        err.add(_np(pc.is_valid(col)), "price",
                "is a float; write prices as decimal text (\"19.99\") so they stay exact", col)
        return pa.nulls(n, pa.int64())
    if pa.types.is_integer(col.type):
        col = pc.cast(col, pa.string())
    text = pc.utf8_trim_whitespace(_text(col))
    ok = pc.match_substring_regex(text, _DECIMAL)
    err.add(_np(pc.and_(pc.is_valid(text), pc.invert(ok))), "price",
            "is not a decimal number", text)
    text = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    # Trailing zeros are not extra precision ("19.990" is 19.99), as in money.parse_amount.
    text = pc.replace_substring_regex(text, r"(\.\d*?)0+$", r"\1")
    dot = np.asarray(pc.fill_null(pc.find_substring(text, "."), -1).to_numpy(
        zero_copy_only=False), dtype=np.int64)
    length = np.asarray(pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False),
                        dtype=np.int64)
    decimals = np.where(dot >= 0, length - dot - 1, 0)
    exps = np.asarray(
        [CURRENCY_EXPONENTS.get(c, 0) if c is not None else 0 for c in
         pc.unique(currency).to_pylist()], dtype=np.int64
    )
    idx = pc.index_in(currency, value_set=pc.unique(currency))
    exp = exps[np.asarray(pc.fill_null(idx, 0).to_numpy(zero_copy_only=False), dtype=np.int64)]
    known_cur = _np(pc.is_in(currency, pa.array(sorted(CURRENCY_EXPONENTS))))
    too_many = _np(pc.is_valid(text)) & known_cur & (decimals > exp)
    cur_list: list[Any] | None = None

    def _decimals_reason(i: int) -> str:
        nonlocal cur_list
        if cur_list is None:
            cur_list = currency.to_pylist()
        return f"has more decimals than {cur_list[i]} allows ({int(exp[i])})"

    err.add(too_many, "price", _decimals_reason, text)
    digits = pc.replace_substring(text, ".", "")
    minor = np.asarray(pc.fill_null(pc.cast(digits, pa.int64()), 0).to_numpy(
        zero_copy_only=False), dtype=np.int64)
    scale = np.clip(exp - decimals, 0, 18)
    minor = minor * (10 ** scale)
    valid = _np(pc.is_valid(text)) & ~too_many & known_cur
    return pa.array(minor, pa.int64(), mask=~valid)


def _parse_day(col: pa.ChunkedArray | pa.Array, err: _Errors) -> pa.Array:
    if pa.types.is_date(col.type) or pa.types.is_timestamp(col.type):
        return pc.cast(pc.cast(col, pa.date32()), pa.string())
    text = pc.utf8_trim_whitespace(_text(col))
    shape = _np(pc.match_substring_regex(text, _DAY))
    present = _np(pc.is_valid(text))
    bad = present & ~shape
    vals = text.to_pylist()
    for i in np.flatnonzero(present & shape).tolist():
        try:
            date.fromisoformat(vals[i])
        except ValueError:
            bad[i] = True
    err.add(bad, "day", "is not a date (YYYY-MM-DD)", text)
    return text


def parse_batch(raw: pa.Table, lines: Sequence[int] | np.ndarray, ctx: Context) -> Checked:
    """Raw event columns (shared file format) to storage form, refusing bad rows."""
    n = raw.num_rows
    lines = np.asarray(lines, dtype=np.int64)
    err = _Errors(n)
    ids = _text(_column(raw, "event_id"))
    types = _text(_column(raw, "type"))
    err.add(_np(pc.is_null(ids)), "event_id", "missing required field")
    err.add(_np(pc.is_null(types)), "type", "missing required field")
    known_type = _np(pc.is_in(types, pa.array(list(EVENT_TYPES))))
    err.add(_np(pc.is_valid(types)) & ~known_type, "type",
            lambda i: f"unknown event type {types[i].as_py()!r}", types)
    ts_col = _column(raw, "ts")
    err.add(_np(pc.is_null(ts_col if not pa.types.is_string(ts_col.type) else _text(ts_col))),
            "ts", "missing required field")

    cols: dict[str, Any] = {}
    cols["event_id"] = ids
    cols["type"] = types
    cols["ts"] = pa.array(_parse_ts(ts_col, err), pa.int64())
    for name in ("product_id", "session_id", "order_id", "currency", "competitor", "name",
                 "channel", "device", "quote_id", "region"):
        cols[name] = _text(_column(raw, name))
    cols["quantity"] = _parse_int("quantity", _column(raw, "quantity"), err)
    cols["stock"] = _parse_int("stock", _column(raw, "stock"), err)
    cols["on_promotion"] = _parse_bool("on_promotion", _column(raw, "on_promotion"), err)
    cols["day"] = _parse_day(_column(raw, "day"), err)
    kind = _text(_column(raw, "kind"))
    err.add(_np(pc.and_(pc.is_valid(kind), pc.not_equal(kind, "holiday"))), "kind",
            "calendar kind must be 'holiday'", kind)

    # Currency before price: the number of decimals allowed depends on it.
    cur = cols["currency"]
    priced = np.isin(type_codes(types), types_with("price"))
    err.add(priced & _np(pc.is_valid(cur)) & ~_np(pc.is_in(cur, pa.array(
        sorted(CURRENCY_EXPONENTS)))), "currency",
        lambda i: f"unknown currency {cur[i].as_py()!r}", cur)
    cols["price"] = _parse_price(_column(raw, "price"), cur, err)

    cols["user_id"] = ctx.pseudonyms(_text(_column(raw, "customer_id")))

    # Required fields per type, from the event structs.
    type_np = type_codes(types)
    for code, t in enumerate(TYPE_LIST):
        req = TYPE_REQUIRED[t]
        mt = type_np == code
        if not mt.any():
            continue
        for f in sorted(req):
            fname = "customer_id" if f == "user_id" else f
            err.add(mt & _np(pc.is_null(cols[f])), fname,
                    f"missing required field for a {t} event")

    dropped = _apply_missing_policy(cols, type_np, ctx, err)
    table = _assemble(cols, type_np)
    return _finish(table, lines, err, ctx, dropped)


def _apply_missing_policy(cols: dict[str, Any], type_np: np.ndarray, ctx: Context,
                          err: _Errors) -> np.ndarray:
    dropped = np.zeros(len(type_np), dtype=bool)
    for f, fill in FILL_VALUES.items():
        has = np.isin(type_np, types_with(f))
        miss = has & _np(pc.is_null(cols[f]))
        if not miss.any():
            continue
        if ctx.missing == "drop":
            dropped |= miss & ~err.bad
        else:
            cols[f] = pc.if_else(pa.array(miss), pa.scalar(fill, cols[f].type), cols[f])
    return dropped


def _assemble(cols: dict[str, Any], type_np: np.ndarray) -> pa.Table:
    """Storage-form table; fields a type does not carry are nulled (they cannot be stored)."""
    arrays = []
    for fld in EVENT_ARROW_SCHEMA:
        col = cols[fld.name]
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if fld.name not in ("event_id", "type", "ts"):
            keep = np.isin(type_np, types_with(fld.name))
            if not keep.all():
                col = pc.if_else(pa.array(keep), col, pa.scalar(None, fld.type))
        arrays.append(pc.cast(col, fld.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(
        [pa.field(f.name, f.type) for f in EVENT_ARROW_SCHEMA]))


def check_batch(table: pa.Table, lines: Sequence[int] | np.ndarray, ctx: Context) -> Checked:
    """Semantic rules on a storage-form table (from :func:`parse_batch` or from structs)."""
    return _finish(table, np.asarray(lines, dtype=np.int64), _Errors(table.num_rows), ctx,
                   np.zeros(table.num_rows, dtype=bool))


def _finish(table: pa.Table, lines: np.ndarray, err: _Errors, ctx: Context,
            dropped: np.ndarray) -> Checked:
    types = table.column("type")
    type_np = type_codes(types)
    known = type_np >= 0
    err.add(~known & _np(pc.is_valid(types)), "type",
            lambda i: f"unknown event type {types[i].as_py()!r}", types)
    price = table.column("price")
    err.add(_np(pc.less(price, 0)), "price", "must not be negative", price)
    qty = table.column("quantity")
    err.add(_np(pc.less_equal(qty, 0)), "quantity", "must be positive", qty)
    stock = table.column("stock")
    err.add(_np(pc.less(stock, 0)), "stock", "must not be negative", stock)
    cur = table.column("currency")
    err.add(_np(pc.and_(pc.is_valid(cur), pc.invert(pc.is_in(cur, pa.array(
        sorted(CURRENCY_EXPONENTS)))))), "currency",
        lambda i: f"unknown currency {cur[i].as_py()!r}", cur)
    pid = table.column("product_id")
    with_product = np.isin(type_np, types_with("product_id"))
    unknown = with_product & _np(pc.is_valid(pid)) & ~_np(pc.is_in(pid, ctx.products))
    err.add(unknown, "product_id",
            lambda i: f"unknown product {pid[i].as_py()!r} (not in the catalogue)", pid)
    rules = Rules.from_settings(ctx.plausibility, now_us=ctx.now_us,
                                tolerance_us=ctx.tolerance_us)
    for v in violations(table, rules, ctx.list_prices):
        err.add(v.mask, v.field, v.reason)
    # the declared lengths, characters and ranges (bounds.py), after the plausibility rules: a
    # row breaking both is explained by the stricter, configured rule
    for bound in bound_violations(table):
        err.add(bound.mask, bound.field, bound.reason, table.column(bound.field))
    rejects = err.rejects(ctx, lines.tolist(), table.column("event_id"))
    keep = ~err.bad & ~dropped
    out = table if keep.all() else table.filter(pa.array(keep))
    return Checked(table=out, lines=lines[keep], rejects=rejects,
                   rejected_rows=int(err.bad.sum()), dropped_missing=int((dropped & ~err.bad).sum()))

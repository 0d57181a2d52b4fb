"""Validated ingestion of events (files or structs), the catalogue and shoppers into the store.

Event files (CSV, JSON lines, Parquet; see ``docs/ingestion.md``) are read in batches of
``settings.ingest.batch_size`` rows, validated column-wise, cleaned and written inside **one**
transaction per call:

* ``on_error="fail"`` (default): the first bad row aborts the call and nothing is written, even
  if earlier batches of a large file had already been inserted (they are rolled back);
* ``on_error="skip"``: good rows are written, bad rows are written to a rejects file (CSV, or
  JSON lines when the path ends in ``.jsonl``) with their line/row number, field and reason.

Re-ingesting a file changes nothing: events are idempotent by ``event_id``.

>>> import tempfile, pathlib
>>> from pricepilot.config import load_settings
>>> from pricepilot.store import open_store
>>> from pricepilot.catalog.models import Product
>>> from pricepilot.clock import FixedClock
>>> from datetime import datetime, timezone
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> settings = load_settings(None, env={}, overrides={"paths.data_dir": str(d)})
>>> store = open_store("sqlite://"); store.migrate()
>>> _ = store.upsert_products([Product(product_id="SKU-1", title="Mug", category="k",
...                                    currency="EUR", unit_cost=400, list_price=999)])
>>> _ = (d / "ev.csv").write_text(
...     "event_id,type,ts,customer_id,product_id,price,currency\\n"
...     "e1,view,2026-03-01T10:00:00+00:00,c42,SKU-1,9.99,EUR\\n")
>>> clock = FixedClock(datetime(2026, 3, 2, tzinfo=timezone.utc))
>>> report = ingest_event_files(store, [d / "ev.csv"], settings, clock=clock)
>>> report.inserted, ingest_event_files(store, [d / "ev.csv"], settings, clock=clock).inserted
(1, 0)
"""

from __future__ import annotations

import contextvars
import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa

from pricepilot.catalog.models import Guardrails, Product, validate_product
from pricepilot.clock import Clock, SystemClock, from_micros, to_micros
from pricepilot.compliance.attributes import Shopper, ShopperAttributes
from pricepilot.compliance.identity import Pseudonymiser
from pricepilot.config import Settings
from pricepilot.errors import ValidationError
from pricepilot.events.clean import Deduper, find_outliers
from pricepilot.events.columns import events_to_table
from pricepilot.events.conflicts import EventConflict, compare, within
from pricepilot.events.plausibility import ListPrices
from pricepilot.events.readers import EventFileReader, read_table_rows
from pricepilot.events.schemas import Event
from pricepilot.events.validate import Checked, Context, Reject, check_batch, parse_batch
from pricepilot.money import CURRENCY_EXPONENTS, format_amount, parse_amount

if TYPE_CHECKING:  # the store depends on events (schemas, columns), not the other way
    from pricepilot.store.base import Store

OnError = Literal["fail", "skip"]
MAX_EXAMPLES = 10
_PRICED_TYPES = ("view", "add_to_cart", "purchase", "competitor_price")


class OutlierExample(msgspec.Struct, kw_only=True):
    source: str
    line: int
    event_id: str
    product_id: str
    type: str
    price: str  # major units, as in the file
    median: str
    fences: tuple[str, str]


class IngestReport(msgspec.Struct, kw_only=True):
    """What one ingestion call did. ``rows_read`` = inserted + duplicates + already_present +
    conflicts + rejected + dropped_missing."""

    sources: list[str]
    rows_read: int = 0
    inserted: int = 0
    duplicates: int = 0  # same event_id earlier in the same call: removed
    already_present: int = 0  # event_id already stored: nothing changed
    # event_id already stored (or earlier in the call) with different content: not written, the
    # stored event stands; each is in the rejects (field "event_id", the fields that differ)
    conflicts: int = 0
    rejected: int = 0
    dropped_missing: int = 0  # missing optional value with settings.ingest.missing = "drop"
    outliers: int = 0  # flagged, still stored
    # entries written to the price history (the prior-price record) from the views' prices
    price_history_entries: int = 0
    outlier_examples: list[OutlierExample] = msgspec.field(default_factory=list)
    reject_examples: list[Reject] = msgspec.field(default_factory=list)
    rejects_path: str | None = None
    ignored_columns: list[str] = msgspec.field(default_factory=list)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


class IngestError(ValidationError):
    """Ingestion refused the input (``on_error="fail"``); nothing was written.

    ``rejects`` lists the bad rows found before stopping (the first bad batch).
    """

    def __init__(self, rejects: Sequence[Reject]) -> None:
        self.rejects = list(rejects)
        first = self.rejects[0]
        more = len(self.rejects) - 1
        reason = first.reason + (f" (and {more} more bad rows; nothing was written)" if more
                                 else " (nothing was written)")
        super().__init__("event", first.field, reason, location=first.location)


ProgressFn = Callable[[int], None]


class _Run:
    """State of one ingestion call: counts, outlier material, rejects, dedup memory."""

    def __init__(self, store: Store, settings: Settings, clock: Clock, on_error: OnError,
                 rejects_path: Path | None, sources: list[str],
                 progress: ProgressFn | None) -> None:
        self.store = store
        self.settings = settings
        self.on_error = on_error
        self.rejects_path = rejects_path
        self.progress = progress
        self.report = IngestReport(sources=sources)
        self.dedup = Deduper()
        self.rejects: list[Reject] = []
        self.prices: list[pd.DataFrame] = []
        products = {p.product_id: (p.list_price, p.currency) for p in store.list_products()}
        self.ctx = Context(
            product_ids=set(products),
            now_us=to_micros(clock.now()),
            tolerance_us=settings.ingest.future_tolerance_seconds * 1_000_000,
            pseudonymise=Pseudonymiser(settings.security.pseudonym_key),
            missing=settings.ingest.missing,
            plausibility=settings.ingest.plausibility,
            list_prices=ListPrices(products),
        )
        self.product_currency = {p: c for p, (_, c) in products.items()}
        self.conflict_ids: set[str] = set()
        self.flagged: pd.DataFrame | None = None
        self.started = time.perf_counter()
        self.pipeline: ThreadPoolExecutor | None = None
        self.pending: tuple[pa.Table, np.ndarray, tuple[str, str], Future[int]] | None = None

    def reject(self, rejects: list[Reject]) -> None:
        if not rejects:
            return
        self.rejects.extend(rejects)
        if self.on_error == "fail":
            self._write_rejects()
            raise IngestError(rejects)

    def batch(self, table: pa.Table, lines: np.ndarray, parse: bool) -> None:
        n = table.num_rows
        self.report.rows_read += n
        keep, dups = self.dedup.first_occurrences(table.column("event_id"))
        if dups:
            clash = within(table, keep)
            self._conflicts([(int(lines[i]), c) for i, c in clash],
                            (self.ctx.source, self.ctx.unit))
            table = table.filter(pa.array(keep))
            lines = lines[keep]
            self.report.duplicates += dups - len(clash)
        checked: Checked = (parse_batch if parse else check_batch)(table, lines, self.ctx)
        self.report.rejected += checked.rejected_rows
        self.report.dropped_missing += checked.dropped_missing
        self.reject(checked.rejects)
        good = checked.table
        if good.num_rows:
            self._collect_prices(good, checked.lines)
            self._insert(good, checked.lines)
        if self.progress is not None:
            self.progress(n)

    def _insert(self, good: pa.Table, lines: np.ndarray) -> None:
        """Insert ``good``; with a pipeline, in the background while the next batch is read.

        Inserts stay strictly sequential (one in flight), so the bookkeeping of batch *k* is
        done before batch *k+1* is inserted and counts are exactly those of a serial run.
        """
        self.drain()
        where = (self.ctx.source, self.ctx.unit)
        if self.pipeline is None:
            self._account(good, lines, where, self.store.add_event_batch(good))
            return
        # The store's open transaction lives in a context variable: run the insert in a copy
        # of this context so the worker thread joins it instead of opening its own.
        context = contextvars.copy_context()
        self.pending = (good, lines, where,
                        self.pipeline.submit(context.run, self.store.add_event_batch, good))

    def drain(self) -> None:
        """Wait for the insert in flight (if any) and account for it; re-raises its error."""
        if self.pending is not None:
            good, lines, where, future = self.pending
            self.pending = None
            self._account(good, lines, where, future.result())

    def _account(self, good: pa.Table, lines: np.ndarray, where: tuple[str, str],
                 inserted: int) -> None:
        self.report.inserted += inserted
        not_inserted = good.num_rows - inserted
        dup_here = 0
        ids = good.column("event_id")
        if not_inserted:
            # Some ids were stored already: compare them with the stored rows (the rows just
            # inserted compare equal to themselves). Only a re-send pays for this read.
            clash = compare(good, self.store.events_by_id(ids.to_pylist()))
            self._conflicts([(int(lines[i]), c) for i, c in clash], where)
            not_inserted -= len(clash)
            if clash:
                same = np.ones(good.num_rows, dtype=bool)
                same[[i for i, _ in clash]] = False
                ids = good.column("event_id").filter(pa.array(same))
            dup_here = min(self.dedup.seen_before(ids), not_inserted)
        self.dedup.remember(good.column("event_id"))
        self.report.duplicates += dup_here
        self.report.already_present += not_inserted - dup_here

    def _conflicts(self, found: list[tuple[int, EventConflict]], where: tuple[str, str]) -> None:
        """Report conflicting re-sends (never fatal: the stored events are intact)."""
        self.report.conflicts += len(found)
        self.conflict_ids.update(c.event_id for _, c in found)
        self.rejects.extend(
            Reject(source=where[0], unit=where[1], line=line, event_id=c.event_id,
                   field="event_id", reason=c.reason(), value=", ".join(c.fields))
            for line, c in found)

    def _collect_prices(self, good: pa.Table, lines: np.ndarray) -> None:
        import pyarrow.compute as pc

        mask = pc.and_(pc.is_in(good.column("type"), pa.array(_PRICED_TYPES)),
                       pc.is_valid(good.column("price")))
        sub = good.filter(mask).select(["event_id", "product_id", "type", "competitor", "ts",
                                        "price", "currency"])
        if sub.num_rows == 0:
            return
        df = sub.to_pandas()
        df["line"] = lines[np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)]
        df["source"] = self.ctx.source
        self.prices.append(df)

    def close(self) -> None:
        """Inside the call's transaction, after the last insert: judge outliers over all the
        call's prices, and seed the price history from its views (see :func:`price_changes`)."""
        s = self.settings.ingest
        if not self.prices:
            return
        prices = pd.concat(self.prices, ignore_index=True)
        self.flagged = find_outliers(prices, s.outlier_method, s.outlier_threshold)
        skip = set(self.flagged.event_id) | self.conflict_ids
        views = prices[(prices["type"] == "view").to_numpy()
                       & ~prices["event_id"].isin(skip).to_numpy()]
        currency = views["product_id"].map(self.product_currency)
        changes = price_changes(views[(views["currency"] == currency).to_numpy()])
        if changes:
            self.store.record_prices(changes, keep_lowest=True)
        self.report.price_history_entries = len(changes)

    def finish(self) -> IngestReport:
        if self.flagged is not None:
            flagged = self.flagged
            self.report.outliers = len(flagged)
            worst = flagged.assign(dev=(flagged.price - flagged["median"]).abs())
            for r in worst.sort_values("dev", ascending=False).head(MAX_EXAMPLES).itertuples():
                cur = str(r.currency)
                self.report.outlier_examples.append(OutlierExample(
                    source=str(r.source), line=int(r.line), event_id=str(r.event_id),
                    product_id=str(r.product_id), type=str(r.type),
                    price=format_amount(int(r.price), cur),
                    median=format_amount(int(round(r.median)), cur),
                    fences=(format_amount(int(np.floor(r.low)), cur),
                            format_amount(int(np.ceil(r.high)), cur)),
                ))
        self.report.reject_examples = self.rejects[:MAX_EXAMPLES]
        self._write_rejects()
        self.report.seconds = time.perf_counter() - self.started
        return self.report

    def _write_rejects(self) -> None:
        """The rejects file: always at a path the caller named (the header alone, or an empty
        JSON-lines file, when nothing was rejected, replacing an earlier run's); else, when
        something was rejected, under the reports directory."""
        if not self.rejects and self.rejects_path is None:
            return
        path = self.rejects_path
        if path is None:
            stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
            path = self.settings.reports_dir / "rejects" / f"rejects-{stamp}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_rejects(self.rejects, path)
        self.report.rejects_path = str(path)


def write_rejects(rejects: Iterable[Reject], path: Path) -> None:
    """Rejects as JSON lines (``.jsonl``) or CSV (anything else)."""
    fields = ["source", "unit", "line", "event_id", "field", "reason", "value"]
    if path.suffix == ".jsonl":
        with io.open(path, "wb") as fh:
            for r in rejects:
                fh.write(msgspec.json.encode(r) + b"\n")
        return
    with io.open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(fields)
        for r in rejects:
            w.writerow([getattr(r, f) for f in fields])


def _start(store: Store, settings: Settings, clock: Clock | None, on_error: OnError | None,
           rejects_path: str | Path | None, sources: list[str],
           progress: ProgressFn | None) -> _Run:
    mode = on_error or settings.ingest.on_error
    if mode not in ("fail", "skip"):
        raise ValidationError("ingestion", "on_error", f"must be 'fail' or 'skip', got {mode!r}")
    return _Run(store, settings, clock or SystemClock(), mode,
                Path(rejects_path) if rejects_path is not None else None, sources, progress)


@contextmanager
def _pipeline(run: _Run) -> Iterator[None]:
    """With ``ingest.pipeline``: insert batch *k* on a worker thread while batch *k+1* is read
    and validated.

    Both stages spend most of their time in C code that releases the GIL (Arrow compute and
    Parquet decoding; ``sqlite3_step``; PostgreSQL's server), so on two cores the stages
    overlap. Every insert has finished (or failed, re-raised here) before the transaction
    ends, and a validation error waits for the insert in flight before propagating.
    """
    if not run.settings.ingest.pipeline:
        yield
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pricepilot-ingest") as pool:
        run.pipeline = pool
        try:
            yield
        except BaseException:
            if run.pending is not None:
                run.pending[-1].exception()  # let it finish; the rollback discards it
                run.pending = None
            raise
        finally:
            run.pipeline = None
        run.drain()


def ingest_event_files(
    store: Store,
    paths: Sequence[str | Path],
    settings: Settings,
    *,
    clock: Clock | None = None,
    on_error: OnError | None = None,
    rejects_path: str | Path | None = None,
    progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest event files in one transaction; see the module docstring for the rules.

    ``customer_id`` is pseudonymised into ``user_id`` with ``settings.security.pseudonym_key``.
    ``progress`` is called with the number of rows of each batch read.
    """
    run = _start(store, settings, clock, on_error, rejects_path, [str(p) for p in paths],
                 progress)
    ignored: set[str] = set()
    readers = [EventFileReader(p, settings.ingest.batch_size) for p in paths]
    with store.bulk_load(sum(r.estimated_rows() for r in readers)):
        _read_files(run, readers, ignored)
        run.close()
    run.report.ignored_columns = sorted(ignored)
    return run.finish()


def _read_files(run: _Run, readers: list[EventFileReader], ignored: set[str]) -> None:
    with _pipeline(run):
        for reader in readers:
            run.ctx.source = reader.path.name
            run.ctx.unit = "row" if reader.format == "parquet" else "line"
            done = 0

            def broken_rows() -> int:
                # Structurally broken rows the reader set aside so far (fail fast in fail mode).
                new = reader.rejects[done:]
                run.report.rows_read += len(new)
                run.report.rejected += len(new)
                run.reject(sorted(new, key=lambda r: r.line))
                return done + len(new)

            for b in reader:
                done = broken_rows()
                run.batch(b.table, b.lines, parse=True)
            done = broken_rows()
            ignored |= reader.ignored_columns


def ingest_events(
    store: Store,
    events: Iterable[Event],
    settings: Settings,
    *,
    clock: Clock | None = None,
    on_error: OnError | None = None,
    rejects_path: str | Path | None = None,
) -> IngestReport:
    """Ingest event structs (``user_id`` already pseudonymous, money in minor units).

    The same semantic rules as for files apply (unknown product, negative price, non-positive
    quantity, negative stock, unknown currency, future timestamp); rows are numbered from 0 in
    the order given (``unit="event"``).
    """
    run = _start(store, settings, clock, on_error, rejects_path, ["events"], None)
    run.ctx.source, run.ctx.unit = "events", "event"
    table = events_to_table(events)
    with store.bulk_load(table.num_rows):
        bs = settings.ingest.batch_size
        for start in range(0, table.num_rows, bs):
            part = table.slice(start, bs)
            run.batch(part, np.arange(start, start + part.num_rows, dtype=np.int64), parse=False)
        run.close()
    return run.finish()


PRICE_RESOLUTION_US = 60 * 1_000_000  # as the service's price history: one entry a minute


def price_changes(views: pd.DataFrame) -> list[tuple[str, datetime, int]]:
    """The price history a set of views implies: per product in time order, the lowest price
    shown in each minute (stamped at the minute's start, as the service records its own), and
    of those only the entries where the price changed. A price is then in force from the first
    view that showed it until the next change, so the 30-day lowest price
    (``Store.lowest_price``) is the lowest price shown in the window or in force at its start.

    The entries are bounded by the number of price changes, not by the number of views.
    """
    if views.empty:
        return []
    ts = views["ts"].to_numpy(dtype=np.int64)
    df = pd.DataFrame({"product_id": views["product_id"].to_numpy(),
                       "ts": ts - ts % PRICE_RESOLUTION_US,
                       "price": views["price"].to_numpy(dtype=np.int64)})
    df = df.groupby(["product_id", "ts"], sort=True)["price"].min().reset_index()
    same_product = df["product_id"].eq(df["product_id"].shift())
    keep = ~(same_product & df["price"].eq(df["price"].shift()))
    df = df[keep.to_numpy()]
    return [(str(p), from_micros(int(t)), int(v))
            for p, t, v in zip(df["product_id"], df["ts"], df["price"])]


# -- catalogue and shoppers ------------------------------------------------------------------

PRODUCT_COLUMNS = (
    "product_id", "title", "category", "brand", "currency", "unit_cost", "list_price", "stock",
    "season_end", "floor", "ceiling", "min_margin", "max_change_per_day", "price_ending",
    "ladder", "attributes",
)


def _money(v: Any, currency: str, field: str) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    return parse_amount(v, currency, field=field)


def _int(v: Any, field: str) -> int:
    if isinstance(v, bool):
        raise ValidationError("product", field, f"{v!r} is not an integer")
    try:
        return int(str(v).strip())
    except ValueError:
        raise ValidationError("product", field, f"{v!r} is not an integer") from None


def _float(v: Any, field: str) -> float:
    try:
        return float(str(v).strip())
    except ValueError:
        raise ValidationError("product", field, f"{v!r} is not a number") from None


def product_from_row(row: dict[str, Any]) -> Product:
    """One products-file row (money as major-unit text) to a validated :class:`Product`."""
    unknown = sorted(set(row) - set(PRODUCT_COLUMNS))
    if unknown:
        raise ValidationError("product", unknown[0], "is not a products-file column")
    for f in ("product_id", "title", "category", "currency", "unit_cost", "list_price"):
        if f not in row:
            raise ValidationError("product", f, "missing required field")
    cur = str(row["currency"]).strip()
    if cur not in CURRENCY_EXPONENTS:
        raise ValidationError("product", "currency", f"unknown currency {cur!r}")
    attrs: Any = row.get("attributes", {})
    if isinstance(attrs, str):
        try:
            attrs = json.loads(attrs)
        except json.JSONDecodeError as e:
            raise ValidationError("product", "attributes", f"is not JSON: {e}") from None
    if not isinstance(attrs, dict):
        raise ValidationError("product", "attributes", "must be a JSON object")
    ladder_raw = row.get("ladder")
    ladder = None
    if ladder_raw is not None:
        items = ladder_raw if isinstance(ladder_raw, list) else str(ladder_raw).split(";")
        ladder = [_money(x if not isinstance(x, str) else x.strip(), cur, "ladder")
                  for x in items if str(x).strip()]
    season_end = None
    if "season_end" in row:
        try:
            season_end = datetime.fromisoformat(str(row["season_end"]))
        except ValueError:
            raise ValidationError("product", "season_end",
                                  f"{row['season_end']!r} is not an ISO 8601 time") from None
    g = Guardrails(
        floor=_money(row["floor"], cur, "floor") if "floor" in row else None,
        ceiling=_money(row["ceiling"], cur, "ceiling") if "ceiling" in row else None,
        min_margin=_float(row["min_margin"], "min_margin") if "min_margin" in row else None,
        max_change_per_day=(_float(row["max_change_per_day"], "max_change_per_day")
                            if "max_change_per_day" in row else None),
        price_ending=_int(row["price_ending"], "price_ending") if "price_ending" in row else None,
        ladder=ladder,
    )
    p = Product(
        product_id=str(row["product_id"]).strip(), title=str(row["title"]),
        category=str(row["category"]), brand=str(row.get("brand", "")), currency=cur,
        unit_cost=_money(row["unit_cost"], cur, "unit_cost"),
        list_price=_money(row["list_price"], cur, "list_price"),
        stock=_int(row["stock"], "stock") if "stock" in row else None,
        season_end=season_end, guardrails=g,
        attributes={str(k): str(v) for k, v in attrs.items()},
    )
    return validate_product(p)


def _located(e: ValidationError, path: Path, line: int, entity: str) -> ValidationError:
    return ValidationError(entity, e.field, e.reason, location=f"{path.name}, line {line}")


def ingest_products(store: Store, path: str | Path) -> int:
    """Load a products file (CSV/JSON lines); all rows are written, or none.

    Every bad row is reported: the error names the first one and counts the rest.
    """
    path = Path(path)
    products: list[Product] = []
    errors: list[ValidationError] = []
    seen: dict[str, int] = {}
    for line, row in read_table_rows(path):
        try:
            p = product_from_row(row)
        except ValidationError as e:
            errors.append(_located(e, path, line, f"product {row.get('product_id', '?')!r}"))
            continue
        if p.product_id in seen:
            errors.append(ValidationError(
                f"product {p.product_id!r}", "product_id",
                f"duplicate of line {seen[p.product_id]}", location=f"{path.name}, line {line}"))
            continue
        seen[p.product_id] = line
        products.append(p)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more bad rows)" if len(errors) > 1 else ""
        raise ValidationError(first.entity, first.field, first.reason + more,
                              location=first.location)
    if not products:  # a wrong or empty file, most likely: say so rather than "0 written"
        raise ValidationError("products file", None, "has no rows", location=path.name)
    return store.upsert_products(products)


SHOPPER_FIELDS = ("tier", "device", "region", "channel")
_CONSENT = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def ingest_shoppers(store: Store, path: str | Path, settings: Settings) -> int:
    """Load a shoppers file: ``customer_id`` is pseudonymised, other columns become attributes.

    Protected attributes (``compliance.protected_attributes``) are refused unless listed in
    ``compliance.audit_only``, in which case they are stored apart for fairness audits only.
    An optional ``personalisation_consent`` column (true/false) records consent. All rows are
    written, or none.
    """
    path = Path(path)
    pseudo = Pseudonymiser(settings.security.pseudonym_key)
    split = ShopperAttributes(settings.compliance.protected_attributes,
                              settings.compliance.audit_only)
    shoppers: dict[str, Shopper] = {}
    for line, row in read_table_rows(path):
        loc = f"{path.name}, line {line}"
        cid = row.pop("customer_id", None)
        if cid is None or not str(cid).strip():
            raise ValidationError("shopper", "customer_id", "missing required field",
                                  location=loc)
        consent = True
        if "personalisation_consent" in row:
            raw = str(row.pop("personalisation_consent")).strip().lower()
            if raw not in _CONSENT:
                raise ValidationError("shopper", "personalisation_consent",
                                      f"{raw!r} is not true/false", location=loc)
            consent = _CONSENT[raw]
        known = {k: str(row.pop(k)) for k in SHOPPER_FIELDS if k in row}
        try:
            usable, audit = split.split({k: str(v) for k, v in row.items()})
        except ValidationError as e:
            raise ValidationError("shopper", e.field, e.reason, location=loc) from None
        sid = pseudo(str(cid).strip())
        shoppers[sid] = Shopper(shopper_id=sid, attributes=usable, audit_attributes=audit,
                                personalisation_consent=consent, **known)
    if not shoppers:
        raise ValidationError("shoppers file", None, "has no rows", location=path.name)
    return store.upsert_shoppers(shoppers.values())


__all__ = [
    "IngestError", "IngestReport", "OutlierExample", "Reject", "ingest_event_files",
    "ingest_events", "ingest_products", "ingest_shoppers", "product_from_row", "write_rejects",
]


"""Point-in-time training sets: one row per view, every feature as it was just before the view.

The builder reads the event log (``EVENT_COLUMNS`` layout: ``ts`` integer microseconds UTC,
``price`` integer minor units, pseudonymous ``user_id``) and the catalogue, and lets DuckDB do the
heavy lifting: per-key cumulative timelines (window functions) and ``ASOF`` joins with a *strict*
``<`` so that nothing at or after the view's instant can inform it. Definitions of every feature,
the windows and the attribution rule are in ``docs/features.md``; the online state
(:mod:`pricepilot.features.online`) computes the same values incrementally, and a reference test
holds the two equal.

Output layout (what demand models consume), in this order:
``FEATURES`` (names and order of :data:`pricepilot.demand.base.FEATURES`), then ``price`` (shown,
minor units), ``list_price``, ``competitor_price`` (lowest known, minor units, nullable),
``currency``, ``ts``, ``user_id``, ``product_id``, ``y`` (0/1 purchase within the attribution
window).

>>> from pricepilot.features.synthetic import synthetic_log
>>> log = synthetic_log(n_events=3_000, seed=2)
>>> frame = build_training_set(log.events, log.products, log.shoppers)
>>> list(frame.columns[-8:])
['price', 'list_price', 'competitor_price', 'currency', 'ts', 'user_id', 'product_id', 'y']
>>> bool(frame["y"].isin([0, 1]).all())
True
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from pricepilot.catalog.models import Product
from pricepilot.clock import to_micros
from pricepilot.demand.base import FEATURES
from pricepilot.errors import ValidationError
from pricepilot.events.schemas import EVENT_COLUMNS
from pricepilot.money import CURRENCY_EXPONENTS

DAY_US = 86_400_000_000
WINDOW_SHORT_DAYS = 7  # u_views_7d, p_views_7d, p_purchases_7d, p_conversion_7d
WINDOW_LONG_DAYS = 90  # u_frequency_90d, u_monetary_90d
OUTPUT_TAIL: tuple[str, ...] = (
    "price", "list_price", "competitor_price", "currency", "ts", "user_id", "product_id", "y",
)
OUTPUT_COLUMNS: tuple[str, ...] = (*FEATURES, *OUTPUT_TAIL)
CATEGORICAL = tuple(f for f, kind in FEATURES.items() if kind == "categorical")
SHOPPER_COLUMNS = ("user_id", "tier", "device", "region", "channel")
_EXTRA_ALLOWED = ("event_id", "session_id", "quote_id")

Attribution = Literal["session", "window"]
# no network: never fetch an extension; no progress bar on stdout
_DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
}


def catalogue_frame(products: Sequence[Product] | pd.DataFrame) -> pd.DataFrame:
    """The catalogue columns the builder needs: product_id, category, list_price, currency,
    stock (nullable) and season_end_us (nullable integer microseconds)."""
    if isinstance(products, pd.DataFrame):
        missing = {"product_id", "category", "list_price", "currency"} - set(products.columns)
        if missing:
            raise ValidationError("catalogue", None, f"missing columns {sorted(missing)}")
        df = products.copy()
        if "stock" not in df:
            df["stock"] = None
        if "season_end" in df and "season_end_us" not in df:
            se = df["season_end"]
            if pd.api.types.is_datetime64_any_dtype(se):
                if getattr(se.dt, "tz", None) is None:
                    raise ValidationError("catalogue", "season_end", "must carry a time zone")
                df["season_end_us"] = (
                    se.dt.tz_convert("UTC").astype("datetime64[us, UTC]").astype("int64")
                ).where(se.notna(), None)
            else:
                df["season_end_us"] = [
                    None if v is None or (isinstance(v, float) and np.isnan(v))
                    else (to_micros(v) if isinstance(v, datetime) else int(v))
                    for v in se
                ]
        if "season_end_us" not in df:
            df["season_end_us"] = None
    else:
        df = pd.DataFrame({
            "product_id": [p.product_id for p in products],
            "category": [p.category for p in products],
            "list_price": [p.list_price for p in products],
            "currency": [p.currency for p in products],
            "stock": [p.stock for p in products],
            "season_end_us": [to_micros(p.season_end) if p.season_end else None for p in products],
        })
    df = df[["product_id", "category", "list_price", "currency", "stock", "season_end_us"]]
    if df["product_id"].duplicated().any():
        dup = df.loc[df["product_id"].duplicated(), "product_id"].iloc[0]
        raise ValidationError("catalogue", "product_id", f"duplicate product {dup!r}")
    if (df["list_price"].astype("int64") <= 0).any():
        raise ValidationError("catalogue", "list_price", "must be positive")
    unknown = set(df["currency"]) - set(CURRENCY_EXPONENTS)
    if unknown:
        raise ValidationError("catalogue", "currency", f"unknown currencies {sorted(unknown)}")
    return df.astype({"list_price": "int64", "stock": "Int64", "season_end_us": "Int64"})


def _shopper_frame(shoppers: pd.DataFrame | None) -> pd.DataFrame:
    if shoppers is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in SHOPPER_COLUMNS})
    if "user_id" not in shoppers.columns:
        raise ValidationError("shoppers", "user_id", "column is missing")
    df = shoppers.copy()
    for c in SHOPPER_COLUMNS:
        if c not in df:
            df[c] = None
    df = df[list(SHOPPER_COLUMNS)]
    if df["user_id"].duplicated().any():
        raise ValidationError("shoppers", "user_id", "duplicate shopper ids")
    return df.astype(object)


_SQL = """
CREATE TEMP TABLE ev AS
SELECT event_id, type, ts::BIGINT AS ts, user_id, product_id, session_id,
       quantity::BIGINT AS quantity, price::BIGINT AS price, currency, competitor,
       on_promotion::BOOLEAN AS on_promotion, stock::BIGINT AS stock, device, channel, quote_id
FROM ev_raw
WHERE type IN ('view', 'purchase', 'competitor_price', 'inventory')
{dedupe};

-- per user: one row per distinct instant, cumulative counts (views, purchases, money, ratios)
CREATE TEMP TABLE u_tl AS
WITH bought AS (
    SELECT e.user_id, e.ts, e.price * coalesce(e.quantity, 1) * c.milli AS m,
           e.price::DOUBLE / p.list_price AS r
    FROM ev e LEFT JOIN prod p USING (product_id) LEFT JOIN cur c ON c.currency = e.currency
    WHERE e.type = 'purchase' AND e.user_id IS NOT NULL
), per_ts AS (
    SELECT user_id, ts, sum(nv) AS nv, sum(np) AS np, sum(m) AS m, sum(r) AS r, count(r) AS rn,
           max(lp) AS lp
    FROM (
        SELECT user_id, ts, 1 AS nv, 0 AS np, NULL::BIGINT AS m, NULL::DOUBLE AS r,
               NULL::BIGINT AS lp
        FROM ev WHERE type = 'view' AND user_id IS NOT NULL
        UNION ALL
        SELECT user_id, ts, 0, 1, m, r, ts FROM bought
    )
    GROUP BY user_id, ts
)
SELECT user_id, ts,
       sum(nv) OVER w AS cv, sum(np) OVER w AS cp, sum(coalesce(m, 0)) OVER w AS cm,
       sum(coalesce(r, 0.0)) OVER w AS cr, sum(rn) OVER w AS crn, max(lp) OVER w AS lp
FROM per_ts
WINDOW w AS (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING);

-- per user and category: cumulative views (affinity numerator)
CREATE TEMP TABLE uc_tl AS
WITH per_ts AS (
    SELECT e.user_id, p.category, e.ts, count(*) AS n
    FROM ev e JOIN prod p USING (product_id)
    WHERE e.type = 'view' AND e.user_id IS NOT NULL AND p.category IS NOT NULL
    GROUP BY ALL
)
SELECT user_id, category, ts,
       sum(n) OVER (PARTITION BY user_id, category ORDER BY ts ROWS UNBOUNDED PRECEDING) AS c
FROM per_ts;

-- per user and session: cumulative views
CREATE TEMP TABLE us_tl AS
WITH per_ts AS (
    SELECT user_id, session_id, ts, count(*) AS n FROM ev
    WHERE type = 'view' AND session_id IS NOT NULL AND user_id IS NOT NULL GROUP BY ALL
)
SELECT user_id, session_id, ts,
       sum(n) OVER (PARTITION BY user_id, session_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS c
FROM per_ts;

-- per product: cumulative views, purchases and units bought
CREATE TEMP TABLE p_tl AS
WITH per_ts AS (
    SELECT product_id, ts, count(*) FILTER (WHERE type = 'view') AS nv,
           count(*) FILTER (WHERE type = 'purchase') AS np,
           coalesce(sum(coalesce(quantity, 1)) FILTER (WHERE type = 'purchase'), 0) AS nu
    FROM ev WHERE type IN ('view', 'purchase') AND product_id IS NOT NULL GROUP BY ALL
)
SELECT product_id, ts, sum(nv) OVER w AS cv, sum(np) OVER w AS cp, sum(nu) OVER w AS cu
FROM per_ts WINDOW w AS (PARTITION BY product_id ORDER BY ts ROWS UNBOUNDED PRECEDING);

-- inventory: the level at each instant (ties: the highest level reported at that instant),
-- with the units bought up to that instant (what is left later is the level less the units
-- bought since, as the online state counts it)
CREATE TEMP TABLE inv AS
WITH lv AS (
    SELECT product_id, ts, max(stock) AS stock FROM ev
    WHERE type = 'inventory' AND stock IS NOT NULL GROUP BY ALL
)
SELECT lv.product_id, lv.ts, lv.stock, coalesce(pt.cu, 0) AS cu
FROM lv ASOF LEFT JOIN p_tl pt ON lv.product_id = pt.product_id AND pt.ts <= lv.ts;

-- competitors: per (product, competitor, instant) the lowest price, promotion preferred on ties;
-- then, at every instant a product's competitor prices change, the lowest price over every
-- competitor's latest report and whether any of those reports is a promotion
CREATE TEMP TABLE kc AS
SELECT product_id, competitor, ts, min(price) AS price,
       arg_max(coalesce(on_promotion, false)::INT,
               -2 * price + coalesce(on_promotion, false)::INT) AS promo
FROM ev WHERE type = 'competitor_price' AND price IS NOT NULL GROUP BY ALL;

CREATE TEMP TABLE k_tl AS
WITH pts AS (SELECT DISTINCT product_id, ts FROM kc),
     comps AS (SELECT DISTINCT product_id, competitor FROM kc),
     grid AS (SELECT pts.product_id, pts.ts, comps.competitor
              FROM pts JOIN comps USING (product_id))
SELECT g.product_id, g.ts, min(k.price) AS comp_price, max(k.promo) AS comp_promo
FROM grid g ASOF JOIN kc k
  ON g.product_id = k.product_id AND g.competitor = k.competitor AND k.ts <= g.ts
GROUP BY g.product_id, g.ts;

CREATE TEMP TABLE v AS
SELECT row_number() OVER (ORDER BY e.ts, e.event_id) AS rid,
       e.event_id, e.ts, e.user_id, e.product_id, e.session_id, e.price, e.currency,
       e.device AS v_device, e.channel AS v_channel, e.quote_id, e.ts // {day} AS day,
       p.category, p.list_price, p.stock AS cat_stock, p.season_end_us
FROM ev e JOIN prod p USING (product_id)
WHERE e.type = 'view' AND e.user_id IS NOT NULL AND e.price IS NOT NULL;

CREATE TEMP TABLE vk AS
SELECT rid, ts, user_id, product_id, session_id, category, quote_id,
       (day - {long_days}) * {day} AS start_long, (day - {short_days}) * {day} AS start_short
FROM v;

-- purchases for the label: one naming a quote that a view of the same shopper and product
-- carries is *claimed* by that view (attributed by id only); the rest are attributed by time
CREATE TEMP TABLE vq AS
SELECT DISTINCT user_id, product_id, quote_id FROM v WHERE quote_id IS NOT NULL;

CREATE TEMP TABLE pur AS
SELECT e.user_id, e.product_id, e.session_id, e.ts, e.quote_id,
       vq.quote_id IS NOT NULL AS claimed
FROM ev e LEFT JOIN vq
  ON e.user_id = vq.user_id AND e.product_id = vq.product_id AND e.quote_id = vq.quote_id
WHERE e.type = 'purchase' AND e.user_id IS NOT NULL AND e.product_id IS NOT NULL;

CREATE TEMP TABLE pur_free AS
SELECT user_id, product_id, session_id, ts FROM pur WHERE NOT claimed;
"""

# Each as-of lookup runs on the narrow key table and lands in its own table keyed by ``rid``:
# chaining ten ASOF joins on the wide view table re-sorts every payload ten times (3x slower).
_LOOKUPS: dict[str, str] = {
    "j_ut": "SELECT vk.rid, ut.lp, ut.cp, ut.cm, ut.cv, ut.cr, ut.crn FROM vk "
            "ASOF LEFT JOIN u_tl ut ON vk.user_id = ut.user_id AND ut.ts < vk.ts",
    "j_ul": "SELECT vk.rid, ul.cp, ul.cm FROM vk "
            "ASOF LEFT JOIN u_tl ul ON vk.user_id = ul.user_id AND ul.ts < vk.start_long",
    "j_us": "SELECT vk.rid, us.cv FROM vk "
            "ASOF LEFT JOIN u_tl us ON vk.user_id = us.user_id AND us.ts < vk.start_short",
    "j_uc": "SELECT vk.rid, uc.c FROM vk ASOF LEFT JOIN uc_tl uc "
            "ON vk.user_id = uc.user_id AND vk.category = uc.category AND uc.ts < vk.ts",
    "j_ss": "SELECT vk.rid, ss.c FROM vk ASOF LEFT JOIN us_tl ss "
            "ON vk.user_id = ss.user_id AND vk.session_id = ss.session_id AND ss.ts < vk.ts",
    "j_pt": "SELECT vk.rid, pt.cv, pt.cp, pt.cu FROM vk "
            "ASOF LEFT JOIN p_tl pt ON vk.product_id = pt.product_id AND pt.ts < vk.ts",
    "j_ps": "SELECT vk.rid, ps.cv, ps.cp FROM vk "
            "ASOF LEFT JOIN p_tl ps ON vk.product_id = ps.product_id AND ps.ts < vk.start_short",
    "j_inv": "SELECT vk.rid, inv.stock, inv.cu FROM vk "
             "ASOF LEFT JOIN inv ON vk.product_id = inv.product_id AND inv.ts < vk.ts",
    "j_kt": "SELECT vk.rid, kt.comp_price, kt.comp_promo FROM vk "
            "ASOF LEFT JOIN k_tl kt ON vk.product_id = kt.product_id AND kt.ts < vk.ts",
    # labels (they look ahead on purpose; ties at the view's instant count): the first purchase
    # naming the view's quote id, and the first unclaimed purchase of the product by the
    # shopper at or after the view (same session / any)
    "j_bq": "SELECT vk.rid, min(bq.ts) AS ts FROM vk LEFT JOIN pur bq "
            "ON bq.claimed AND vk.quote_id = bq.quote_id AND vk.user_id = bq.user_id "
            "AND vk.product_id = bq.product_id AND bq.ts >= vk.ts GROUP BY vk.rid",
    "j_bs": "SELECT vk.rid, bs.ts FROM vk ASOF LEFT JOIN pur_free bs ON vk.user_id = bs.user_id "
            "AND vk.product_id = bs.product_id AND vk.session_id = bs.session_id "
            "AND bs.ts >= vk.ts",
    "j_bw": "SELECT vk.rid, bw.ts FROM vk ASOF LEFT JOIN pur_free bw ON vk.user_id = bw.user_id "
            "AND vk.product_id = bw.product_id AND bw.ts >= vk.ts",
}

# the view side, in rid order; the lookups are fetched separately in the same order
_VIEWS = """
SELECT v.event_id, v.session_id, v.quote_id, v.ts, v.user_id, v.product_id, v.price,
       v.currency, v.list_price, v.category, v.season_end_us, v.cat_stock,
       sh.tier, coalesce(v.v_device, sh.device) AS device, sh.region,
       coalesce(v.v_channel, sh.channel) AS channel
FROM v LEFT JOIN shoppers sh ON v.user_id = sh.user_id
ORDER BY v.rid
"""


def _check_events(con: duckdb.DuckDBPyConnection) -> None:
    cols = {r[0] for r in con.execute("DESCRIBE ev_raw").fetchall()}
    missing = set(EVENT_COLUMNS) - cols
    if missing:
        raise ValidationError("event log", None, f"missing columns {sorted(missing)}")
    bad = con.execute(
        "SELECT DISTINCT currency FROM ev_raw WHERE currency IS NOT NULL "
        "AND currency NOT IN (SELECT currency FROM cur)"
    ).fetchall()
    if bad:
        raise ValidationError("event log", "currency", f"unknown currencies {[b[0] for b in bad]}")
    ts_type = con.execute("SELECT typeof(ts) FROM ev_raw LIMIT 1").fetchall()
    if ts_type and ts_type[0][0] not in ("BIGINT", "INTEGER", "HUGEINT", "UBIGINT"):
        raise ValidationError("event log", "ts",
                              f"must be integer microseconds, got {ts_type[0][0]}")


def build_training_set(
    events: pd.DataFrame | pa.Table,
    products: Sequence[Product] | pd.DataFrame,
    shoppers: pd.DataFrame | None = None,
    *,
    attribution: Attribution = "session",
    attribution_window: timedelta = timedelta(hours=24),
    timezone: str = "UTC",
    dedupe: bool = True,
    extra_columns: Sequence[str] = (),
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """One row per view of a catalogued product, features strictly before the view.

    The label ``y`` is attributed by id first, by time as the fallback (``docs/features.md``):
    a purchase naming a quote id that a view of the same shopper and product carries counts for
    the views with that id only, at or after the view and within ``attribution_window``. Any
    other purchase of the product by the shopper counts for every view at or after which it
    happened (the same instant included) within the window and, with
    ``attribution="session"`` (default) and a view that carries a session id, in the same
    session; views without a session id use the window alone. ``attribution="window"`` ignores
    sessions. Features never look ahead: they use events strictly before the view.
    ``timezone`` (the shop's) sets the local hour,
    weekday and calendar day of the context features; day buckets of the windowed counts are UTC
    days. ``dedupe`` keeps one event per ``event_id`` (the earliest), as the online seen-set does.
    ``extra_columns`` appends view columns from ``event_id``, ``session_id``, ``quote_id``.
    ``threads`` and ``memory_limit`` (e.g. ``"4GB"``) bound DuckDB's use of the machine.
    """
    if attribution not in ("session", "window"):
        raise ValidationError("training set", "attribution", f"unknown rule {attribution!r}")
    if attribution_window <= timedelta(0):
        raise ValidationError("training set", "attribution_window", "must be positive")
    bad_extra = [c for c in extra_columns if c not in _EXTRA_ALLOWED]
    if bad_extra:
        raise ValidationError("training set", "extra_columns", f"unsupported {bad_extra}")
    try:
        tz = ZoneInfo(timezone)
    except Exception as e:  # ZoneInfoNotFoundError or ValueError for malformed names
        raise ValidationError("training set", "timezone", f"unknown time zone {timezone!r}") from e
    prod = catalogue_frame(products)
    shop = _shopper_frame(shoppers)
    cur = pd.DataFrame({
        "currency": list(CURRENCY_EXPONENTS),
        "exp": list(CURRENCY_EXPONENTS.values()),
        "milli": [10 ** (3 - e) for e in CURRENCY_EXPONENTS.values()],
    })
    window_us = int(attribution_window / timedelta(microseconds=1))

    con = duckdb.connect(config=_DUCKDB_CONFIG)
    try:
        con.execute("SET enable_progress_bar = false")
        # spill files go to the system temp dir, never into the working directory
        con.execute("SET temp_directory = ?",
                    [os.path.join(tempfile.gettempdir(), "pricepilot-duckdb")])
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            # DuckDB spills to temporary files beyond this ("4GB"); default: 80% of the RAM
            con.execute("SET memory_limit = ?", [memory_limit])
        con.register("ev_raw", events)
        con.register("prod", prod)
        con.register("shoppers", shop)
        con.register("cur", cur)
        _check_events(con)
        dedupe_sql = (
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY ts) = 1" if dedupe else ""
        )
        con.execute(_SQL.format(dedupe=dedupe_sql, day=DAY_US,
                                long_days=WINDOW_LONG_DAYS - 1, short_days=WINDOW_SHORT_DAYS - 1))
        for name, q in _LOOKUPS.items():
            con.execute(f"CREATE TEMP TABLE {name} AS {q}")
        views = con.sql(_VIEWS).to_arrow_table()
        looked: dict[str, npt.NDArray[np.float64]] = {}
        for name in _LOOKUPS:
            tab = con.sql(f"SELECT * FROM {name} ORDER BY rid").to_arrow_table()
            for c in tab.column_names[1:]:
                looked[f"{name[2:]}.{c}"] = _np(tab.column(c))
    finally:
        con.close()
    return _assemble(views, looked, tz, _holidays(events), list(extra_columns),
                     use_session=attribution == "session", window_us=window_us)


def _holidays(events: pd.DataFrame | pa.Table) -> pd.DataFrame:
    """Calendar events: day (ISO text), region (None: everywhere), announced ts."""
    con = duckdb.connect(config=_DUCKDB_CONFIG)
    try:
        con.register("ev_raw", events)
        return con.execute(
            "SELECT day::VARCHAR AS day, region, min(ts)::BIGINT AS ts FROM ev_raw "
            "WHERE type = 'calendar' AND day IS NOT NULL GROUP BY ALL"
        ).fetch_df()
    finally:
        con.close()


def _np(col: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """A numeric Arrow column as float64 with NaN for NULL (values here are below 2**53)."""
    return np.asarray(col.cast(pa.float64()).fill_null(np.nan).to_numpy(), dtype=np.float64)


def _text(col: pa.ChunkedArray) -> pd.Series:
    """A text column as a pandas string Series (Arrow-backed: no Python object per value)."""
    return col.to_pandas(types_mapper={pa.string(): pd.StringDtype(na_value=np.nan)}.get)


def _assemble(
    views: pa.Table,
    j: dict[str, npt.NDArray[np.float64]],
    tz: ZoneInfo,
    holidays: pd.DataFrame,
    extra: list[str],
    *,
    use_session: bool,
    window_us: int,
) -> pd.DataFrame:
    n = views.num_rows
    ts = views.column("ts").to_numpy().astype(np.int64) if n else np.zeros(0, np.int64)

    def z(a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.nan_to_num(a, nan=0.0)

    out: dict[str, Any] = {}
    out["u_recency_days"] = (ts - j["ut.lp"]) / DAY_US
    out["u_frequency_90d"] = z(j["ut.cp"]) - z(j["ul.cp"])
    out["u_monetary_90d"] = (z(j["ut.cm"]) - z(j["ul.cm"])) / 1000.0
    out["u_views_7d"] = z(j["ut.cv"]) - z(j["us.cv"])
    all_v = z(j["ut.cv"])
    cat_v = z(j["uc.c"])
    category = views.column("category")
    has_cat = np.asarray(category.is_valid()) if n else np.zeros(0, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["u_affinity"] = np.where((all_v > 0) & has_cat, cat_v / all_v, np.nan)
        rn = z(j["ut.crn"])
        out["u_paid_vs_list"] = np.where(rn > 0, z(j["ut.cr"]) / rn, np.nan)
        pv = z(j["pt.cv"]) - z(j["ps.cv"])
        pp = z(j["pt.cp"]) - z(j["ps.cp"])
        out["p_conversion_7d"] = np.where(pv > 0, pp / pv, np.nan)
    out["u_session_views"] = z(j["ss.c"])
    for f, col in (("u_tier", "tier"), ("u_device", "device"), ("u_region", "region"),
                   ("u_channel", "channel"), ("p_category", "category")):
        out[f] = _text(views.column(col))
    out["p_product"] = _text(views.column("product_id"))
    out["p_views_7d"] = pv
    out["p_purchases_7d"] = pp
    # the latest inventory report less the units bought since it (as the online state)
    inv = j["inv.stock"] - np.clip(z(j["pt.cu"]) - z(j["inv.cu"]), 0.0, None)
    out["p_stock"] = np.where(np.isnan(inv), _np(views.column("cat_stock")),
                              np.clip(inv, 0.0, None))
    out["p_days_to_season_end"] = (_np(views.column("season_end_us")) - ts) / DAY_US
    out["p_comp_on_promo"] = z(j["kt.comp_promo"])

    local = pd.to_datetime(ts, unit="us", utc=True).tz_convert(tz)
    out["c_hour"] = local.hour.to_numpy().astype(np.float64)
    out["c_weekday"] = local.day_of_week.to_numpy().astype(np.float64)
    hol = np.zeros(n, dtype=np.float64)
    if len(holidays) and n:
        local_day = local.tz_localize(None).to_numpy().astype("datetime64[D]")
        region = out["u_region"].to_numpy(dtype=object, na_value=None)
        for h in holidays.itertuples(index=False):
            hit = (local_day == np.datetime64(str(h.day)[:10], "D")) & (ts > h.ts)
            if h.region is not None and not (isinstance(h.region, float) and np.isnan(h.region)):
                hit &= region == h.region
            hol[hit] = 1.0
    out["c_holiday"] = hol

    price = views.column("price").to_numpy().astype(np.int64) if n else np.zeros(0, np.int64)
    list_price = (views.column("list_price").to_numpy().astype(np.int64) if n
                  else np.zeros(0, np.int64))
    comp = j["kt.comp_price"]
    currency = _text(views.column("currency"))
    p = price.astype(np.float64)
    exp = currency.map(CURRENCY_EXPONENTS).fillna(2).to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["x_price_ratio_list"] = p / list_price.astype(np.float64)
        out["x_price_ratio_comp"] = p / comp
        out["x_log_price"] = np.log(np.maximum(p, 1.0) / 10.0 ** exp)
    frame = pd.DataFrame({f: out[f] for f in FEATURES})
    frame["price"] = price
    frame["list_price"] = list_price
    frame["competitor_price"] = pd.array(
        np.where(np.isnan(comp), 0, comp).astype(np.int64), dtype="Int64")
    frame.loc[np.isnan(comp), "competitor_price"] = pd.NA
    frame["currency"] = currency
    frame["ts"] = ts
    frame["user_id"] = _text(views.column("user_id"))
    frame["product_id"] = _text(views.column("product_id"))
    session = views.column("session_id")
    has_session = np.asarray(session.is_valid()) if n else np.zeros(0, bool)
    limit = ts + window_us
    bq, bs, bw = j["bq.ts"], j["bs.ts"], j["bw.ts"]
    with np.errstate(invalid="ignore"):  # NaN (no such purchase) compares False
        y = (bq <= limit) | np.where(use_session & has_session, bs <= limit, bw <= limit)
    frame["y"] = y.astype(np.int64)
    for c in extra:
        frame[c] = _text(views.column(c))
    return frame


def time_split(frame: pd.DataFrame, n_folds: int) -> Iterator[tuple[npt.NDArray[np.int64],
                                                                      npt.NDArray[np.int64]]]:
    """Expanding-window time splits: ``(train_idx, test_idx)`` positional indices of ``frame``.

    The distinct ``ts`` values are cut into ``n_folds + 1`` consecutive blocks; fold ``k`` trains
    on blocks ``0..k`` and tests on block ``k + 1``, so every test row is strictly later than
    every training row (rows sharing a timestamp never straddle a cut).

    >>> import pandas as pd
    >>> f = pd.DataFrame({"ts": [5, 1, 2, 2, 3, 4]})
    >>> [(sorted(a.tolist()), sorted(b.tolist())) for a, b in time_split(f, 2)]
    [([1, 2, 3], [4]), ([1, 2, 3, 4], [0, 5])]
    """
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 1:
        raise ValidationError("time split", "n_folds",
                              f"must be a positive integer, got {n_folds!r}")
    if "ts" not in frame.columns:
        raise ValidationError("time split", "ts", "frame has no ts column")
    ts = frame["ts"].to_numpy(np.int64)
    if len(np.unique(ts)) < n_folds + 1:
        raise ValidationError(
            "time split", "n_folds",
            f"{n_folds} folds need at least {n_folds + 1} distinct timestamps",
        )
    distinct, counts = np.unique(ts, return_counts=True)
    cum = np.cumsum(counts)
    # block starts on distinct timestamps, as even as possible in rows, each block non-empty
    starts = [0]
    for k in range(1, n_folds + 1):
        idx = int(np.searchsorted(cum, k * len(ts) / (n_folds + 1), side="left")) + 1
        idx = max(idx, starts[-1] + 1)
        idx = min(idx, len(distinct) - (n_folds + 1 - k))
        starts.append(idx)
    starts.append(len(distinct))
    order = np.argsort(ts, kind="stable")
    row_start = np.concatenate([[0], cum])[starts]
    for k in range(1, n_folds + 1):
        train = order[: row_start[k]]
        test = order[row_start[k]: row_start[k + 1]]
        yield train.astype(np.int64), test.astype(np.int64)


def training_set_from_store(store: Any, settings: Any, *, since: Any = None,
                            until: Any = None) -> pd.DataFrame:
    """The point-in-time training set of everything in ``store`` (a :class:`SqlStore`).

    Reads the event log (optionally ``since``/``until``), the catalogue and the shoppers'
    pricing attributes, in the shop's time zone. Audit-only attributes never enter.
    """
    events = store.events_frame(since=since, until=until)
    if events.empty:
        raise ValidationError("training set", None, "the store holds no events to learn from")
    shoppers = store.shoppers_frame().drop(columns=["personalisation_consent"])
    return build_training_set(events, store.list_products(), shoppers,
                              timezone=settings.shop.timezone)

"""Cleaning a pricing analyst expects: duplicates removed and counted, price outliers flagged.

* Duplicate ``event_id`` s inside one batch are dropped (the first row wins) and counted. A
  duplicate in a later batch of the same call is refused by the database's primary key, and
  counted as a duplicate (not as "already present") by comparing with the ids seen earlier.
* Price outliers are flagged per product and event type (own prices and each competitor's
  prices are different series), by default (``"rolling"``) against the prices *around* each
  one in time, so a markdown that persists is a price change, not an outlier (see
  :func:`_rolling_outliers`); ``"iqr"`` (``Q1 - k·IQR``, ``Q3 + k·IQR``) and ``"zscore"``
  (``|p - mean| / std > k``) judge each group as one distribution, which flags every price of
  a promotion week as an outlier of the list price. ``k = settings.ingest.outlier_threshold``.
  Outliers are reported with examples, never dropped: a real clearance price must not vanish
  from the history.

>>> import pandas as pd
>>> prices = pd.DataFrame({"product_id": ["A"] * 12, "type": ["view"] * 12,
...                        "price": [100] * 11 + [10_000], "line": range(2, 14),
...                        "event_id": [f"e{i}" for i in range(12)], "source": ["f.csv"] * 12})
>>> flagged = find_outliers(prices, "iqr", 3.0)
>>> flagged.event_id.tolist()
['e11']
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MIN_GROUP = 10  # fewer observations than this: no outlier judgement for the product


class Deduper:
    """Drops duplicate ids inside a batch; counts ids already seen in earlier batches."""

    def __init__(self) -> None:
        self._seen: list[pa.Array] = []  # ids of earlier batches (compact Arrow strings)

    def first_occurrences(self, ids: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, int]:
        """Mask of rows to keep (first of each id in this batch) and how many were dropped.

        Null ids are kept: validation rejects them with a proper message.
        """
        if pc.count_distinct(ids, mode="all").as_py() == len(ids):
            return np.ones(len(ids), dtype=bool), 0  # the common case, decided in C
        s = pd.Series(ids.to_numpy(zero_copy_only=False), dtype=object)
        dup = s.duplicated(keep="first").to_numpy() & s.notna().to_numpy()
        return ~dup, int(dup.sum())

    def remember(self, ids: pa.ChunkedArray | pa.Array) -> None:
        """Note ``ids`` as seen (call after each batch)."""
        if isinstance(ids, pa.ChunkedArray):
            ids = ids.combine_chunks()
        self._seen.append(ids.cast(pa.string()))

    def seen_before(self, ids: pa.ChunkedArray | pa.Array) -> int:
        """How many of ``ids`` appeared in earlier batches (exact; only asked when the
        database refused some rows, so the common path never pays for it)."""
        if not self._seen:
            return 0
        earlier = pa.concat_arrays(self._seen)
        return int(pc.sum(pc.is_in(ids, value_set=earlier)).as_py() or 0)


ROLLING_WINDOW = 21  # observations around each price (10 before, 10 after) in "rolling"
MIN_LEVEL_RUN = 3  # the same price this many times in a row is a price level, not an outlier
MIN_SPREAD = 0.05  # floor of the robust spread (log price, ~5 %): a constant price has MAD 0


def find_outliers(prices: pd.DataFrame, method: str, threshold: float) -> pd.DataFrame:
    """Rows of ``prices`` (columns product_id, type, price, ...) that are outliers in their group.

    A group is one product's own prices of one event type, or one competitor's prices of it.
    Adds ``low``, ``high`` (the fences) and ``median`` columns to the returned rows.
    """
    if prices.empty:
        return prices.assign(low=[], high=[], median=[])
    if method == "rolling":
        return _rolling_outliers(prices, threshold)
    g = prices.groupby(_group_keys(prices), sort=False, observed=True, dropna=False)["price"]
    size = g.transform("size")
    p = prices["price"].astype("float64")
    if method == "iqr":
        q1 = g.transform("quantile", 0.25)
        q3 = g.transform("quantile", 0.75)
        iqr = q3 - q1
        low, high = q1 - threshold * iqr, q3 + threshold * iqr
    elif method == "zscore":
        mean = g.transform("mean")
        std = g.transform("std", ddof=0)
        low, high = mean - threshold * std, mean + threshold * std
    else:
        raise ValueError(f"unknown outlier method {method!r}")
    flag = (size >= MIN_GROUP) & ((p < low) | (p > high))
    out = prices[flag.to_numpy()].copy()
    out["low"] = low[flag]
    out["high"] = high[flag]
    out["median"] = g.transform("median")[flag]
    return out


def _group_keys(prices: pd.DataFrame) -> list[str]:
    return ["product_id", "type"] + (["competitor"] if "competitor" in prices.columns else [])


def _rolling_outliers(prices: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """A Hampel filter per group, in time order, on log prices: a price is an outlier when it
    is more than ``threshold`` robust spreads (1.4826 x the window's MAD, at least
    :data:`MIN_SPREAD`) from the median of the :data:`ROLLING_WINDOW` observations around it,
    unless the same price is seen :data:`MIN_LEVEL_RUN` times in a row (a new price level).

    The window follows the prices: after a markdown the median moves to the new level as soon
    as it holds half the window, so a persisting price change is never an outlier, while one
    wrong price among its neighbours is. Log prices make x100 and /100 equally far.
    """
    n = len(prices)
    by = prices.groupby(_group_keys(prices), sort=False, observed=True, dropna=False)
    ts = (prices["ts"].to_numpy(dtype=np.int64) if "ts" in prices.columns
          else np.zeros(n, dtype=np.int64))
    # group by group, in time order (file order among equal times): sorting integer codes
    codes = by.ngroup().to_numpy(dtype=np.int64)
    perm = np.lexsort((prices["line"].to_numpy(dtype=np.int64), ts, codes))
    code = codes[perm]
    change = np.r_[True, code[1:] != code[:-1]]
    starts = np.flatnonzero(change)
    sizes = np.diff(np.r_[starts, n])
    g_start = np.repeat(starts, sizes)
    g_size = np.repeat(sizes, sizes)
    price = prices["price"].to_numpy(dtype=np.float64)[perm]
    x = np.log(np.maximum(price, 1.0))
    # runs of one price within a group: a price seen MIN_LEVEL_RUN times in a row is a level,
    # never an outlier, so only the prices outside such runs need their window's statistics
    run_start = change | np.r_[True, price[1:] != price[:-1]]
    run_id = np.cumsum(run_start) - 1
    run_len = np.bincount(run_id)[run_id]
    judged = (g_size >= MIN_GROUP) & (run_len < MIN_LEVEL_RUN)
    w = ROLLING_WINDOW
    med = np.zeros(n)
    mad = np.zeros(n)
    full = g_size >= w  # groups with a whole window around every price
    rows = np.flatnonzero(full & judged)
    if len(rows):
        start = np.clip(rows - w // 2, g_start[rows], g_start[rows] + g_size[rows] - w)
        vals = x[start[:, None] + np.arange(w)[None, :]]
        med[rows] = np.median(vals, axis=1)
        mad[rows] = np.median(np.abs(vals - med[rows][:, None]), axis=1)
    small = ~full & (g_size >= MIN_GROUP)  # the window is the whole (short) series
    if small.any():
        part = pd.DataFrame({"g": code[small], "x": x[small]})
        m = part.groupby("g")["x"].transform("median").to_numpy()
        med[small] = m
        mad[small] = (part.assign(d=np.abs(part["x"].to_numpy() - m))
                      .groupby("g")["d"].transform("median").to_numpy())
    spread = np.maximum(1.4826 * mad, MIN_SPREAD)
    flag = judged & (np.abs(x - med) > threshold * spread)
    out = prices.iloc[perm[flag]].copy()
    out["median"] = np.exp(med[flag])
    out["low"] = np.exp(med[flag] - threshold * spread[flag])
    out["high"] = np.exp(med[flag] + threshold * spread[flag])
    return out

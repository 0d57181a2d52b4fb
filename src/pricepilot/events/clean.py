"""Cleaning a pricing analyst expects: duplicates removed and counted, price outliers flagged.

* Duplicate ``event_id`` s inside one batch are dropped (the first row wins) and counted. A
  duplicate in a later batch of the same call is refused by the database's primary key, and
  counted as a duplicate (not as "already present") by comparing with the ids seen earlier.
* Price outliers are flagged per product and event type (own prices and competitor prices are
  different distributions), by IQR fences (``Q1 - k·IQR``, ``Q3 + k·IQR``) or by z-score
  (``|p - mean| / std > k``), ``k = settings.ingest.outlier_threshold``. They are reported with
  examples, never dropped: a real clearance price must not vanish from the history.

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


def find_outliers(prices: pd.DataFrame, method: str, threshold: float) -> pd.DataFrame:
    """Rows of ``prices`` (columns product_id, type, price, ...) that are outliers in their group.

    Adds ``low``, ``high`` (the fences) and ``median`` columns to the returned rows.
    """
    if prices.empty:
        return prices.assign(low=[], high=[], median=[])
    g = prices.groupby(["product_id", "type"], sort=False, observed=True)["price"]
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

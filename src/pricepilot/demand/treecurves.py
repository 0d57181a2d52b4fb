"""LightGBM demand curves without the booster call: the trees compiled into numpy lookup tables.

A curve asks the same trees about K rows that differ only in the price columns. LightGBM's own
``predict`` walks every tree for every row and costs ~2 µs per row on this machine (a page of
100 products x 20 prices: ~4.6 ms). Here the trees are evaluated QuickScorer-style (Lucchese
et al., SIGIR 2015): each tree's leaves are bits of a word, and every split that sends a row
*right* clears the bits of the leaves in its left subtree; the leaf a row reaches is the lowest
bit left. Splits are independent of each other in this form, so:

* splits on **context** features are evaluated once per product (not once per candidate price);
* splits on a **price** feature are sorted by threshold per feature: a row's value sends right
  exactly the splits whose threshold is below it, so the AND of their masks is a prefix table
  looked up with one ``searchsorted`` per feature (plus a row for NaN and one for zero, which
  LightGBM routes by the split's missing-value rule);

and a curve is three table lookups and one AND per (tree, row). Leaf values are then summed tree
by tree in LightGBM's order and put through its sigmoid, so the raw scores are bit-identical to
``Booster.predict(raw_score=True)`` and the probabilities agree to the last bits of ``exp``
(tested in tests/demand/test_treecurves.py against the booster on real rows, NaN and unseen
categories included).

Only what this module understands is compiled (one binary model, numeric and categorical
splits, at most 64 leaves a tree); :func:`compile_forest` returns None otherwise and the caller
keeps using the booster.
"""

from __future__ import annotations

import logging
import math
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
ZERO_THRESHOLD = 1e-35  # LightGBM's kZeroThreshold: |x| <= this is read as 0.0 from a dense row

log = logging.getLogger(__name__)


class _Tree:
    """One tree flattened: internal splits with the leaf mask each clears when going right."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.values: list[float] = []
        self.splits: list[tuple[int, str, object, bool, str, int]] = []  # feat, kind, thr, dl, mt, mask
        self._walk(root)

    def _walk(self, node: dict[str, Any]) -> tuple[int, int]:
        """Leaves numbered left to right; returns the [first, last+1) leaf range of ``node``."""
        if "split_index" not in node:
            self.values.append(float(node["leaf_value"]))
            n = len(self.values)
            return n - 1, n
        pos = len(self.splits)
        self.splits.append((0, "", None, False, "", 0))  # placeholder, filled after the walk
        lo, mid = self._walk(node["left_child"])
        _, hi = self._walk(node["right_child"])
        left_bits = ((1 << (mid - lo)) - 1) << lo
        kind = node["decision_type"]
        thr: object = float(node["threshold"]) if kind == "<=" else frozenset(
            int(c) for c in str(node["threshold"]).split("||"))
        self.splits[pos] = (int(node["split_feature"]), kind, thr, bool(node["default_left"]),
                            str(node["missing_type"]), left_bits)
        return lo, hi


def _goes_right_numeric(x: float, thr: float, default_left: bool, missing: str) -> bool:
    """LightGBM's NumericalDecision for one value (used for the NaN and zero table rows)."""
    if math.isnan(x) and missing != "NaN":
        x = 0.0
    if (missing == "Zero" and abs(x) <= ZERO_THRESHOLD) or (missing == "NaN" and math.isnan(x)):
        return not default_left
    return not x <= thr


class _Feature:
    """One input column's splits as a lookup table: entry -> per-tree AND of the masks of the
    splits on this column that send a row with that value right.

    Numeric: entry k for a value above exactly k of the sorted thresholds, then one entry for NaN
    and one for zero (LightGBM routes those by each split's missing-value rule). Categorical: one
    entry per code, then one for NaN / negative / unknown codes (always right).
    """

    def __init__(self, column: int, splits: list[tuple[str, object, bool, str, int, int]],
                 n_trees: int, all_ones: int, dtype: Any) -> None:
        self.column = column
        kinds = {k for k, *_ in splits}
        if len(kinds) != 1:
            raise ValueError(f"column {column} has both numeric and categorical splits")
        self.numeric = kinds == {"<="}
        if self.numeric:
            splits = sorted(splits, key=lambda sp: float(sp[1]))  # type: ignore[arg-type]
            self.thr = np.asarray([float(sp[1]) for sp in splits], dtype=np.float64)  # type: ignore[arg-type]
            self.thr_list = self.thr.tolist()
            n = len(splits)
            table = np.full((n + 3, n_trees), all_ones, dtype=np.uint64)
            for k, (_, _, _, _, mask, t) in enumerate(splits):
                table[k + 1:n + 1, t] &= np.uint64(mask)
            for row, x in ((n + 1, math.nan), (n + 2, 0.0)):
                for _, thr, dl, mt, mask, t in splits:
                    if _goes_right_numeric(x, float(thr), dl, mt):  # type: ignore[arg-type]
                        table[row, t] &= np.uint64(mask)
            self.nan_entry, self.zero_entry = n + 1, n + 2
        else:
            self.ncodes = max((max(sp[1]) for sp in splits if sp[1]), default=0) + 1  # type: ignore[call-overload]
            table = np.full((self.ncodes + 1, n_trees), all_ones, dtype=np.uint64)
            for _, cats, _, _, mask, t in splits:
                right = np.ones(self.ncodes + 1, dtype=bool)
                right[sorted(cats)] = False  # type: ignore[call-overload]
                table[right, t] &= np.uint64(mask)
        self.rows = np.ascontiguousarray(table.astype(dtype))  # (entries, trees)
        self.cols = np.ascontiguousarray(self.rows.T)  # (trees, entries)

    def index(self, x: F64) -> npt.NDArray[np.intp]:
        """The table entry of every value in ``x``."""
        if self.numeric:
            idx = np.searchsorted(self.thr, x, side="left")
            special = np.isnan(x) | (np.abs(x) <= ZERO_THRESHOLD)
            if special.any():
                idx = np.where(np.isnan(x), self.nan_entry, np.where(special, self.zero_entry, idx))
            return idx
        ok = ~np.isnan(x) & (x >= 0)
        codes = np.where(ok, x, -1.0).astype(np.int64)  # truncation, as LightGBM casts to int
        return np.where((codes < 0) | (codes >= self.ncodes), self.ncodes, codes)

    def index_one(self, x: float) -> int:
        """:meth:`index` of one value, without numpy."""
        if self.numeric:
            if math.isnan(x):
                return self.nan_entry
            if abs(x) <= ZERO_THRESHOLD:
                return self.zero_entry
            return bisect_left(self.thr_list, x)
        if math.isnan(x) or x < 0:
            return self.ncodes
        code = int(x)
        return code if code < self.ncodes else self.ncodes


class CompiledForest:
    """A fitted binary LightGBM booster as lookup tables; see the module docstring.

    ``price_columns`` are the input columns that vary along a curve; every other column is
    context, constant over one product's candidate prices.
    """

    def __init__(self, trees: Sequence[_Tree], n_columns: int, price_columns: Sequence[int],
                 sigmoid: float) -> None:
        self.n_trees = len(trees)
        self.n_columns = n_columns
        self.sigmoid = sigmoid
        self.price_columns = list(price_columns)
        width = max(len(t.values) for t in trees)
        self.dtype: Any = np.uint16 if width <= 16 else np.uint64
        all_ones = (1 << (16 if width <= 16 else 64)) - 1
        self.all_ones_row = np.full(self.n_trees, all_ones, dtype=np.uint64).astype(self.dtype)
        self.leaf_values = np.zeros((self.n_trees, width))
        for t, tree in enumerate(trees):
            self.leaf_values[t, : len(tree.values)] = tree.values
        self.leaf_values_flat = self.leaf_values.ravel()
        self.tree_offset = (np.arange(self.n_trees, dtype=np.intp) * width)[:, None]
        if width <= 16:
            # lowest set bit of every 16-bit word (0 never occurs: the exit leaf always remains)
            words = np.arange(1 << 16, dtype=np.int64)
            low = np.maximum(words & -words, 1)
            self.lowest_bit: npt.NDArray[np.uint8] | None = np.log2(low).astype(np.uint8)
        else:
            self.lowest_bit = None
        by_column: dict[int, list[tuple[str, object, bool, str, int, int]]] = {}
        for t, tree in enumerate(trees):
            for feat, kind, thr, dl, mt, left_bits in tree.splits:
                by_column.setdefault(feat, []).append((kind, thr, dl, mt, all_ones & ~left_bits, t))
        price_set = set(self.price_columns)
        self.context = [_Feature(col, sp, self.n_trees, all_ones, self.dtype)
                        for col, sp in sorted(by_column.items()) if col not in price_set]
        self.price = [_Feature(col, sp, self.n_trees, all_ones, self.dtype)
                      for col, sp in sorted(by_column.items()) if col in price_set]
        if any(not f.numeric for f in self.price):
            raise ValueError("categorical split on a price column")

    def _context_words(self, ctx: F64) -> npt.NDArray[Any]:
        """(trees, products): per tree, the AND of the masks of the context splits going right."""
        n = ctx.shape[0]
        if n == 1:
            row = ctx[0].tolist()
            words = self.all_ones_row.copy()
            for f in self.context:
                np.bitwise_and(words, f.rows[f.index_one(row[f.column])], out=words)
            return words[:, None]
        words = np.broadcast_to(self.all_ones_row, (n, self.n_trees)).copy()
        for f in self.context:
            np.bitwise_and(words, f.rows[f.index(ctx[:, f.column])], out=words)
        return np.ascontiguousarray(words.T)

    def raw_scores(self, ctx: F64, counts: Sequence[int], price_values: dict[int, F64]) -> F64:
        """Raw scores of ``counts[i]`` rows per context row ``ctx[i]``; the price column ``c`` of
        the stacked rows takes ``price_values[c]`` (one value per row, in row order)."""
        words = self._context_words(ctx)
        if ctx.shape[0] == 1:
            words = np.repeat(words, counts[0], axis=1)
        else:
            words = np.repeat(words, counts, axis=1)
        for f in self.price:
            words &= f.cols[:, f.index(price_values[f.column])]
        if self.lowest_bit is not None:
            leaf = np.take(self.lowest_bit, words)  # np.take: cheaper than fancy indexing here
        else:
            w = words.astype(np.uint64)
            leaf = np.bitwise_count((w & (~w + np.uint64(1))) - np.uint64(1))
        values = np.take(self.leaf_values_flat, leaf + self.tree_offset)
        # tree by tree, in LightGBM's order (a reduction over the outer axis adds rows in turn)
        return np.asarray(np.add.reduce(values, axis=0), dtype=np.float64)

    def proba(self, ctx: F64, counts: Sequence[int], price_values: dict[int, F64]) -> F64:
        """P(purchase) as ``Booster.predict`` gives it (the binary objective's sigmoid)."""
        raw = self.raw_scores(ctx, counts, price_values)
        return 1.0 / (1.0 + np.exp(-self.sigmoid * raw))


def compile_forest(booster: Any, price_columns: Sequence[int]) -> CompiledForest | None:
    """The booster as a :class:`CompiledForest`, or None (logged, with the reason) when it uses
    something not compiled: the model then serves curves from the booster itself."""
    dump = booster.dump_model()
    objective = str(dump.get("objective", ""))
    parts = objective.split()
    infos = dump.get("tree_info") or []
    reason = ""
    if not parts or parts[0] != "binary" or int(dump.get("num_tree_per_iteration", 1)) != 1:
        reason = f"objective {objective!r} is not single-output binary"
    elif not infos or any(info.get("is_linear") for info in infos):
        reason = "no trees, or linear trees"
    elif dump.get("average_output"):
        reason = "averaged output (random-forest mode)"
    if not reason:
        sigmoid = 1.0
        for p in parts[1:]:
            if p.startswith("sigmoid:"):
                sigmoid = float(p.split(":", 1)[1])
        trees = [_Tree(info["tree_structure"]) for info in infos]
        if max(len(t.values) for t in trees) > 64:
            reason = "a tree with more than 64 leaves"
        else:
            try:
                return CompiledForest(trees, int(dump["max_feature_idx"]) + 1, price_columns, sigmoid)
            except ValueError as e:
                reason = str(e)
    log.info("LightGBM curves served by the booster, not compiled: %s", reason)
    return None

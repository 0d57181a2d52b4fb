"""An ``event_id`` sent again with different content: a conflict, not a duplicate.

Events are immutable and idempotent by ``event_id``: an identical re-send changes nothing and is
a duplicate. A re-send whose fields differ from the stored event (or from an earlier event of
the same request or file) is a *conflict*: the stored event stands, and the conflict is
reported per event with the fields that differ, so a shop that reuses ids, or corrected an event
by re-sending it, learns that the correction was not taken.

>>> import pyarrow as pa
>>> stored = pa.table({"event_id": ["e1", "e2"], "type": ["view", "view"], "ts": [1, 1],
...                    "price": [999, 999]})
>>> sent = pa.table({"event_id": ["e1", "e2"], "type": ["view", "view"], "ts": [1, 2],
...                  "price": [999, 1099]})
>>> compare(sent, stored)
[(1, EventConflict(event_id='e2', fields=['price', 'ts']))]
"""

from __future__ import annotations

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class EventConflict(msgspec.Struct, kw_only=True, frozen=True):
    """An event whose ``event_id`` is stored with different content; it was not written."""

    event_id: str
    fields: list[str]  # storage fields whose value differs from the stored event's, by name

    def reason(self) -> str:
        return ("event_id already stored with different content (differs in "
                + ", ".join(self.fields) + "); the stored event stands")


def compare(sent: pa.Table, stored: pa.Table) -> list[tuple[int, EventConflict]]:
    """Events of ``sent`` whose id is in ``stored`` (unique ids) with a different value in any
    column both tables have, with their row number in ``sent``, in ``sent`` order. Rows whose id
    is not stored are ignored."""
    if sent.num_rows == 0 or stored.num_rows == 0:
        return []
    idx = pc.index_in(sent.column("event_id"), value_set=stored.column("event_id"))
    found = np.asarray(pc.is_valid(idx).to_numpy(zero_copy_only=False), dtype=bool)
    if not found.any():
        return []
    rows = np.flatnonzero(found)
    mine = sent.take(pa.array(rows))
    theirs = stored.take(pc.take(idx, pa.array(rows)))
    columns = [c for c in sent.column_names if c != "event_id" and c in stored.column_names]
    differs: dict[str, np.ndarray] = {}
    for c in columns:
        a, b = mine.column(c), theirs.column(c)
        if a.type != b.type:
            b = b.cast(a.type)
        same = pc.or_kleene(pc.equal(a, b), pc.and_(pc.is_null(a), pc.is_null(b)))
        d = ~np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False), dtype=bool)
        if d.any():
            differs[c] = d
    if not differs:
        return []
    any_diff = np.zeros(len(rows), dtype=bool)
    for d in differs.values():
        any_diff |= d
    ids = mine.column("event_id").to_pylist()
    return [(int(rows[i]), EventConflict(event_id=ids[i],
                                         fields=sorted(c for c, d in differs.items() if d[i])))
            for i in np.flatnonzero(any_diff).tolist()]


def within(table: pa.Table, keep: np.ndarray) -> list[tuple[int, EventConflict]]:
    """Rows of ``table`` dropped as repeats of an earlier id (``~keep``) whose content differs
    from the row kept for that id, with their row number in ``table``."""
    if keep.all():
        return []
    dropped = np.flatnonzero(~keep)
    found = compare(table.take(pa.array(dropped)), table.filter(pa.array(keep)))
    return [(int(dropped[i]), c) for i, c in found]


__all__ = ["EventConflict", "compare", "within"]

"""The event log's bulk write paths, on the driver's own connection inside the store's
transaction (:meth:`pricepilot.store.sql.SqlStore.add_event_batch`): SQLite's ``executemany``
per event type, PostgreSQL's ``COPY``. Rows whose ``event_id`` is stored are ignored.
"""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from pricepilot.events.columns import TYPE_COLUMNS
from pricepilot.events.schemas import EVENT_COLUMNS

_EVENT_COLS_SQL = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)


def sqlite_insert_events(raw: Any, batch: pa.Table) -> int:
    """Insert ``batch`` (storage form) on a raw sqlite3 connection, ignoring stored ids;
    returns how many were inserted."""
    # One executemany per event type, binding only the columns that have a value in that
    # group (a view binds 9 values instead of 19): the driver's per-value cost is most of
    # the Python side of the insert. The type itself, one of the known type names, is a
    # literal in the statement; an unknown one (refused by validation anyway) is bound.
    types = batch.column("type")
    total = 0
    cur = raw.cursor()
    try:
        for typ in pc.unique(types).to_pylist():
            part = batch.filter(pc.equal(types, typ))
            n = part.num_rows
            cols = [c for c in EVENT_COLUMNS
                    if c != "type" and part.column(c).null_count < n]
            names = ", ".join(f'"{c}"' for c in ["type", *cols])
            literal = typ in TYPE_COLUMNS  # known names: lowercase letters and "_" only
            marks = ", ".join([f"'{typ}'" if literal else "?"] + ["?"] * len(cols))
            values = [part.column(c).to_pylist() for c in cols]
            if not literal:
                values.insert(0, [typ] * n)
            cur.executemany(f"INSERT OR IGNORE INTO events ({names}) VALUES ({marks})",
                            zip(*values))
            total += int(cur.rowcount)
        return total
    finally:
        cur.close()

def pg_copy_events(raw: Any, batch: pa.Table) -> int:
    """COPY ``batch`` (storage form) into PostgreSQL through a temporary table, then insert the
    rows whose ids are not stored yet; returns how many were inserted."""
    buf = io.BytesIO()
    pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS pp_events_in "
            "(LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        cur.execute("TRUNCATE pp_events_in")
        with cur.copy(f"COPY pp_events_in ({_EVENT_COLS_SQL}) FROM STDIN (FORMAT csv)") as cp:
            cp.write(buf.getbuffer())
        cur.execute(
            f"INSERT INTO events ({_EVENT_COLS_SQL}) SELECT {_EVENT_COLS_SQL} "
            "FROM pp_events_in ON CONFLICT (event_id) DO NOTHING"
        )
        n = int(cur.rowcount)
        cur.execute("TRUNCATE pp_events_in")
        return n

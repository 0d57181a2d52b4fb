"""How the SQL store connects: one SQLAlchemy engine per store, tuned per backend.

SQLite (the embedded default) runs in WAL mode with every transaction opened by
``BEGIN IMMEDIATE`` (writers queue on the busy timeout instead of failing to upgrade a read
lock); PostgreSQL runs on psycopg 3 with pre-ping and the outage hook of
:func:`pricepilot.store.errors.unavailable_on_connection_errors`. JSON columns are encoded with
msgspec on both.

>>> url, engine = create_store_engine(sa.make_url("sqlite://"))
>>> engine.dialect.name
'sqlite'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.pool import StaticPool

from pricepilot.errors import ValidationError
from pricepilot.store.errors import (
    schema_missing_on_undefined_tables,
    unavailable_on_connection_errors,
)

JSON_ENCODER = msgspec.json.Encoder()


def _json_dumps(value: Any) -> str:
    return JSON_ENCODER.encode(value).decode()


# JSON columns (decision explanations and contexts, attributes) encoded with msgspec: the
# standard library's encoder was a third of the decision log's write cost (docs/benchmarks/serve.md)
_JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps}


def create_store_engine(url: sa.URL, *, echo: bool = False) -> tuple[sa.URL, sa.Engine]:
    """The engine for ``url`` and the URL it runs on (``postgresql`` gets the psycopg driver);
    :class:`ValidationError` for a database other than SQLite or PostgreSQL."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url, _sqlite_engine(url, echo)
    if backend != "postgresql":
        raise ValidationError("store", "url", f"unsupported database {backend!r}")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, echo=echo, pool_pre_ping=True,
                              connect_args={"connect_timeout": 5}, **_JSON_CODEC)
    unavailable_on_connection_errors(engine)
    schema_missing_on_undefined_tables(engine)
    return url, engine


def _sqlite_engine(url: sa.URL, echo: bool) -> sa.Engine:
    db = url.database or ""
    memory = db in ("", ":memory:") or db.startswith("file::memory:")
    kwargs: dict[str, Any] = {"echo": echo, **_JSON_CODEC}
    if memory:
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.update(connect_args={"timeout": 30, "check_same_thread": False})
    engine = sa.create_engine(url, **kwargs)

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _rec: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, issue BEGIN: savepoints then work, and
        # the raw executemany of the bulk path runs inside our transaction.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        # Checkpoint the WAL every ~40 MB instead of SQLite's ~4 MB: the decision log's index
        # pages are rewritten by every flush, and a longer interval copies each back to the
        # database once per checkpoint instead of once per few flushes (docs/benchmarks/serve.md)
        cur.execute("PRAGMA wal_autocheckpoint=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        # Bulk ingestion updates four B-trees at random places; the default 2 MB page
        # cache thrashes, 64 MB keeps them in memory.
        cur.execute("PRAGMA cache_size=-65536")
        # Temporary files (the sorted runs of CREATE INDEX in bulk loads) as OS temp files,
        # SQLite's default: measured ~15-20 % less CPU for rebuilding the three event indexes
        # over 1 M rows than temp_store=MEMORY, whose in-memory files are copied in small
        # chunks. Deleted-on-close files mostly stay in the OS page cache.
        cur.execute("PRAGMA temp_store=FILE")
        # Let CREATE INDEX (bulk loads) sort with a helper thread.
        cur.execute("PRAGMA threads=2")
        cur.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if not memory else "BEGIN")

    schema_missing_on_undefined_tables(engine)
    return engine

"""Database driver errors as pricepilot errors: the store's callers never see a driver error.

Four places turn them: :func:`db_errors` around the store's own calls, the ``handle_error``
hooks :func:`unavailable_on_connection_errors` on a PostgreSQL engine (for the parts whose
repositories run on the store's engine) and :func:`schema_missing_on_undefined_tables` on every
engine (a missing table is :class:`SchemaMissing`: run ``pricepilot db upgrade``), and :func:`connection_error`, which the application
layer's runtime asks about an exception that reached it raw (SQLite's "database is locked").

>>> import sqlalchemy as sa
>>> connection_error("store probe", sa.exc.OperationalError("SELECT 1", {}, Exception("locked")))
Unavailable('database unavailable: store probe: locked')
>>> connection_error("store probe", ValueError("no")) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event

from pricepilot.errors import Conflict, PricepilotError, Unavailable, ValidationError


@contextmanager
def db_errors() -> Iterator[None]:
    """Database exceptions as pricepilot errors (the store's callers never see driver errors)."""
    try:
        yield
    except PricepilotError:
        raise
    except sa.exc.IntegrityError as e:
        raise Conflict("database", type(e.orig).__name__, str(e.orig).strip()) from e
    except sa.exc.DataError as e:
        raise ValidationError("store", None, str(e.orig).strip()) from e
    except sa.exc.DBAPIError as e:  # OperationalError, InterfaceError, ...: server down, locked
        raise Unavailable("database", str(e.orig).strip().splitlines()[0]) from e
    except sa.exc.SQLAlchemyError as e:
        raise Unavailable("database", str(e)) from e


def unavailable_on_connection_errors(engine: sa.Engine) -> None:
    """Server down or connection lost → :class:`Unavailable`, on every use of ``engine``.

    The promotion ledger and repository run on the store's engine, so :func:`db_errors` alone
    does not cover every caller; without this an outage reached the HTTP layer as a driver
    error, i.e. a 500 instead of a 503 with Retry-After. Pre-ping failures are left to the pool,
    which reconnects on them.
    """

    @sa_event.listens_for(engine, "handle_error")
    def _on_error(ctx: Any) -> None:
        exc = ctx.sqlalchemy_exception
        if ctx.is_pre_ping or not isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
            return
        detail = str(ctx.original_exception).strip().splitlines()
        raise Unavailable("database", detail[0] if detail else type(exc).__name__) from exc


class SchemaMissing(Unavailable):
    """The store's database has no pricepilot schema (or an old one): a table is missing.

    >>> str(SchemaMissing("sqlite:///data/pricepilot.sqlite", "products"))
    'the store at sqlite:///data/pricepilot.sqlite has no schema: run `pricepilot db upgrade` (table products is missing)'
    """

    code = "schema_missing"

    def __init__(self, url: str, table: str | None) -> None:
        self.url = url
        self.table = table
        self.dependency = "database"
        self.reason = "no schema"
        missing = f" (table {table} is missing)" if table else ""
        PricepilotError.__init__(
            self, f"the store at {url} has no schema: run `pricepilot db upgrade`{missing}")


_SQLITE_NO_TABLE = re.compile(r"no such table: (?:\w+\.)?(\w+)")
_PG_NO_TABLE = re.compile(r'relation "([^"]+)" does not exist')
_PG_UNDEFINED_TABLE = "42P01"


def missing_table(e: BaseException) -> str | None:
    """The table a driver error says is missing (SQLite "no such table: t", PostgreSQL
    undefined_table, SQLSTATE 42P01), or None for any other error.

    >>> import sqlite3
    >>> missing_table(sqlite3.OperationalError("no such table: products"))
    'products'
    >>> missing_table(sqlite3.OperationalError("database is locked")) is None
    True
    """
    orig = getattr(e, "orig", None) or e
    text = str(orig)
    if getattr(orig, "sqlstate", None) == _PG_UNDEFINED_TABLE or getattr(orig, "pgcode", None) == _PG_UNDEFINED_TABLE:
        m = _PG_NO_TABLE.search(text)
        return m.group(1) if m else ""
    if type(orig).__name__ == "OperationalError":
        m = _SQLITE_NO_TABLE.search(text)
        if m:
            return m.group(1)
    return None


def schema_missing_on_undefined_tables(engine: sa.Engine) -> None:
    """A missing table → :class:`SchemaMissing` naming the store and ``pricepilot db upgrade``,
    on every use of ``engine`` (the store's own calls, its repositories and ledgers alike), on
    SQLite and PostgreSQL: "database unavailable: no such table: products" said neither what
    was wrong nor what to do."""
    url = engine.url.render_as_string(hide_password=True)

    @sa_event.listens_for(engine, "handle_error")
    def _on_error(ctx: Any) -> None:
        if ctx.is_pre_ping:
            return
        table = missing_table(ctx.original_exception)
        if table is not None:
            raise SchemaMissing(url, table or None) from ctx.sqlalchemy_exception


def connection_error(what: str, e: BaseException) -> Unavailable | None:
    """``e`` as :class:`Unavailable` when it is a database connection error (server down,
    connection lost, SQLite locked) raised while doing ``what``; None for anything else."""
    if not isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return None
    return Unavailable("database", f"{what}: {str(e.orig).strip().splitlines()[0]}")

"""Database driver errors as pricepilot errors: the store's callers never see a driver error.

Three places turn them: :func:`db_errors` around the store's own calls, the ``handle_error``
hook :func:`unavailable_on_connection_errors` on a PostgreSQL engine (for the parts whose
repositories run on the store's engine), and :func:`connection_error`, which the application
layer's runtime asks about an exception that reached it raw (SQLite's "database is locked").

>>> import sqlalchemy as sa
>>> connection_error("store probe", sa.exc.OperationalError("SELECT 1", {}, Exception("locked")))
Unavailable('database unavailable: store probe: locked')
>>> connection_error("store probe", ValueError("no")) is None
True
"""

from __future__ import annotations

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


def connection_error(what: str, e: BaseException) -> Unavailable | None:
    """``e`` as :class:`Unavailable` when it is a database connection error (server down,
    connection lost, SQLite locked) raised while doing ``what``; None for anything else."""
    if not isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        return None
    return Unavailable("database", f"{what}: {str(e.orig).strip().splitlines()[0]}")

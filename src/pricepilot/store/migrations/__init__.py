"""Alembic migrations of the store (run with ``Store.migrate()`` or ``pricepilot db upgrade``)."""

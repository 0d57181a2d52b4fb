"""Warnings about the public development keys, shared by the commands that need them.

The pseudonym key turns customer ids into the pseudonyms every stored shopper and event carries;
changing it later gives every shopper a new id, so the warning must come before the first data
is ingested (``pricepilot ingest``), not only when serving (``pricepilot serve``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from pricepilot.config import Settings
    from pricepilot.store.base import Store

SECRET_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(32))' makes a secret"


def warn_pseudonym_key(settings: Settings) -> bool:
    """Print the warning when ``security.pseudonym_key`` is the public development key; True
    if it was printed."""
    from pricepilot.config import DEV_KEY

    if settings.security.pseudonym_key != DEV_KEY:
        return False
    Console(stderr=True).print(
        "[yellow]warning:[/] security.pseudonym_key is the public development key: "
        "pseudonymous shopper ids can be traced back to customer ids. Set your own "
        f"(PRICEPILOT_SECURITY__PSEUDONYM_KEY; {SECRET_HINT}) before ingesting data: "
        "changing it later gives every shopper a new id.")
    return True


def store_is_empty(store: Store) -> bool:
    """No products, events or shoppers yet (the store has never been ingested into)."""
    return not store.product_ids() and store.count_events() == 0 and store.shoppers_frame().empty


def warn_pseudonym_key_before_first_ingest(settings: Settings, store: Store) -> bool:
    """:func:`warn_pseudonym_key`, on a store nothing has been ingested into yet."""
    from pricepilot.config import DEV_KEY

    if settings.security.pseudonym_key != DEV_KEY or not store_is_empty(store):
        return False
    return warn_pseudonym_key(settings)

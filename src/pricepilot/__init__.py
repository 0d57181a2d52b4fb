"""pricepilot: real-time personalised pricing and promotions for online shops.

``pricepilot.open(...)`` returns a :class:`~pricepilot.serving.api.Shop`, the public Python API
(see :mod:`pricepilot.serving.api`): the same decisions as the HTTP service and the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pricepilot.serving.api import Shop


def open(settings_or_path: Any = None, **kwargs: Any) -> Shop:  # noqa: A001 - the public name
    """Open a shop; see :func:`pricepilot.serving.api.open_shop` for the arguments."""
    from pricepilot.serving.api import open_shop

    return open_shop(settings_or_path, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "Shop":
        from pricepilot.serving.api import Shop

        return Shop
    raise AttributeError(f"module 'pricepilot' has no attribute {name!r}")


__all__ = ["Shop", "__version__", "open"]

"""Event schemas, validation and ingestion."""

from pricepilot.events.schemas import (
    EVENT_COLUMNS,
    EVENT_TYPES,
    AddToCart,
    Calendar,
    CompetitorPrice,
    Event,
    Inventory,
    Purchase,
    RemoveFromCart,
    View,
    event_type,
)

__all__ = ["EVENT_COLUMNS", "EVENT_TYPES", "AddToCart", "Calendar", "CompetitorPrice", "Event",
           "Inventory", "Purchase", "RemoveFromCart", "View", "event_type"]

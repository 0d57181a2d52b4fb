"""Products, costs, stock and the guardrail policy."""

from pricepilot.catalog.models import (
    CategoryPolicy,
    Guardrails,
    Product,
    effective_guardrails,
    validate_guardrails,
    validate_product,
)

__all__ = ["CategoryPolicy", "Guardrails", "Product", "effective_guardrails",
           "validate_guardrails", "validate_product"]

"""One error hierarchy for pricepilot.

Every error names the entity it is about and carries the HTTP status the service maps it to, so
the HTTP layer needs one table (``status_for``) and no business logic.

>>> err = NotFound("product", "SKU-1")
>>> str(err), err.http_status
("product 'SKU-1' not found", 404)
"""

from __future__ import annotations

from typing import Any


class PricepilotError(Exception):
    """Base of every error pricepilot raises on purpose."""

    http_status: int = 500
    code: str = "internal_error"

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self)}


class ConfigError(PricepilotError):
    """A setting is missing, has the wrong type or an invalid value."""

    code = "config_error"

    def __init__(self, setting: str, reason: str) -> None:
        self.setting = setting
        self.reason = reason
        super().__init__(f"setting {setting!r}: {reason}")


class ValidationError(PricepilotError):
    """Input that cannot be accepted: names the entity, the field and the reason.

    ``location`` is free text saying where the input came from (file and line, request body...).
    """

    http_status = 422
    code = "validation_error"

    def __init__(
        self,
        entity: str,
        field: str | None,
        reason: str,
        *,
        location: str | None = None,
    ) -> None:
        self.entity = entity
        self.field = field
        self.reason = reason
        self.location = location
        parts = []
        if location:
            parts.append(location)
        parts.append(entity)
        if field:
            parts.append(f"field {field!r}")
        super().__init__(": ".join([", ".join(parts), reason]))

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(entity=self.entity, field=self.field, reason=self.reason, location=self.location)
        return d


class NotFound(PricepilotError):
    http_status = 404
    code = "not_found"

    def __init__(self, entity: str, key: object) -> None:
        self.entity = entity
        self.key = key
        super().__init__(f"{entity} {key!r} not found")


class Conflict(PricepilotError):
    """The request is valid but clashes with stored state (duplicate id, used-up budget...)."""

    http_status = 409
    code = "conflict"

    def __init__(self, entity: str, key: object, reason: str) -> None:
        self.entity = entity
        self.key = key
        self.reason = reason
        super().__init__(f"{entity} {key!r}: {reason}")


class Unavailable(PricepilotError):
    """A dependency (database, Redis, model) cannot be reached; the caller may retry."""

    http_status = 503
    code = "unavailable"

    def __init__(self, dependency: str, reason: str) -> None:
        self.dependency = dependency
        self.reason = reason
        super().__init__(f"{dependency} unavailable: {reason}")


class DeadlineExceeded(Unavailable):
    """A call to a dependency did not finish in time; its outcome is unknown, the caller retries.

    >>> e = DeadlineExceeded("event write", 2000)
    >>> e.http_status, e.code, str(e)
    (503, 'deadline_exceeded', 'event write did not finish within 2000 ms (the database or Redis is not answering); the outcome is unknown: retry, the call is idempotent')
    """

    code = "deadline_exceeded"

    def __init__(self, operation: str, deadline_ms: int) -> None:
        self.operation = operation
        self.deadline_ms = deadline_ms
        self.dependency = operation
        self.reason = f"did not finish within {deadline_ms} ms"
        PricepilotError.__init__(
            self, f"{operation} did not finish within {deadline_ms} ms (the database or Redis "
                  "is not answering); the outcome is unknown: retry, the call is idempotent")


class Unauthorized(PricepilotError):
    http_status = 401
    code = "unauthorized"


class Forbidden(PricepilotError):
    http_status = 403
    code = "forbidden"


def status_for(exc: BaseException) -> int:
    """The HTTP status an exception maps to (500 for anything not ours)."""
    if isinstance(exc, PricepilotError):
        return exc.http_status
    return 500

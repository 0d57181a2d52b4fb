"""Declared shopper attributes, and the refusal of protected ones.

A shopper's attributes (tier, device, region, channel, ...) may feed prices. Attributes matching a
protected pattern in settings (``compliance.protected_attributes``: gender, age, date of birth,
...) are refused, unless the shop marks them audit-only (``compliance.audit_only``, matched the
same way): then they are stored for fairness audits and never reach a pricing feature.

Names are matched on their normalised *tokens*, not as substrings: a name is lower-cased and split
on non-alphanumerics, camelCase and letter/digit boundaries, and it is protected when a pattern's
tokens occur in it consecutively. So ``attr_gender``, ``Gender``, ``customerGender``,
``date_of_birth``, ``birthDate`` and ``ethnic_origin`` are protected, while ``page``,
``usage``, ``language`` or ``average_order`` do not contain the token ``age``.

>>> a = ShopperAttributes(protected=["gender"], audit_only=["gender"])
>>> a.split({"tier": "gold", "gender": "f"})
({'tier': 'gold'}, {'gender': 'f'})
>>> tokens("customerDateOfBirth2"), tokens("HTTPStatus")
(('customer', 'date', 'of', 'birth', '2'), ('http', 'status'))
>>> m = ProtectedNames(["age", "date of birth"])
>>> m.match("shopper_age"), m.match("DateOfBirth"), m.match("average_order"), m.match("page")
('age', 'date of birth', None, None)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import msgspec

from pricepilot.errors import ValidationError


class Shopper(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    shopper_id: str  # pseudonymous
    tier: str | None = None
    device: str | None = None
    region: str | None = None
    channel: str | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)  # usable in pricing
    audit_attributes: dict[str, str] = msgspec.field(default_factory=dict)  # never in pricing
    personalisation_consent: bool = True


# a word: an upper-case run not followed by lower case (HTTP in HTTPStatus), a capitalised or
# lower-case word, or a number
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def tokens(name: str) -> tuple[str, ...]:
    """``name``'s words, lower-cased: split on non-alphanumerics, camelCase and digits."""
    return tuple(w.lower() for w in _TOKEN.findall(name))


class ProtectedNames:
    """Matches names against patterns (each pattern a name or phrase, normalised to tokens)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: dict[tuple[str, ...], str] = {}
        for p in patterns:
            toks = tokens(p)
            if toks:
                self.patterns.setdefault(toks, " ".join(toks))
        self._cache: dict[str, str | None] = {}

    def match(self, name: str) -> str | None:
        """The first pattern (as its words joined by spaces) ``name`` contains, else None."""
        hit = self._cache.get(name, "")
        if hit != "":
            return hit
        toks = tokens(name)
        found = None
        for pat, label in self.patterns.items():
            n = len(pat)
            if any(toks[i:i + n] == pat for i in range(len(toks) - n + 1)):
                found = label
                break
        if len(self._cache) >= 10_000:
            self._cache.clear()
        self._cache[name] = found
        return found

    def refuse(self, names: Iterable[str], entity: str, where: str = "") -> None:
        """Raise a :class:`ValidationError` naming the first protected name (field ``where`` +
        the name), if any."""
        for name in names:
            hit = self.match(name)
            if hit is not None:
                raise ValidationError(entity, f"{where}{name}", protected_reason(hit))


_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `([^`]*)`$")


def protected_field(path: str, reason: str, names: ProtectedNames) -> tuple[str, str]:
    """A request decoder's "unknown field" refusal at ``path``, said as the refusal of a
    protected attribute (path and reason naming the field) when the field is one."""
    m = _UNKNOWN_FIELD.match(reason)
    hit = names.match(m.group(1)) if m else None
    if m is None or hit is None:
        return path, reason
    return f"{path}.{m.group(1)}", (f"is a protected attribute (matches {hit!r} in "
                                    "compliance.protected_attributes) and is never accepted "
                                    "in a request")


def protected_reason(pattern: str) -> str:
    return (f"is a protected attribute (matches {pattern!r} in compliance.protected_attributes) "
            "and may not be sent or stored; mark it audit-only in compliance.audit_only to keep "
            "it for fairness audits")


class ShopperAttributes:
    def __init__(self, protected: Iterable[str], audit_only: Iterable[str] = ()) -> None:
        self.protected = ProtectedNames(protected)
        self.audit_only = ProtectedNames(audit_only)

    def split(self, attrs: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """Return (pricing attributes, audit-only attributes); refuse protected ones."""
        usable: dict[str, str] = {}
        audit: dict[str, str] = {}
        for k, v in attrs.items():
            hit = self.protected.match(k)
            if hit is not None:
                if self.audit_only.match(k) is None:
                    raise ValidationError("shopper", k, protected_reason(hit))
                audit[k] = v
            else:
                usable[k] = v
        return usable, audit

    def check_feature_names(self, names: Iterable[str]) -> None:
        """Refuse a model feature list that includes a protected attribute."""
        bad = sorted(n for n in names if self.protected.match(n) is not None)
        if bad:
            raise ValidationError("model features", None, f"protected attributes used: {bad}")

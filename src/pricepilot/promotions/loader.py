"""Promotion files (YAML or JSON): a top-level ``promotions:`` list of definitions.

Decimal numbers written without quotes (``amount: 20.00``) are kept as exact text, never as
floats. The whole file is validated before anything uses it.

>>> text = '''
... promotions:
...   - id: HOLIDAY20
...     benefit: {kind: percent_off, percent: 20}
...     conditions: [{kind: holiday}]
... '''
>>> [p.id for p in parse_promotions(text, "yaml")]
['HOLIDAY20']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import yaml

from pricepilot.errors import ValidationError
from pricepilot.promotions.model import Promotion, PromotionFile
from pricepilot.promotions.validation import Catalog, compile_all


class _ExactLoader(yaml.SafeLoader):  # type: ignore[misc]  # yaml is untyped here
    """SafeLoader that keeps YAML floats as their decimal text."""


def _float_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _float_as_text)


def _stringify_numbers(obj: Any, key: str | None = None) -> Any:
    # money and percentages are text; counts stay integers (msgspec converts "3" poorly)
    if isinstance(obj, dict):
        return {k: _stringify_numbers(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_stringify_numbers(v, key) for v in obj]
    if isinstance(obj, int) and not isinstance(obj, bool) and key in _TEXT_FIELDS:
        return str(obj)
    return obj


_TEXT_FIELDS = {"percent", "amount", "price", "spend", "step", "cap", "unit_price", "budget",
                "max_discount_per_application"}


def parse_promotions(
    text: str | bytes, fmt: str = "yaml", *, source: str = "<promotions>", catalog: Catalog | None = None,
    timezone: str = "UTC",
) -> list[Promotion]:
    """Parse and validate a promotions document; raises ValidationError naming the problem."""
    try:
        if fmt == "json":
            raw = msgspec.json.decode(text)
        else:
            raw = yaml.load(text, Loader=_ExactLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, msgspec.DecodeError) as e:
        raise ValidationError("promotion file", None, f"not valid {fmt.upper()}: {e}", location=source) from e
    if isinstance(raw, list):
        raw = {"promotions": raw}
    if not isinstance(raw, dict) or "promotions" not in raw:
        raise ValidationError("promotion file", "promotions", "needs a top-level 'promotions' list", location=source)
    raw = _stringify_numbers(raw)
    try:
        doc = msgspec.convert(raw, PromotionFile, strict=False)
    except msgspec.ValidationError as e:
        raise ValidationError("promotion file", None, str(e), location=source) from e
    try:
        compile_all(doc.promotions, catalog, timezone=timezone)
    except ValidationError as e:
        raise ValidationError(e.entity, e.field, e.reason, location=source) from e
    return doc.promotions


def load_promotions(path: str | Path, *, catalog: Catalog | None = None, timezone: str = "UTC") -> list[Promotion]:
    """Read a ``.yaml``/``.yml``/``.json`` promotions file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ValidationError("promotion file", None, f"cannot read: {e}", location=str(p)) from e
    fmt = "json" if p.suffix.lower() == ".json" else "yaml"
    return parse_promotions(data, fmt, source=str(p), catalog=catalog, timezone=timezone)


def dump_promotions(promotions: list[Promotion]) -> bytes:
    return msgspec.json.encode(PromotionFile(promotions=promotions))

"""OpenAPI 3.1 document and docs page, generated from the operation table and msgspec schemas.

msgspec emits JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect, so the component
schemas are used as they are.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from pricepilot import __version__
from pricepilot import bounds as b
from pricepilot.demand.manifest import VERSION_RE
from pricepilot.serving.schemas import ErrorResponse

if TYPE_CHECKING:
    from pricepilot.service.app import Operation

# What each path parameter may hold: the bound of the field it names (pricepilot.bounds);
# service.app.path_param enforces the same.
PATH_PARAMS: dict[str, b.TextKind] = {
    "order_id": b.ID, "promotion_id": b.ID, "product_id": b.ID, "customer_id": b.ID,
    "category": b.CATEGORY, "version": b.TextKind("model version", 1, 128, VERSION_RE.pattern),
}


def path_param_schema(name: str) -> dict[str, Any]:
    """The JSON Schema of path parameter (or query parameter naming an id) ``name``."""
    kind = PATH_PARAMS[name]
    return {"type": "string", "minLength": kind.min_length, "maxLength": kind.max_length,
            "pattern": kind.pattern}


REF = "#/components/schemas/{name}"
_PARAM = re.compile(r"{([^}]+)}")
_REASONS = {
    400: "Bad request", 401: "No or unknown API key", 403: "The API key lacks the scope",
    404: "Not found", 409: "Conflicts with stored state", 413: "Request body too large",
    415: "The request body is not application/json",
    422: "Invalid input (field-level details)", 500: "Internal error",
    503: ("A dependency is unavailable or did not answer in time (error deadline_exceeded); "
          "retry after Retry-After seconds"),
}


def build_openapi(operations: Sequence[Operation]) -> dict[str, Any]:
    types: list[Any] = [ErrorResponse]
    for op in operations:
        for t in (op.body, op.response):
            if t is not None and t not in types:
                types.append(t)
    refs, components = msgspec.json.schema_components(types, ref_template=REF)
    schema_of = dict(zip([id(t) for t in types], refs))

    def content(t: Any) -> dict[str, Any]:
        return {"application/json": {"schema": schema_of[id(t)]}}

    error = {"content": content(ErrorResponse)}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
        }
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": path_param_schema(name)}
            for name in _PARAM.findall(op.path)
        ]
        params += [
            {"name": q.name, "in": "query", "required": False, "schema": q.schema}
            for q in op.query
        ]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": content(op.body)}
        ok: dict[str, Any] = {"description": "Success"}
        if op.response is not None:
            ok["content"] = content(op.response)
        elif op.status != 204:
            ok["content"] = {op.media_type: {"schema": {"type": "string"}}}
        responses: dict[str, Any] = {str(op.status): ok}
        if op.operation_id == "confirmOrder":
            responses["200"] = {"description": "Replay of an order confirmed before",
                                "content": content(op.response)}
        codes = set(op.errors)
        if op.scope is not None:
            item["security"] = [{"bearer": []}, {"apiKey": []}]
            # Any entity named in a request may be unknown, any write may clash with stored
            # state, and any backend dependency may be down.
            codes |= {401, 403, 404, 409, 422, 500, 503}
            if op.body is not None:
                codes |= {413, 415}
        for code in sorted(codes):
            if code == 503 and op.response is not None and op.operation_id == "readiness":
                responses["503"] = {"description": _REASONS[503], "content": content(op.response)}
            else:
                responses[str(code)] = {"description": _REASONS[code], **error}
        item["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pricepilot",
            "version": __version__,
            "description": "Real-time personalised pricing and promotions. Money is integer "
            "minor units of the named currency.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def render_docs(spec: dict[str, Any]) -> str:
    """A self-contained HTML reference of the operations (no scripts, no network)."""
    e = html.escape
    rows = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            codes = ", ".join(op["responses"])
            auth = "API key" if op.get("security") else "none"
            rows.append(
                f"<tr><td><code>{e(method.upper())}</code></td><td><code>{e(path)}</code></td>"
                f"<td>{e(op['summary'])}</td><td>{e(ref.rsplit('/', 1)[-1])}</td>"
                f"<td>{e(codes)}</td><td>{e(auth)}</td></tr>"
            )
    schemas = []
    for name, sch in spec["components"]["schemas"].items():
        props = sch.get("properties", {})
        req = set(sch.get("required", []))
        fields = "".join(
            f"<li><code>{e(k)}</code>{' (required)' if k in req else ''}: "
            f"<code>{e(msgspec.json.encode(v).decode()[:200])}</code></li>"
            for k, v in props.items()
        )
        schemas.append(f"<h3 id='{e(name)}'>{e(name)}</h3><ul>{fields}</ul>")
    title = e(spec["info"]["title"])
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title} API</title>"
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em}</style>"
        f"</head><body><h1>{title} API {e(spec['info']['version'])}</h1>"
        f"<p>{e(spec['info']['description'])} Machine-readable: "
        "<a href='/openapi.json'>/openapi.json</a>.</p>"
        "<table><tr><th>method</th><th>path</th><th>summary</th><th>body</th>"
        f"<th>responses</th><th>auth</th></tr>{''.join(rows)}</table>"
        f"<h2>Schemas</h2>{''.join(schemas)}</body></html>"
    )

"""The ASGI application: ``create_app(settings, backend)``.

Every route is one row of :data:`OPERATIONS`: method, path, scope, request and response types and
a handler that calls one backend method. One wrapper (``_endpoint``) does what all routes share —
auth, the body size limit, msgspec decoding, the error table, metrics — so the handlers hold no
business logic and the OpenAPI document is generated from the same table.

>>> from pricepilot.config import load_settings
>>> app = create_app(load_settings(path=None, env={}), backend=None)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pricepilot import bounds as b
from pricepilot.catalog.models import Guardrails, Product
from pricepilot.compliance.attributes import ProtectedNames, protected_field
from pricepilot.config import ADMIN, STOREFRONT, Settings
from pricepilot.errors import (
    PricepilotError,
    Unauthorized,
    Unavailable,
    ValidationError,
)
from pricepilot.service.auth import ApiKeyAuth
from pricepilot.service.backend import ServiceBackend
from pricepilot.service.metrics import ServiceMetrics
from pricepilot.service.openapi import PATH_PARAMS, build_openapi, path_param_schema, render_docs
from pricepilot.serving import schemas as s

log = logging.getLogger("pricepilot.service")

_encoder = msgspec.json.Encoder()
_PATH_IN_MSG = re.compile(r"^(.*?) - at `(\$[^`]*)`$", re.S)
MAX_PATH_PARAM = b.ID_MAX
_INTEGRAL_FLOAT = re.compile(r"^Expected `int[^`]*`, got `float`")

class BodyTooLarge(PricepilotError):
    http_status = 413
    code = "body_too_large"


class UnsupportedMediaType(PricepilotError):
    http_status = 415
    code = "unsupported_media_type"


@dataclass
class AppState:
    settings: Settings
    backend: ServiceBackend
    auth: ApiKeyAuth
    metrics: ServiceMetrics
    openapi: bytes = b""
    docs_html: str = ""


Handler = Callable[[AppState, Request, Any], Awaitable[Response]]


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    handler: Handler
    scope: str | None = None
    body: Any = None  # the msgspec type of the request body, if any
    response: Any = None  # the msgspec type of the success body (None: no body)
    status: int = 200
    tag: str = "storefront"
    query: Sequence[QueryParam] = field(default_factory=tuple)
    media_type: str = "application/json"
    errors: Sequence[int] = field(default_factory=tuple)


# ------------------------------------------------------------------------------------- responses


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encoder.encode(obj), status, headers, media_type="application/json")


def error_response(exc: PricepilotError, retry_after: int) -> Response:
    details: list[s.ErrorDetail] = []
    if isinstance(exc, ValidationError):
        path = exc.field if exc.field and exc.field.startswith("$") else (
            f"$.{exc.field}" if exc.field else "$"
        )
        details.append(s.ErrorDetail(path=path, reason=exc.reason))
    body = s.ErrorResponse(error=exc.code, message=str(exc), details=details)
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="pricepilot"'
    if isinstance(exc, Unavailable):
        headers["Retry-After"] = str(retry_after)
    return json_response(body, exc.http_status, headers)


def decode_error(exc: msgspec.MsgspecError,
                 protected: ProtectedNames | None = None) -> s.ErrorResponse:
    """msgspec's message ("Expected `int`, got `str` - at `$.lines[0].quantity`") as a detail;
    an unknown field that is a ``protected`` attribute is refused as such."""
    msg = str(exc)
    m = _PATH_IN_MSG.match(msg)
    path, reason = (m.group(2), m.group(1)) if m else ("$", msg)
    if protected is not None:
        path, reason = protected_field(path, reason, protected)
    if isinstance(exc, msgspec.DecodeError) and not isinstance(exc, msgspec.ValidationError):
        reason = f"malformed JSON: {reason}"
    return s.ErrorResponse(
        error="validation_error",
        message=f"request body, {path}: {reason}",
        details=[s.ErrorDetail(path=path, reason=reason)],
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading (or while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ValidationError("request", "Content-Length", "not an integer") from None
        if size > limit:
            raise BodyTooLarge(f"request body of {size} bytes exceeds the limit of {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def path_param(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    kind = PATH_PARAMS[name]
    if not kind.min_length <= len(value) <= kind.max_length:
        raise ValidationError("request", f"path.{name}",
                              f"must be {kind.min_length}-{kind.max_length} characters")
    problem = kind.problem(value)
    if problem is not None:
        raise ValidationError("request", f"path.{name}", problem)
    return value


def require_json(request: Request) -> None:
    """Refuse a body that is not declared ``application/json`` (415): a ``text/plain`` or form
    body is not parsed as JSON just because it happens to be."""
    declared = request.headers.get("content-type")
    media = (declared or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(
            f"request body must be application/json, got {declared or 'no Content-Type'}")


class _Decoder:
    """The body decoder of one operation. JSON Schema counts ``3.0`` as an integer, msgspec does
    not: a body refused only for an integral float is decoded again with those read as ints."""

    def __init__(self, typ: Any) -> None:
        self.typ = typ
        self.fast = msgspec.json.Decoder(typ)

    def decode(self, raw: bytes) -> Any:
        try:
            return self.fast.decode(raw)
        except msgspec.ValidationError as e:
            if not _INTEGRAL_FLOAT.match(str(e)):
                raise
        return msgspec.convert(_integral_floats(msgspec.json.decode(raw)), self.typ)


def _integral_floats(obj: Any) -> Any:
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)
    if isinstance(obj, list):
        return [_integral_floats(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _integral_floats(v) for k, v in obj.items()}
    return obj


def _endpoint(op: Operation, state: AppState) -> Callable[[Request], Awaitable[Response]]:
    decoder = _Decoder(op.body) if op.body is not None else None
    latency = state.metrics.latency.labels(op.path, op.method)
    counters: dict[int, Any] = {}
    limit = state.settings.service.max_body_bytes
    retry_after = state.settings.service.retry_after_seconds
    protected = ProtectedNames(state.settings.compliance.protected_attributes)

    async def endpoint(request: Request) -> Response:
        start = time.perf_counter()
        try:
            if op.scope is not None:
                h = request.headers
                state.auth.authorize(h.get("authorization"), h.get("x-api-key"), op.scope)
            payload = None
            if decoder is not None:
                require_json(request)
                payload = decoder.decode(await read_body(request, limit))
            response = await op.handler(state, request, payload)
        except msgspec.MsgspecError as e:
            response = json_response(decode_error(e, protected), 422)
        except PricepilotError as e:
            if e.http_status >= 500:
                log.warning("%s %s: %s", op.method, op.path, e)
            response = error_response(e, retry_after)
        except Exception:  # a bug behind the route: answer 500 without leaking internals
            log.exception("unhandled error in %s %s", op.method, op.path)
            response = json_response(
                s.ErrorResponse(error="internal_error", message="internal error"), 500
            )
        latency.observe(time.perf_counter() - start)
        code = response.status_code
        counter = counters.get(code)
        if counter is None:
            counter = counters[code] = state.metrics.requests.labels(op.path, op.method, str(code))
        counter.inc()
        return response

    endpoint.__name__ = op.operation_id
    return endpoint


# -------------------------------------------------------------------------------------- handlers


async def h_events(st: AppState, _: Request, body: Any) -> Response:
    events = body if isinstance(body, list) else [body]
    result = await st.backend.ingest_events(events)
    st.metrics.events.labels("accepted").inc(result.accepted)
    st.metrics.events.labels("duplicate").inc(result.duplicates)
    return json_response(result, 202)


async def h_quotes(st: AppState, _: Request, req: s.QuoteRequest) -> Response:
    try:
        result = await st.backend.quote(req)
    except Unavailable as e:
        st.metrics.fallbacks.labels(e.dependency).inc()
        log.warning("quote falling back to guarded list prices: %s", e)
        result = await st.backend.fallback_quote(req)
    except PricepilotError as e:
        if e.http_status < 500:
            raise  # the client's error (422, 404...): no fallback hides it
        log.exception("quote engine failed; falling back to guarded list prices")
        st.metrics.fallbacks.labels(e.code).inc()
        result = await st.backend.fallback_quote(req)
    except Exception:
        # An engine bug must not cost the shop a sale: serve guarded list prices, loudly.
        log.exception("quote engine failed; falling back to guarded list prices")
        st.metrics.fallbacks.labels("engine_error").inc()
        result = await st.backend.fallback_quote(req)
    st.metrics.decisions.labels("true" if result.fallback else "false").inc(len(result.quotes))
    return json_response(result)


async def h_cart(st: AppState, _: Request, req: s.CartRequest) -> Response:
    return json_response(await st.backend.price_cart(req))


async def h_order(st: AppState, _: Request, req: s.OrderRequest) -> Response:
    result = await st.backend.confirm_order(req)
    if not result.replayed:
        st.metrics.redemptions.inc(len(result.redemptions))
    return json_response(result, 200 if result.replayed else 201)


async def h_cancel(st: AppState, r: Request, _: Any) -> Response:
    return json_response(await st.backend.cancel_order(path_param(r, "order_id")))


async def h_promo_list(st: AppState, _: Request, __: Any) -> Response:
    return json_response(await st.backend.list_promotions())


async def h_promo_create(st: AppState, _: Request, spec: s.PromotionSpec) -> Response:
    return json_response(await st.backend.create_promotion(spec), 201)


async def h_promo_get(st: AppState, r: Request, _: Any) -> Response:
    return json_response(await st.backend.get_promotion(path_param(r, "promotion_id")))


async def h_promo_update(st: AppState, r: Request, spec: s.PromotionSpec) -> Response:
    pid = path_param(r, "promotion_id")
    return json_response(await st.backend.update_promotion(pid, spec))


async def h_promo_delete(st: AppState, r: Request, _: Any) -> Response:
    await st.backend.delete_promotion(path_param(r, "promotion_id"))
    return Response(status_code=204)


async def h_promo_pause(st: AppState, r: Request, _: Any) -> Response:
    pid = path_param(r, "promotion_id")
    return json_response(await st.backend.set_promotion_paused(pid, True))


async def h_promo_resume(st: AppState, r: Request, _: Any) -> Response:
    pid = path_param(r, "promotion_id")
    return json_response(await st.backend.set_promotion_paused(pid, False))


async def h_promo_preview(st: AppState, _: Request, req: s.PromotionPreviewRequest) -> Response:
    return json_response(await st.backend.preview_promotion(req))


class _ProductQuery(msgspec.Struct, forbid_unknown_fields=True):
    limit: s.ListLimit = 100
    after: s.Id | None = None


def _query(r: Request, typ: type[Any]) -> Any:
    try:
        return msgspec.convert(dict(r.query_params), typ, strict=False)
    except msgspec.ValidationError as e:
        err = decode_error(e)
        d = err.details[0]
        raise ValidationError("request", d.path.replace("$.", "query.", 1), d.reason) from e


async def h_product_list(st: AppState, r: Request, _: Any) -> Response:
    q = _query(r, _ProductQuery)
    return json_response(await st.backend.list_products(q.limit, q.after))


async def h_product_get(st: AppState, r: Request, _: Any) -> Response:
    return json_response(await st.backend.get_product(path_param(r, "product_id")))


async def h_product_put(st: AppState, r: Request, product: Product) -> Response:
    pid = path_param(r, "product_id")
    if product.product_id != pid:
        raise ValidationError(
            "product", "product_id", f"body has {product.product_id!r} but the path has {pid!r}"
        )
    return json_response(await st.backend.upsert_product(product))


async def h_guard_list(st: AppState, _: Request, __: Any) -> Response:
    return json_response(s.CategoryPolicyList(policies=await st.backend.list_guardrails()))


async def h_guard_get(st: AppState, r: Request, _: Any) -> Response:
    return json_response(await st.backend.get_guardrails(path_param(r, "category")))


async def h_guard_put(st: AppState, r: Request, g: Guardrails) -> Response:
    return json_response(await st.backend.set_guardrails(path_param(r, "category"), g))


async def h_models(st: AppState, _: Request, __: Any) -> Response:
    return json_response(await st.backend.list_models())


async def h_model_promote(st: AppState, r: Request, _: Any) -> Response:
    return json_response(await st.backend.promote_model(path_param(r, "version")))


async def h_model_rollback(st: AppState, _: Request, __: Any) -> Response:
    return json_response(await st.backend.rollback_model())


async def h_erase(st: AppState, r: Request, _: Any) -> Response:
    return json_response(await st.backend.erase_shopper(path_param(r, "customer_id")))


async def h_consent(st: AppState, r: Request, req: s.ConsentRequest) -> Response:
    cid = path_param(r, "customer_id")
    return json_response(await st.backend.set_consent(cid, req.personalisation))


async def h_healthz(_: AppState, __: Request, ___: Any) -> Response:
    return json_response(s.Health())


async def h_readyz(st: AppState, _: Request, __: Any) -> Response:
    try:
        result = await st.backend.ready()
    except Exception as e:  # ready() must not raise; if it does, the answer is "not ready"
        log.exception("backend.ready() raised")
        result = s.Readiness(
            ready=False, dependencies={"backend": s.DependencyStatus(ok=False, detail=str(e))}
        )
    return json_response(result, 200 if result.ready else 503)


async def h_metrics(st: AppState, _: Request, __: Any) -> Response:
    return Response(generate_latest(st.metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def h_openapi(st: AppState, _: Request, __: Any) -> Response:
    return Response(st.openapi, media_type="application/json")


async def h_docs(st: AppState, _: Request, __: Any) -> Response:
    return HTMLResponse(st.docs_html)


_SF, _AD = STOREFRONT, ADMIN
_OPS = "operations"

OPERATIONS: tuple[Operation, ...] = (
    Operation("POST", "/v1/events", "ingestEvents", "Ingest one event or a batch of up to 1,000",
              h_events, _SF, s.EventsBody, s.IngestResult, 202, errors=(503,)),
    Operation("POST", "/v1/quotes", "createQuotes", "Personalised, signed prices for 1-100 products",
              h_quotes, _SF, s.QuoteRequest, s.QuoteResponse),
    Operation("POST", "/v1/carts/price", "priceCart", "Price a cart with promotions and quotes",
              h_cart, _SF, s.CartRequest, s.PricedCart),
    Operation("POST", "/v1/orders", "confirmOrder",
              "Confirm an order and redeem its promotions (idempotent by order_id)",
              h_order, _SF, s.OrderRequest, s.OrderConfirmation, 201, errors=(409,)),
    Operation("POST", "/v1/orders/{order_id}/cancel", "cancelOrder",
              "Cancel an order, releasing its redemptions", h_cancel, _SF, None,
              s.OrderConfirmation, errors=(404,)),
    Operation("GET", "/v1/admin/promotions", "listPromotions", "List promotions",
              h_promo_list, _AD, None, s.PromotionList, tag="promotions"),
    Operation("POST", "/v1/admin/promotions", "createPromotion", "Define a promotion",
              h_promo_create, _AD, s.PromotionSpec, s.Promotion, 201, tag="promotions"),
    Operation("POST", "/v1/admin/promotions/preview", "previewPromotion",
              "Price a sample cart with a draft promotion (nothing is stored)",
              h_promo_preview, _AD, s.PromotionPreviewRequest, s.PricedCart, tag="promotions"),
    Operation("GET", "/v1/admin/promotions/{promotion_id}", "getPromotion", "Read a promotion",
              h_promo_get, _AD, None, s.Promotion, tag="promotions", errors=(404,)),
    Operation("PUT", "/v1/admin/promotions/{promotion_id}", "updatePromotion",
              "Replace a promotion's definition", h_promo_update, _AD, s.PromotionSpec,
              s.Promotion, tag="promotions", errors=(404,)),
    Operation("DELETE", "/v1/admin/promotions/{promotion_id}", "deletePromotion",
              "Delete a promotion", h_promo_delete, _AD, None, None, 204, tag="promotions",
              errors=(404,)),
    Operation("POST", "/v1/admin/promotions/{promotion_id}/pause", "pausePromotion",
              "Pause a promotion", h_promo_pause, _AD, None, s.Promotion, tag="promotions",
              errors=(404,)),
    Operation("POST", "/v1/admin/promotions/{promotion_id}/resume", "resumePromotion",
              "Resume a paused promotion", h_promo_resume, _AD, None, s.Promotion,
              tag="promotions", errors=(404,)),
    Operation("GET", "/v1/admin/products", "listProducts", "List products by id, paged",
              h_product_list, _AD, None, s.ProductPage, tag="catalogue",
              query=(QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                     QueryParam("after", path_param_schema("product_id")))),
    Operation("GET", "/v1/admin/products/{product_id}", "getProduct", "Read a product",
              h_product_get, _AD, None, Product, tag="catalogue", errors=(404,)),
    Operation("PUT", "/v1/admin/products/{product_id}", "upsertProduct",
              "Create or replace a product", h_product_put, _AD, Product, Product,
              tag="catalogue"),
    Operation("GET", "/v1/admin/guardrails", "listGuardrails", "List category guardrails",
              h_guard_list, _AD, None, s.CategoryPolicyList, tag="catalogue"),
    Operation("GET", "/v1/admin/guardrails/{category}", "getGuardrails",
              "Read a category's guardrails", h_guard_get, _AD, None, s.CategoryPolicy,
              tag="catalogue", errors=(404,)),
    Operation("PUT", "/v1/admin/guardrails/{category}", "setGuardrails",
              "Set a category's guardrails", h_guard_put, _AD, Guardrails, s.CategoryPolicy,
              tag="catalogue"),
    Operation("GET", "/v1/admin/models", "listModels", "List registered demand models",
              h_models, _AD, None, s.ModelList, tag="models"),
    Operation("POST", "/v1/admin/models/rollback", "rollbackModel",
              "Re-activate the previously active model", h_model_rollback, _AD, None,
              s.ModelInfo, tag="models", errors=(409,)),
    Operation("POST", "/v1/admin/models/{version}/promote", "promoteModel",
              "Make a model version active", h_model_promote, _AD, None, s.ModelInfo,
              tag="models", errors=(404,)),
    Operation("DELETE", "/v1/shoppers/{customer_id}", "eraseShopper",
              "Erase everything held about a shopper", h_erase, _AD, None, s.ErasureResult,
              tag="shoppers"),
    Operation("PUT", "/v1/shoppers/{customer_id}/consent", "setConsent",
              "Record a shopper's consent to personalised prices", h_consent, _AD,
              s.ConsentRequest, s.Consent, tag="shoppers"),
    Operation("GET", "/healthz", "health", "Liveness: the process answers", h_healthz,
              response=s.Health, tag=_OPS),
    Operation("GET", "/readyz", "readiness", "Readiness of each dependency (503 if one is down)",
              h_readyz, response=s.Readiness, tag=_OPS, errors=(503,)),
    Operation("GET", "/metrics", "metrics", "Prometheus metrics", h_metrics, tag=_OPS,
              media_type="text/plain"),
    Operation("GET", "/openapi.json", "openapi", "This API's OpenAPI 3.1 document", h_openapi,
              tag=_OPS),
    Operation("GET", "/docs", "docs", "Human-readable API reference", h_docs, tag=_OPS,
              media_type="text/html"),
)


def _dispatch(
    endpoints: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    if len(endpoints) == 1:
        return next(iter(endpoints.values()))

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return dispatch


def create_app(
    settings: Settings,
    backend: ServiceBackend,
    *,
    operations: Sequence[Operation] = OPERATIONS,
) -> Starlette:
    """The Starlette app serving ``backend`` under the routes of ``operations``.

    Each app has its own metrics registry (``app.state.pricepilot.metrics``). If the backend has
    an ``aclose()`` coroutine it is awaited at shutdown.
    """
    state = AppState(
        settings=settings,
        backend=backend,
        auth=ApiKeyAuth(settings.service.api_keys, live=getattr(backend, "api_keys", None)),
        metrics=ServiceMetrics(),
    )
    if not state.auth.any_keys():
        log.warning("no API keys configured: every /v1 route answers 401 (see `pricepilot keys`)")
    spec = build_openapi(operations)
    state.openapi = msgspec.json.encode(spec)
    state.docs_html = render_docs(spec)
    # One Route per path, so a 405 lists every method the path supports in its Allow header.
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = _endpoint(op, state)
    routes = [Route(path, _dispatch(methods), methods=list(methods)) for path, methods in
              by_path.items()]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> Any:
        yield
        aclose = getattr(backend, "aclose", None)
        if aclose is not None:
            await aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.pricepilot = state
    return app

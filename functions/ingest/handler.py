"""POST /v1/shops/{shop_id}/events: signed shop events onto the bus (docs/http-api.md)."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths

from comeback.app.ingest import Answer
from comeback.app.observability import logger, metrics, tracer
from comeback.app.runtime import current
from comeback.domain.events import BatchAnswer, EventBatch

app = APIGatewayHttpResolver(enable_validation=True)


def _error(description: str) -> OpenAPIResponse:
    """A documented answer whose body is `{"error": "..."}`."""
    schema = {"type": "object", "properties": {"error": {"type": "string"}}}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _raw_body() -> bytes:
    """The exact bytes the shop signed (API Gateway base64-encodes bodies it deems binary)."""
    event = app.current_event
    body = event.body or ""
    return base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")


def _respond(answer: Answer) -> Response[Any]:
    return Response(
        answer.status,
        content_types.APPLICATION_JSON,
        json.dumps(answer.body, ensure_ascii=False),
        headers=answer.headers or None,
    )


@app.post(
    "/v1/shops/<shop_id>/events",
    summary="Send a batch of customer events",
    description="1-100 events, at most 256 KB, signed per the Standard Webhooks specification.",
    enable_validation=False,  # the signature is checked on the raw bytes before anything is parsed
    responses={
        202: {
            "description": "At least one event accepted",
            "content": {"application/json": {"model": BatchAnswer}},
        },
        400: _error("Not a shop id (lower-case letters, digits, dashes), not JSON, or no events list"),
        401: _error("Missing or invalid signature, stale timestamp or unknown shop"),
        413: _error("Body over 256 KB"),
        422: {"description": "Every event invalid", "content": {"application/json": {"model": BatchAnswer}}},
        503: _error("The bus refused part of the batch, or the secret store is unavailable (Retry-After)"),
    },
)
def post_events(shop_id: str, batch: Annotated[EventBatch | None, Body()] = None) -> Response[Any]:
    del batch  # documented for OpenAPI; the service validates each event itself
    return _respond(current().ingest.receive(shop_id, app.current_event.headers, _raw_body()))


PLATFORM_RESPONSES: dict[int, OpenAPIResponse] = {
    200: _error("Nothing in this delivery for us (ignored topic, anonymous browsing)"),
    202: {
        "description": "At least one event accepted",
        "content": {"application/json": {"model": BatchAnswer}},
    },
    400: _error("Not a shop id (lower-case letters, digits, dashes), or not JSON"),
    401: _error("Missing or invalid platform signature, unknown shop, or no secret set for this platform"),
    413: _error("Body over 256 KB"),
    422: {
        "description": "Nothing usable in the delivery",
        "content": {"application/json": {"model": BatchAnswer}},
    },
    503: _error("The bus refused part of the batch, or the secret store is unavailable: platforms retry"),
}


def _platform(shop_id: str, platform: str) -> Response[Any]:
    return _respond(
        current().ingest.receive_platform(shop_id, platform, app.current_event.headers, _raw_body())
    )


@app.post("/v1/shops/<shop_id>/webhooks/shopify", summary="Shopify webhooks (X-Shopify-Hmac-Sha256)",
          responses=PLATFORM_RESPONSES)  # fmt: skip
def shopify(shop_id: str) -> Response[Any]:
    return _platform(shop_id, "shopify")


@app.post("/v1/shops/<shop_id>/webhooks/woocommerce", summary="WooCommerce webhooks (X-WC-Webhook-Signature)",
          responses=PLATFORM_RESPONSES)  # fmt: skip
def woocommerce(shop_id: str) -> Response[Any]:
    return _platform(shop_id, "woocommerce")


@app.post("/v1/shops/<shop_id>/segment", summary="Segment-spec identify and track calls (X-Signature)",
          responses=PLATFORM_RESPONSES)  # fmt: skip
def segment(shop_id: str) -> Response[Any]:
    return _platform(shop_id, "segment")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

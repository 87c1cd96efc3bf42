"""GET/POST /v1/unsubscribe/{token}: the preference page and RFC 8058 one-click unsubscribe.

GET/POST /v1/feedback/{token}?reason=...: a win-back email's one-click "why did you leave" answer.

GET /v1/score/{token}: an NPS email's one-click score; POST: the thank-you page's comment.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths

from comeback.app.observability import logger, metrics, tracer
from comeback.app.runtime import current
from comeback.messaging.preferences import Page

app = APIGatewayHttpResolver(enable_validation=True)

# The page must not be framed, cached by a proxy or leak its token through the Referer header.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}


def _page(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# The invalid-token page is a 404, in the reader's language: the token is not ours, was tampered
# with, or its contact has been erased (a link in an old email must not say which).
INVALID_TOKEN = _page("Unknown or tampered token, or the contact was erased: the invalid-link page")


def _html(page: Page) -> Response[str]:
    return Response(page.status, content_types.TEXT_HTML + "; charset=utf-8", page.html, headers=PAGE_HEADERS)


def _body() -> str:
    event = app.current_event
    raw = event.body or ""
    return base64.b64decode(raw).decode("utf-8", "replace") if event.is_base64_encoded else raw


@app.get(
    "/v1/unsubscribe/<token>",
    summary="Preference centre",
    responses={200: _page("The preference page"), 404: INVALID_TOKEN},
)
def show(token: str) -> Response[str]:
    event = app.current_event
    return _html(
        current().preferences.show(
            token, event.headers.get("accept-language"), lang=event.get_query_string_value("lang")
        )
    )


@app.post(
    "/v1/unsubscribe/<token>",
    summary="One-click unsubscribe (RFC 8058) or save preferences",
    description=(
        "`List-Unsubscribe=One-Click` unsubscribes at once and answers 200, without a redirect; the "
        "page's own form saves topics. Anything else answers 400 and changes nothing."
    ),
    responses={
        200: _page("Unsubscribed, or the preferences saved: the preference page again"),
        400: _page("Neither an RFC 8058 one-click body nor the page's form: nothing changed"),
        404: INVALID_TOKEN,
    },
)
def submit(token: str) -> Response[str]:
    headers = app.current_event.headers
    return _html(
        current().preferences.submit(
            token,
            _body(),
            headers.get("accept-language"),
            headers.get("content-type"),
            lang=app.current_event.get_query_string_value("lang"),
        )
    )


REASON_ANSWER = {
    200: _page("Thank you: the answer is recorded (once per email; a repeat changes nothing)"),
    400: _page("A reason we do not know: nothing recorded"),
    404: INVALID_TOKEN,
    503: _page("The answer could not be recorded now: try the link again"),
}


def _reason_answer(token: str, reason: str | None) -> Response[str]:
    event = app.current_event
    return _html(
        current().reasons.answer(
            token,
            reason,
            event.headers.get("accept-language"),
            lang=event.get_query_string_value("lang"),
        )
    )


@app.get(
    "/v1/feedback/<token>",
    summary="One-click reason answer",
    description=(
        "Records why the customer stopped buying (`reason`: price, experience, product, forgot, "
        "other) as a `feedback.submitted` event, once per email, and answers a thank-you page."
    ),
    responses=REASON_ANSWER,
)
def reason_get(
    token: str,
    reason: Annotated[str | None, Query(description="price, experience, product, forgot or other")] = None,
) -> Response[str]:
    return _reason_answer(token, reason)


@app.post(
    "/v1/feedback/<token>",
    summary="One-click reason answer (POST)",
    description="As the GET: the body is ignored, the reason is the query's.",
    responses=REASON_ANSWER,
)
def reason_post(
    token: str,
    reason: Annotated[str | None, Query(description="price, experience, product, forgot or other")] = None,
) -> Response[str]:
    return _reason_answer(token, reason)


SCORE_ANSWER = {
    200: _page("Thank you: the score (GET) or the comment (POST) is recorded, once per email"),
    400: _page("A POST without a comment: nothing recorded"),
    404: INVALID_TOKEN,
    503: _page("The answer could not be recorded now: try the link again"),
}


@app.get(
    "/v1/score/<token>",
    summary="One-click NPS score",
    description=(
        "Records the score the link signs (0-10) as a `feedback.submitted` event (survey `nps`), once "
        "per email (the first click counts), and answers a thank-you page with a comment form."
    ),
    responses=SCORE_ANSWER,
)
def score_get(token: str) -> Response[str]:
    event = app.current_event
    return _html(
        current().scores.answer(
            token, event.headers.get("accept-language"), lang=event.get_query_string_value("lang")
        )
    )


@app.post(
    "/v1/score/<token>",
    summary="NPS comment",
    description="The thank-you page's form (`comment=...`): the comment joins the email's answer, once.",
    responses=SCORE_ANSWER,
)
def score_post(token: str) -> Response[str]:
    event = app.current_event
    return _html(
        current().scores.answer(
            token,
            event.headers.get("accept-language"),
            lang=event.get_query_string_value("lang"),
            body=_body(),
            content_type=event.headers.get("content-type"),
        )
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

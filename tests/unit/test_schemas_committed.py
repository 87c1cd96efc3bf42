"""The JSON Schemas and the OpenAPI document in events/ are what the models generate today."""

from __future__ import annotations

from pathlib import Path

from comeback.cli.schemas import rendered

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_committed_schemas_and_openapi_match_the_models() -> None:
    stale = [
        str(path.relative_to(EVENTS))
        for path, text in rendered(EVENTS).items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert not stale, f"run `make schemas` and commit: {stale}"


def test_the_openapi_document_names_every_public_route() -> None:
    text = (EVENTS / "openapi.json").read_text(encoding="utf-8")
    for route in ("/v1/shops/{shop_id}/events", "/v1/unsubscribe/{token}", "/webhooks/shopify", "/segment"):
        assert route in text, route

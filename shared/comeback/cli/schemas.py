"""JSON Schemas of our own events and the OpenAPI document, generated from the models.

`comeback schemas write` (or `make schemas`) regenerates `events/schemas/*.json` and
`events/openapi.json`; a test fails when the committed files differ from what the models say.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from comeback.domain.events import EVENT_MODELS, BatchAnswer, EventBatch, EventEnvelope
from comeback.domain.messages import MessageRequest
from comeback.domain.notices import NOTICE_MODELS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: Any, title: str, description: str) -> dict[str, Any]:
    schema = TypeAdapter(model).json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": f"comeback/{title}", **schema, "description": description}


def event_schemas() -> dict[str, dict[str, Any]]:
    schemas = {
        f"{name}.json": _schema(model, name, f"The `{name}` shop event (docs/events.md).")
        for name, model in EVENT_MODELS.items()
    }
    schemas.update(
        {
            f"{name}.json": _schema(
                model, name, f"The `detail` of the engine's `{name}` bus event (docs/events.md)."
            )
            for name, model in NOTICE_MODELS.items()
        }
    )
    schemas["batch.json"] = _schema(EventBatch, "batch", "Body of POST /v1/shops/{shop_id}/events.")
    schemas["batch-answer.json"] = _schema(BatchAnswer, "batch-answer", "Body of the 202 and 422 answers.")
    schemas["bus-envelope.json"] = _schema(
        EventEnvelope, "bus-envelope", "The `detail` of every event the ingest function puts on the bus."
    )
    schemas["message-request.json"] = _schema(
        MessageRequest, "message-request", "A message request on the outbox queue, read by the sender."
    )
    return schemas


def openapi() -> dict[str, Any]:
    """One document for every HTTP route: the resolvers of the ingest and preferences functions."""
    from comeback.app.topology import TOPOLOGY
    from comeback.local.lambdas import load_handler

    document: dict[str, Any] = {}
    for name in sorted({route.function for route in TOPOLOGY.routes}):
        module = load_handler(TOPOLOGY.function(name))
        part = json.loads(
            module.app.get_openapi_json_schema(
                title="comeback",
                version="1",
                description="Shop events in; unsubscribe and preferences out. See docs/http-api.md.",
            )
        )
        if not document:
            document = part
            continue
        document["paths"].update(part.get("paths", {}))
        document.setdefault("components", {}).setdefault("schemas", {}).update(
            part.get("components", {}).get("schemas", {})
        )
    return document


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def rendered(out: Path) -> dict[Path, str]:
    files = {out / "schemas" / name: _dump(schema) for name, schema in event_schemas().items()}
    files[out / "openapi.json"] = _dump(openapi())
    return files


def write_all(out: Path) -> list[Path]:
    written = []
    for path, text in rendered(out).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
